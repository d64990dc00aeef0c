// The mpio.toml parser: turns the daemon's TOML config file into a
// DaemonConfig. examples/mpio.toml is the complete, commented example.
//
// Schema (every table and key is optional unless marked; unknown tables and
// keys are errors, so a typo never silently falls back to a default):
//
//   [engine]                     -> DaemonConfig::engine (EngineOptions)
//   initiator = "iqn.2026-12.org.mpio:host1"   iqn./eui./naa. name
//   login_timeout = "5s"         session.login_timeout        > 0
//   command_timeout = "30s"      session.command_timeout      > 0
//   nop_interval = "500ms"       session.nop_interval         > 0
//   nop_max_outstanding = 10     session.nop_max_outstanding  1..1000
//   ack_stall = "1200ms"         session.ack_stall            > 0
//   no_path_retry = "30s"        device.no_path_retry         >= 0 (0: fail
//                                                             now), "queue",
//                                                             "fail"
//   max_retries = 5              device.max_retries           0..1000
//   fence = "auto"               device.fence                 auto | none |
//                                                             reservation |
//                                                             reset
//   reprobe_interval = "10s"     device.reprobe_interval      >= 0 (0: only
//                                                             on path entry)
//   reconnect_min = "250ms"      path_policy.reconnect_min    > 0
//   reconnect_max = "10s"        path_policy.reconnect_max    >= reconnect_min
//   probation = "2s"             path_policy.probation        >= 0
//   flap_failures = 3            path_policy.flap_failures    0..1000
//   flap_window = "60s"          path_policy.flap_window      > 0
//   marginal_hold = "30s"        path_policy.marginal_hold    > 0
//   checker_interval = "5s"      path_policy.checker_interval > 0
//   discovery_timeout = "8s"     discovery_timeout            > 0
//   plugin_dirs = ["/usr/local/lib/mpio/plugins"]
//
//   [[target]]                   -> one TargetSpec each
//   portals = ["198.18.0.2", "198.18.0.6:3260", "198.18.0.10%eth1"]  required
//   iqn = "iqn.2005-10.org.freenas.ctl:lun0"   empty: SendTargets discovery
//   luns = [0]                   0..16383; empty: REPORT LUNS
//   chap_user = "..."            with exactly one of
//   chap_secret_file = "..."     (relative: to the config file's folder) or
//   chap_secret_env = "VAR"      never `chap_secret`: inline secrets refused
//   target_chap_user / target_chap_secret_file / target_chap_secret_env
//                                mutual CHAP, needs chap_user too
//
//   [[claim_rule]]               -> one ClaimRule each
//   id = 100 (required, > 0, unique), vendor, model, identity (globs),
//   satp (required), satp_options, psp, psp_options, description
//
//   [nbd]     unix = "/run/mpio/nbd.sock", tcp = "127.0.0.1:10809",
//             allow_remote = false
//   [fuse]    dir = "/run/mpio/fuse", allow_other = false
//   [metrics] listen = "127.0.0.1:9580"
//   [control] socket = "/run/mpio/control.sock"
//   [log]     level = "info"     error | warn | info | debug
//
// Durations are strings with a unit ("500ms", "5s", "2m", "1h", "1m30s") or
// a plain number of seconds (5, 0.5); see duration.h. Absent keys keep the
// defaults of the structs they map onto.
//
// Threads: pure functions (file and environment reads only), any thread.
// Errors: InvalidArgument with one line per problem, each
// "FILE:LINE:COL: key.path: what is wrong" (the whole file is checked, so
// all problems are reported at once); the config file itself missing or
// unreadable is NotFound / PermissionDenied. No exception escapes. Messages
// never contain a CHAP secret. Nothing is left behind on failure.
#ifndef MPIO_ENGINE_CONFIG_CONFIG_FILE_H_
#define MPIO_ENGINE_CONFIG_CONFIG_FILE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/config/daemon_config.h"

namespace mpio {

// Reads and parses the file at `path` (which becomes DaemonConfig::source).
absl::StatusOr<DaemonConfig> ParseConfigFile(const std::string& path);

// Parses `text`; `source_name` is the file name used in messages and as the
// base for relative secret file paths ("" or a name without '/': the
// current directory).
absl::StatusOr<DaemonConfig> ParseConfigText(std::string_view text,
                                             const std::string& source_name);

}  // namespace mpio

#endif  // MPIO_ENGINE_CONFIG_CONFIG_FILE_H_
