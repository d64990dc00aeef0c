// Engine: the whole initiator. Owns the reactor thread, the plugin registry,
// the claim rules and every multipath device.
//
// AddTarget() logs in over every portal, finds the LUNs (REPORT LUNS), probes
// each path (INQUIRY, VPD, READ CAPACITY), groups paths by LUN identity into
// devices, and claims each device with an SATP and a PSP. A portal that does
// not answer is reported and the others still work.
//
// Threads: the public methods may be called from any thread but the
// reactor's (they run their work on the reactor and wait). Device pointers
// stay valid until Shutdown().
#ifndef MPIO_ENGINE_CORE_ENGINE_H_
#define MPIO_ENGINE_CORE_ENGINE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/base/sync.h"
#include "engine/claim/claim_rules.h"
#include "engine/claim/plugin_registry.h"
#include "engine/device/multipath_device.h"
#include "engine/iscsi/session.h"
#include "engine/path/path.h"
#include "engine/reactor/reactor.h"

namespace mpio {

struct PortalSpec {
  std::string address;    // "ip" or "ip:port"
  std::string interface;  // optional SO_BINDTODEVICE
};

struct TargetSpec {
  std::vector<PortalSpec> portals;
  std::string target_iqn;  // empty: SendTargets on every portal
  std::vector<int> luns;   // empty: REPORT LUNS
  std::string chap_user, chap_secret, target_chap_user, target_chap_secret;
};

struct EngineOptions {
  std::string initiator_iqn = "iqn.2026-12.org.mpio:initiator";
  SessionConfig session;  // timeouts and health knobs for every path
  PathPolicy path_policy;
  DeviceOptions device;
  std::vector<std::string> plugin_dirs;  // empty: PluginRegistry defaults
  absl::Duration discovery_timeout = absl::Seconds(8);
};

// What AddTarget found, for `mpio discover` and the logs.
struct DiscoveryReport {
  struct PortalResult {
    std::string portal;
    std::vector<std::string> targets;
    std::string error;  // empty when fine
  };
  std::vector<PortalResult> portals;
  std::vector<std::string> notes;         // skipped LUNs, refused paths
  std::vector<MultipathDevice*> devices;  // new devices
};

class Engine {
 public:
  static absl::StatusOr<std::unique_ptr<Engine>> Create(EngineOptions options);
  ~Engine();

  absl::StatusOr<DiscoveryReport> AddTarget(const TargetSpec& spec);

  // Runs `fn` on the reactor thread and waits: the way to read or change
  // devices and paths from another thread.
  void RunOnReactor(absl::AnyInvocable<void()> fn) {
    reactor_->RunSync(std::move(fn));
  }

  std::vector<MultipathDevice*> devices();
  MultipathDevice* FindDevice(const std::string& name);
  Reactor* reactor() { return reactor_.get(); }
  const PluginRegistry& plugins() const { return plugins_; }
  const std::vector<std::string>& plugin_errors() const {
    return plugin_errors_;
  }
  // Reactor thread (via RunOnReactor).
  ClaimRules& rules() { return rules_; }
  // Re-applies the claim rules to a device (new SATP/PSP), reactor thread.
  absl::Status Reclaim(MultipathDevice* device);
  absl::Status SetPsp(MultipathDevice* device, const std::string& psp,
                      const std::string& options);

  // Closes every session and drops every device. Idempotent.
  void Shutdown();

 private:
  explicit Engine(EngineOptions options, std::unique_ptr<Reactor> reactor);
  absl::Status Claim(MultipathDevice* device);
  uint32_t IsidFor(const std::string& portal, const std::string& iqn, int lun);

  EngineOptions options_;
  std::unique_ptr<Reactor> reactor_;
  PluginRegistry plugins_;
  std::vector<std::string> plugin_errors_;
  ClaimRules rules_;
  Mutex mu_;
  std::vector<std::unique_ptr<MultipathDevice>> devices_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> used_isids_;  // reactor thread
  bool shut_down_ = false;
};

// "ip" -> "ip:3260"; keeps an explicit port. IPv6 in brackets.
std::string NormalizePortal(const std::string& address);

}  // namespace mpio

#endif  // MPIO_ENGINE_CORE_ENGINE_H_
