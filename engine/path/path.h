// Path: one portal -> one LUN, with its state machine and counters.
//
//   connecting --login+probe ok--> active (or probation after a failure)
//   active --transport error / NOP / ACK stall / timeout--> dead
//   dead --backoff with jitter--> connecting
//   probation --window passed, TUR good--> active
//   N failures within the flap window --> marginal (held out, then retried)
//   operator: disabled (off) / on
//
// A returning path must still lead to the same LUN: its VPD 0x83 identity is
// compared with the device's before it carries I/O again.
//
// Threads: reactor thread only. The owner (a device) gets state changes
// through Listener and must not delete the Path from inside a callback.
#ifndef MPIO_ENGINE_PATH_PATH_H_
#define MPIO_ENGINE_PATH_PATH_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/iscsi/session.h"
#include "engine/path/lun_probe.h"
#include "engine/reactor/reactor.h"
#include "mpio/plugin.h"

namespace mpio {

enum class PathState : uint8_t {
  kConnecting,
  kProbation,
  kActive,
  kStandby,   // ALUA standby/unavailable: alive, not for I/O
  kDisabled,  // by the operator
  kDead,
  kMarginal,  // flapping: held out for a while
};
const char* PathStateName(PathState s);

struct PathPolicy {
  absl::Duration reconnect_min = absl::Milliseconds(250);
  absl::Duration reconnect_max = absl::Seconds(5);
  absl::Duration probation = absl::Seconds(2);
  int flap_failures = 3;                             // this many failures...
  absl::Duration flap_window = absl::Seconds(60);    // ...within this window...
  absl::Duration marginal_hold = absl::Seconds(30);  // ...hold out this long
  absl::Duration checker_interval = absl::Seconds(5);  // TEST UNIT READY
};

struct PathCounters {
  uint64_t reads = 0, writes = 0, others = 0;
  uint64_t bytes_read = 0, bytes_written = 0;
  uint64_t errors = 0;          // commands that ended in error on this path:
  uint64_t scsi_errors = 0;     //   the target answered with an error status
  uint64_t protocol_errors = 0; //   libiscsi reported a protocol error
  uint64_t redriven = 0;        // I/Os moved off this path when it failed
  uint64_t failures = 0;        // times the path died
  uint64_t latency_ns_sum = 0;  // over completed reads+writes
  uint64_t completed = 0;
  uint64_t inflight = 0;
  uint64_t inflight_bytes = 0;
  // Latency histograms by op ([0] reads, [1] writes), exponential buckets:
  // [op][i] counts <= 2^i microseconds.
  static constexpr int kBuckets = 24;
  uint64_t latency_ns_by_op[2] = {};
  uint64_t latency_buckets[2][kBuckets] = {};
};

class Path {
 public:
  class Listener {
   public:
    // The path became usable or stopped being usable (or changed ALUA state);
    // `reason` says why, for events and logs.
    virtual void OnPathChanged(class Path* path, const std::string& reason) = 0;
    // First successful probe (used by discovery and identity checks).
    // Return an error to refuse the path (e.g. identity mismatch).
    virtual absl::Status OnPathProbed(class Path* path,
                                      const LunInfo& info) = 0;
    // Last step before the path carries I/O (e.g. register its reservation
    // key). An error keeps the path out and retries later.
    virtual void PrepareActivation(class Path* path,
                                   std::function<void(absl::Status)> done) {
      (void)path;
      done(absl::OkStatus());
    }

   protected:
    ~Listener() = default;
  };

  Path(Reactor* reactor, uint32_t index, SessionConfig session,
       PathPolicy policy, Listener* listener);
  ~Path();

  void Start();  // connect; reconnects by itself afterwards
  // Hands the path to a new owner (discovery -> device), before it routes I/O.
  void Rebind(Listener* listener, uint32_t index) {
    listener_ = listener;
    index_ = index;
  }
  void SetEnabled(bool on, const std::string& why);  // operator on/off
  void FailNow(const std::string& why);  // failover drill / SATP verdict
  void SetAlua(int alua_state, bool preferred, int32_t tpg,
               const std::string& reason);

  // Routes a command onto the session; false if the path cannot take it.
  bool Submit(PendingCommand* c) {
    return usable() && session_ && session_->Submit(c);
  }

  bool usable() const;
  PathState state() const { return state_; }
  uint32_t index() const { return index_; }
  const std::string& name() const { return name_; }
  const SessionConfig& session_config() const { return config_; }
  const PathPolicy& policy() const { return policy_; }
  IscsiSession* session() { return session_.get(); }
  const LunInfo& lun() const { return lun_; }
  const std::string& last_reason() const { return reason_; }
  int alua_state() const { return alua_state_; }
  bool preferred() const { return preferred_; }
  int32_t target_port_group() const { return tpg_; }
  uint64_t state_since_ns() const { return state_since_ns_; }
  PathCounters& counters() { return counters_; }
  const PathCounters& counters() const { return counters_; }
  void set_preferred(bool p) { preferred_ = p; }

  void RecordCompletion(bool write, uint64_t bytes, uint64_t latency_ns);

 private:
  void Connect();
  void OnConnected(const absl::Status& s);
  void Activate();
  void OnSessionFailed(const absl::Status& reason);
  void ScheduleReconnect();
  void SetState(PathState s, std::string reason);
  void RunChecker();

  Reactor* reactor_;
  uint32_t index_;
  SessionConfig config_;
  PathPolicy policy_;
  Listener* listener_;
  std::string name_;
  std::unique_ptr<IscsiSession> session_;
  std::vector<std::unique_ptr<IscsiSession>> retired_;  // freed next turn
  void Retire(std::unique_ptr<IscsiSession> s);
  PathState state_ = PathState::kConnecting;
  std::string reason_ = "connecting";
  uint64_t state_since_ns_ = 0;
  bool enabled_ = true;
  bool ever_up_ = false;
  int attempt_ = 0;
  std::deque<uint64_t> failure_times_;
  Reactor::TimerId reconnect_timer_ = 0;
  Reactor::TimerId probation_timer_ = 0;
  Reactor::TimerId checker_timer_ = 0;
  LunInfo lun_;
  int alua_state_ = MPIO_ALUA_NONE;
  bool preferred_ = false;
  int32_t tpg_ = -1;
  PathCounters counters_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace mpio

#endif  // MPIO_ENGINE_PATH_PATH_H_
