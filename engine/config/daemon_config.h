// DaemonConfig: everything `mpio serve` needs, from a TOML file and/or
// command-line flags. Plain data; see config_file.h for the parser.
#ifndef MPIO_ENGINE_CONFIG_DAEMON_CONFIG_H_
#define MPIO_ENGINE_CONFIG_DAEMON_CONFIG_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "engine/claim/claim_rules.h"
#include "engine/core/engine.h"

namespace mpio {

struct DaemonConfig {
  EngineOptions engine;  // initiator, timeouts, no_path_retry, plugins
  std::vector<TargetSpec> targets;  // CHAP secrets already read from file/env
  std::vector<ClaimRule> claim_rules;
  std::string nbd_unix;  // "" = no Unix socket
  std::string nbd_tcp;   // "HOST:PORT", "" = none
  bool nbd_allow_remote = false;
  std::string fuse_dir;  // "" = no FUSE export
  bool fuse_allow_other = false;
  // Prometheus /metrics on HOST:PORT, "" = none. On by default on loopback;
  // a default that cannot be bound (a second daemon on this host) only
  // warns, an address the administrator gave is an error.
  static constexpr const char* kDefaultMetricsListen = "127.0.0.1:9580";
  std::string metrics_listen = kDefaultMetricsListen;
  bool metrics_explicit = false;  // set by the config file or --metrics
  std::string control_socket = "/run/mpio/control.sock";
  std::string log_level = "info";  // error, warn, info, debug
  // Empty: stderr. A file is capped at log_max_file_mib, then moved to
  // FILE.1, so the log never fills the disk it is on.
  std::string log_file;
  int log_max_file_mib = 16;
  std::string source;              // the file it came from, for messages
};

}  // namespace mpio

#endif  // MPIO_ENGINE_CONFIG_DAEMON_CONFIG_H_
