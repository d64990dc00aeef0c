// PluginRegistry: loads SATP and PSP shared objects and hands out
// per-device instances.
//
// Load() scans directories for *.so, dlopen()s each, looks up the one entry
// symbol and validates the descriptor (ABI version, kind, name, struct size,
// required callbacks). A bad file is refused with a message naming the file
// and the reason, and the scan goes on: the engine keeps the plugins that
// loaded.
//
// Plugins run in-process (trusted code, like kernel path selectors or ESXi's
// NMP plugins): a crash in a callback takes the engine with it. To catch the
// commonest case before any device depends on the plugin, a file that passes
// the checks is trial-run first: a forked child calls create("") and
// destroy() and _exit(0)s. A child killed by a signal, exiting non-zero or
// still running after trial_timeout() (then SIGKILLed) gets the plugin
// refused, with the signal named. create() refusing the empty options is
// not a failure (some plugins need options). The child touches nothing of
// the parent (copy-on-write), dumps no core, and is always reaped.
//
// Threads: Load() before use, from one thread; Find()/Create() from any
// thread afterwards (read-only). Instances belong to one device's reactor.
#ifndef MPIO_ENGINE_CLAIM_PLUGIN_REGISTRY_H_
#define MPIO_ENGINE_CLAIM_PLUGIN_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mpio/plugin.h"

namespace mpio {

struct LoadedPlugin {
  std::string path;   // the .so file
  mpio_plugin ops{};  // host-sized copy (zero-filled past struct_size)
  std::vector<std::string> aliases;
  void* handle = nullptr;
};

// One plugin instance for one device; destroys it on destruction.
class PluginInstance {
 public:
  PluginInstance(const LoadedPlugin* plugin, void* instance,
                 std::string options)
      : plugin_(plugin), instance_(instance), options_(std::move(options)) {}
  ~PluginInstance() {
    if (instance_ && plugin_->ops.destroy) plugin_->ops.destroy(instance_);
  }
  PluginInstance(const PluginInstance&) = delete;
  PluginInstance& operator=(const PluginInstance&) = delete;

  const mpio_plugin& ops() const { return plugin_->ops; }
  void* get() const { return instance_; }
  std::string name() const { return plugin_->ops.name; }
  const std::string& options() const { return options_; }
  std::string Describe() const;
  const LoadedPlugin* plugin() const { return plugin_; }

 private:
  const LoadedPlugin* plugin_;
  void* instance_;
  std::string options_;
};

class PluginRegistry {
 public:
  PluginRegistry() = default;
  ~PluginRegistry();

  // Loads every *.so in `dir`. Returns one error string per refused file.
  std::vector<std::string> LoadDirectory(const std::string& dir);
  // Loads one file; an error names the file and says why.
  absl::Status LoadFile(const std::string& path);

  // By name or alias, case-insensitive (VMW_PSP_RR finds rr).
  const LoadedPlugin* Find(mpio_plugin_kind kind,
                           const std::string& name) const;
  // create(options) with the plugin's own error text on refusal.
  absl::StatusOr<std::unique_ptr<PluginInstance>> Create(
      mpio_plugin_kind kind, const std::string& name,
      const std::string& options) const;

  const std::vector<std::unique_ptr<LoadedPlugin>>& plugins() const {
    return plugins_;
  }

  // Build tree first, then the install directory (see CMakeLists.txt).
  static std::vector<std::string> DefaultDirectories();

  // How long the forked trial create()/destroy() may take; zero turns the
  // trial off. Default kDefaultTrialTimeout.
  static constexpr absl::Duration kDefaultTrialTimeout = absl::Seconds(2);
  void set_trial_timeout(absl::Duration d) { trial_timeout_ = d; }
  absl::Duration trial_timeout() const { return trial_timeout_; }

 private:
  std::vector<std::unique_ptr<LoadedPlugin>> plugins_;
  absl::Duration trial_timeout_ = kDefaultTrialTimeout;
};

const char* PluginKindName(uint32_t kind);

}  // namespace mpio

#endif  // MPIO_ENGINE_CLAIM_PLUGIN_REGISTRY_H_
