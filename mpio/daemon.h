// Daemon: `mpio serve` as an object. Starts the engine, logs in to the
// configured targets, exports every device over NBD and FUSE, and serves the
// control socket and /metrics until Stop().
//
// Order matters on the way down: frontends first (FUSE unmounts, NBD drains
// its in-flight requests), then the engine (sessions closed), so nothing
// acknowledged is lost and no request reaches a device that is gone.
// Threads: Start/Reload/Stop from the main thread.
#ifndef MPIO_MPIO_DAEMON_H_
#define MPIO_MPIO_DAEMON_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/config/daemon_config.h"
#include "engine/core/engine.h"
#include "engine/reactor/reactor.h"

namespace mpio {

class NbdServer;
namespace fuse {
class FuseExport;
}
namespace control {
class ControlServer;
}
namespace metrics {
class MetricsExporter;
}

class Daemon {
 public:
  Daemon();
  ~Daemon();
  // Starts everything; a target whose portals all fail is logged, not
  // fatal (paths come back by themselves). Frontend set-up errors are fatal.
  absl::Status Start(DaemonConfig config);
  // SIGHUP: claim rules and log level from the new config, no I/O dropped.
  absl::Status Reload(const DaemonConfig& config);
  void Stop();
  Engine* engine() { return engine_.get(); }

 private:
  absl::Status ExportDevice(MultipathDevice* device, size_t index);

  DaemonConfig config_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Reactor> nbd_reactor_;
  std::unique_ptr<NbdServer> nbd_;
  std::unique_ptr<fuse::FuseExport> fuse_;
  std::unique_ptr<control::ControlServer> control_;
  std::unique_ptr<metrics::MetricsExporter> metrics_;
  std::vector<std::string> exported_;
};

}  // namespace mpio

#endif  // MPIO_MPIO_DAEMON_H_
