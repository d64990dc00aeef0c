// Test helper: dlopen a built plugin .so and fetch its descriptor through
// `mpio_plugin_entry`, the way the engine's loader does. Owns the handle
// (dlclose in the destructor). Tests only.
#ifndef MPIO_PLUGINS_SATP_COMMON_LOADED_PLUGIN_H_
#define MPIO_PLUGINS_SATP_COMMON_LOADED_PLUGIN_H_

#include <dlfcn.h>

#include <string>

#include "engine/include/mpio/plugin.h"

namespace mpio_satp {

class LoadedPlugin {
 public:
  explicit LoadedPlugin(const std::string& path) {
    handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) {
      error_ = dlerror();
      return;
    }
    auto entry = reinterpret_cast<mpio_plugin_entry_fn>(
        dlsym(handle_, MPIO_PLUGIN_ENTRY_SYMBOL));
    if (entry == nullptr) {
      error_ = "no " MPIO_PLUGIN_ENTRY_SYMBOL " in " + path;
      return;
    }
    plugin_ = entry();
  }
  ~LoadedPlugin() {
    if (handle_ != nullptr) dlclose(handle_);
  }
  LoadedPlugin(const LoadedPlugin&) = delete;
  LoadedPlugin& operator=(const LoadedPlugin&) = delete;

  const mpio_plugin* get() const { return plugin_; }
  const mpio_plugin* operator->() const { return plugin_; }
  void* handle() const { return handle_; }
  const std::string& error() const { return error_; }

 private:
  void* handle_ = nullptr;
  const mpio_plugin* plugin_ = nullptr;
  std::string error_;
};

}  // namespace mpio_satp

#endif  // MPIO_PLUGINS_SATP_COMMON_LOADED_PLUGIN_H_
