// Preflight: the rules behind `mpio check`, a lint of a running setup.
//
// Input is a plain record of facts per device and path (what the local end
// of each session's socket looks like, CHAP, interface binding, the timers,
// the claim rules that refused the device); output is a list of findings,
// each with a severity, the device/path it concerns, what is wrong, and the
// fix as a command or config line. Gathering the facts is someone else's
// job (engine/control/preflight_gather.h on a live engine, a test's literal
// structs here), so every rule is tested without sockets or targets.
//
// Threads: pure functions, any thread. Ownership: findings are values.
// Failure: none; facts that are unknown (a path without a session) are
// skipped by the rules that need them and reported as one info finding.
#ifndef MPIO_ENGINE_CONTROL_PREFLIGHT_H_
#define MPIO_ENGINE_CONTROL_PREFLIGHT_H_

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace mpio::preflight {

// One path: one session from this host to one portal for one LUN.
struct PathFacts {
  std::string id;      // short handle, "<device>:<index>"
  std::string portal;  // "ip:port" as given to the engine
  std::string state;   // "active", "dead", ...
  // False when the path has no logged-in session: the network facts below
  // are then unknown and the network rules skip this path.
  bool connected = false;
  std::string local_interface;  // egress interface found for local_address
  std::string local_address;    // without port
  int prefix_len = -1;          // of local_address on local_interface
  std::string local_network;    // "198.18.0.0/30": local_address/prefix_len
  // Every up interface on this host with an address inside local_network:
  // candidates for binding when several NICs share the subnet.
  std::vector<std::string> subnet_interfaces;
  bool ipv6 = false;
  int mtu = 0;  // of local_interface (SIOCGIFMTU); 0 unknown
  int mss = 0;  // the session socket's TCP_MAXSEG; 0 unknown
  // SO_BINDTODEVICE as the kernel reports it for a connected path (else the
  // portal's configured %IFACE); empty: not bound.
  std::string bound_interface;
  bool chap = false;         // one-way CHAP configured for this path
  bool mutual_chap = false;  // the target must prove itself too
};

// The knobs that decide how fast a dead path is noticed and how fast a path
// comes back (engine/iscsi/session.h, engine/path/path.h,
// engine/device/multipath_device.h).
struct TimerFacts {
  absl::Duration nop_interval = absl::Milliseconds(500);
  int nop_max_outstanding = 6;
  absl::Duration ack_stall = absl::Milliseconds(1200);
  absl::Duration command_timeout = absl::Seconds(30);
  absl::Duration tick = absl::Milliseconds(100);
  absl::Duration login_timeout = absl::Seconds(5);
  absl::Duration reconnect_min = absl::Milliseconds(250);
  absl::Duration reconnect_max = absl::Seconds(5);
  absl::Duration probation = absl::Seconds(2);
  absl::Duration checker_interval = absl::Seconds(5);
  // Zero: "fail" (no queueing); absl::InfiniteDuration(): "queue".
  absl::Duration no_path_retry = absl::Seconds(30);
};

// A claim rule that matched the device but whose SATP refused it.
struct RefusedRule {
  int rule_id = -1;  // -1: the built-in default (e.g. default ALUA)
  std::string reason;
};

struct DeviceFacts {
  std::string identity;
  std::vector<PathFacts> paths;
  TimerFacts timers;
  std::vector<RefusedRule> refused_rules;
  std::string satp;  // the SATP that drives the device now
};

enum class Severity { kInfo, kWarning, kError };
const char* SeverityName(Severity s);  // "info", "warning", "error"

struct Finding {
  Severity severity = Severity::kInfo;
  std::string code;    // stable machine name: "shared_interface", ...
  std::string device;  // identity
  std::string path;    // path id(s) it concerns; empty: the whole device
  std::string problem;
  std::string fix;  // a command or config line
};

// The detector arithmetic, exposed so the CLI and tests can show it.
struct FailoverBudget {
  absl::Duration detection;       // worst case until a black hole is seen
  absl::Duration recovery_worst;  // backoff ceiling + login + probation
  absl::Duration recovery_best;   // first backoff + probation
};
FailoverBudget ComputeFailoverBudget(const TimerFacts& t);

// The budget a black-holed path must be detected in (DESIGN.md: at most
// 2 s by default).
inline constexpr absl::Duration kDetectionBudget = absl::Seconds(2);

// Every rule over every device; findings in device order, then by rule.
std::vector<Finding> Check(const std::vector<DeviceFacts>& devices);

// True when a finding should make `mpio check` exit non-zero.
bool IsProblem(const Finding& f);

}  // namespace mpio::preflight

#endif  // MPIO_ENGINE_CONTROL_PREFLIGHT_H_
