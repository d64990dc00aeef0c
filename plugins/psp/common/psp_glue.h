// The C ABI side of a C++ PSP: turns a class into a `struct mpio_plugin`.
//
// A PSP class T provides:
//   static std::unique_ptr<T> Create(const char* options, char* err,
//                                    size_t cap);   // nullptr + err on error
//   std::string Describe() const;
//   int64_t Select(const mpio_psp_path* paths, size_t n,
//                  const mpio_io_info& io);          // must not allocate
//   void OnComplete(uint32_t path_index, uint64_t bytes, uint64_t latency_ns,
//                   int result, uint64_t now_ns);
//   void PathsChanged(const mpio_psp_path* paths, size_t n, uint64_t now_ns);
//
// PspDescriptor<T>() fills the descriptor with trampolines that keep the ABI
// rules in one place: no exception leaves a callback (create and describe
// catch and report; select and on_complete are noexcept and do no throwing
// work), NULL instance or path pointers are tolerated, and text always ends
// in NUL. The descriptor is a function-local `static const`, so plugins keep
// no global mutable state. Thread rules are those of plugin.h: one reactor
// thread per instance. A failed create leaves nothing allocated.
#ifndef MPIO_PLUGINS_PSP_COMMON_PSP_GLUE_H_
#define MPIO_PLUGINS_PSP_COMMON_PSP_GLUE_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>

#include "mpio/plugin.h"
#include "plugins/psp/common/psp_options.h"

namespace mpio_psp {

template <class T>
struct PspTrampolines {
  static void* Create(const char* options, char* err, size_t cap) noexcept {
    if (err != nullptr && cap > 0) err[0] = '\0';
    try {
      std::unique_ptr<T> instance = T::Create(options, err, cap);
      return instance.release();
    } catch (const std::exception& e) {
      if (err != nullptr && cap > 0) {
        std::snprintf(err, cap, "cannot create instance: %s", e.what());
      }
    } catch (...) {
      if (err != nullptr && cap > 0) {
        std::snprintf(err, cap, "cannot create instance");
      }
    }
    return nullptr;
  }

  static void Destroy(void* instance) noexcept {
    delete static_cast<T*>(instance);
  }

  static size_t Describe(void* instance, char* buf, size_t cap) noexcept {
    if (instance == nullptr) return WriteText("{}", buf, cap);
    try {
      return WriteText(static_cast<T*>(instance)->Describe(), buf, cap);
    } catch (...) {
      // Only std::bad_alloc can get here; say so without allocating.
      if (buf != nullptr && cap > 0) std::snprintf(buf, cap, "{out of memory}");
      return 15;
    }
  }

  static int64_t Select(void* instance, const mpio_psp_path* paths, size_t n,
                        const mpio_io_info* io) noexcept {
    if (instance == nullptr || paths == nullptr || n == 0) return -1;
    mpio_io_info none = {};
    return static_cast<T*>(instance)->Select(paths, n,
                                             io != nullptr ? *io : none);
  }

  static void OnComplete(void* instance, uint32_t path_index, uint64_t bytes,
                         uint64_t latency_ns, int result,
                         uint64_t now_ns) noexcept {
    if (instance == nullptr) return;
    static_cast<T*>(instance)->OnComplete(path_index, bytes, latency_ns, result,
                                          now_ns);
  }

  static void PathsChanged(void* instance, const mpio_psp_path* paths, size_t n,
                           uint64_t now_ns) noexcept {
    if (instance == nullptr) return;
    if (paths == nullptr) n = 0;
    try {
      static_cast<T*>(instance)->PathsChanged(paths, n, now_ns);
    } catch (...) {
      // Nothing a PSP does here is allowed to fail the engine; a PSP that
      // allocates here keeps its previous view on failure.
    }
  }
};

template <class T>
constexpr mpio_plugin PspDescriptor(const char* name,
                                    const char* const* aliases,
                                    const char* summary,
                                    const char* options_help) {
  mpio_plugin p = {};
  p.abi_version = MPIO_PLUGIN_ABI_VERSION;
  p.struct_size = sizeof(mpio_plugin);
  p.kind = MPIO_PLUGIN_PSP;
  p.name = name;
  p.aliases = aliases;
  p.summary = summary;
  p.options_help = options_help;
  p.create = &PspTrampolines<T>::Create;
  p.destroy = &PspTrampolines<T>::Destroy;
  p.describe = &PspTrampolines<T>::Describe;
  p.select = &PspTrampolines<T>::Select;
  p.on_complete = &PspTrampolines<T>::OnComplete;
  p.paths_changed = &PspTrampolines<T>::PathsChanged;
  return p;
}

// For PSPs without options: accepts NULL, "" and separators/blanks only.
// Anything else fails with a reason that says there are no valid keys.
inline bool ParseNoOptions(const char* plugin, const char* options, char* err,
                           size_t cap) {
  if (options == nullptr) return true;
  for (const char* c = options; *c != '\0'; ++c) {
    if (*c != ' ' && *c != '\t' && *c != ';' && *c != ',') {
      if (err != nullptr && cap > 0) {
        std::snprintf(err, cap,
                      "psp %s takes no options, got '%.64s'; valid keys: "
                      "(none)",
                      plugin, options);
      }
      return false;
    }
  }
  return true;
}

}  // namespace mpio_psp

#endif  // MPIO_PLUGINS_PSP_COMMON_PSP_GLUE_H_
