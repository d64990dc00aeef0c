#include "engine/path/path.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "engine/scsi/cdb.h"
#include "engine/scsi/sense.h"

namespace mpio {

const char* PathStateName(PathState s) {
  switch (s) {
    case PathState::kConnecting:
      return "connecting";
    case PathState::kProbation:
      return "probation";
    case PathState::kActive:
      return "active";
    case PathState::kStandby:
      return "standby";
    case PathState::kDisabled:
      return "disabled";
    case PathState::kDead:
      return "dead";
    case PathState::kMarginal:
      return "marginal";
  }
  return "unknown";
}

Path::Path(Reactor* reactor, uint32_t index, SessionConfig session,
           PathPolicy policy, Listener* listener)
    : reactor_(reactor),
      index_(index),
      config_(std::move(session)),
      policy_(policy),
      listener_(listener) {
  name_ = absl::StrCat(config_.portal, "/", config_.target_iqn, "/lun",
                       config_.lun);
  state_since_ns_ = Reactor::NowNs();
}

Path::~Path() {
  *alive_ = false;
  for (auto t : {reconnect_timer_, probation_timer_, checker_timer_}) {
    if (t) reactor_->Cancel(t);
  }
  // Closing delivers CANCELLED to our own outstanding commands; the owner
  // has already stopped routing I/O here.
  if (session_) session_->Close();
}

bool Path::usable() const {
  if (state_ != PathState::kActive) return false;
  switch (alua_state_) {
    case MPIO_ALUA_NONE:
    case MPIO_ALUA_ACTIVE_OPTIMIZED:
    case MPIO_ALUA_ACTIVE_NON_OPTIMIZED:
    case MPIO_ALUA_LBA_DEPENDENT:
      return true;
    default:
      return false;
  }
}

void Path::SetState(PathState s, std::string reason) {
  if (s == state_ && reason == reason_) return;
  state_ = s;
  reason_ = std::move(reason);
  state_since_ns_ = Reactor::NowNs();
  listener_->OnPathChanged(this, reason_);
}

void Path::Start() { Connect(); }

// Sessions die inside their own callbacks; free them on a later turn.
void Path::Retire(std::unique_ptr<IscsiSession> s) {
  if (!s) return;
  retired_.push_back(std::move(s));
  reactor_->Post([this, alive = std::weak_ptr<bool>(alive_)] {
    if (!alive.expired()) retired_.clear();
  });
}

void Path::Connect() {
  reconnect_timer_ = 0;
  if (!enabled_) return;
  if (state_ != PathState::kConnecting)
    SetState(PathState::kConnecting, "connecting");
  session_ = std::make_unique<IscsiSession>(
      reactor_, config_,
      [this](const absl::Status& why) { OnSessionFailed(why); });
  std::weak_ptr<bool> alive = alive_;
  session_->Connect([this, alive](const absl::Status& s) {
    if (alive.expired()) return;
    OnConnected(s);
  });
}

void Path::OnConnected(const absl::Status& s) {
  if (!s.ok()) {
    counters_.failures++;
    // A refused login (CHAP, ACL) needs someone to act: retrying fast only
    // floods the target's log. Go straight to the slowest retry interval,
    // so a fixed secret is still picked up within reconnect_max.
    if (absl::IsUnauthenticated(s) || absl::IsPermissionDenied(s))
      attempt_ = std::max(attempt_, 10);
    reason_ = std::string(s.message());
    if (session_) Retire(std::move(session_));
    SetState(PathState::kDead, std::string(s.message()));
    ScheduleReconnect();
    return;
  }
  std::weak_ptr<bool> alive = alive_;
  ProbeLun(session_.get(), [this, alive](absl::StatusOr<LunInfo> info) {
    if (alive.expired()) return;
    if (!info.ok()) {
      if (session_) session_->Fail(info.status());
      return;
    }
    absl::Status accept = listener_->OnPathProbed(this, *info);
    if (!accept.ok()) {
      // Refused (e.g. the portal now leads to another LUN): keep it dead
      // and retry later, the configuration may be fixed meanwhile.
      if (session_) session_->Fail(accept);
      return;
    }
    lun_ = std::move(*info);
    attempt_ = 0;
    listener_->PrepareActivation(this, [this, alive](absl::Status ready) {
      if (alive.expired()) return;
      if (!ready.ok()) {
        if (session_) session_->Fail(ready);
        return;
      }
      Activate();
    });
  });
}

void Path::Activate() {
  if (ever_up_ && policy_.probation > absl::ZeroDuration()) {
    SetState(PathState::kProbation,
             absl::StrCat("back; on probation for ",
                          absl::FormatDuration(policy_.probation)));
    probation_timer_ = reactor_->After(policy_.probation, [this] {
      probation_timer_ = 0;
      if (state_ != PathState::kProbation || !session_) return;
      // Probation ends with a good TEST UNIT READY.
      scsi::Cdb tur = scsi::TestUnitReady();
      std::weak_ptr<bool> alive2 = alive_;
      RunCommand(session_.get(), tur.bytes.data(), tur.len,
                 DataDirection::kNone, 0, {},
                 [this, alive2](const CommandOutcome& o) {
                   if (alive2.expired() || state_ != PathState::kProbation)
                     return;
                   if (o.good()) {
                     SetState(PathState::kActive, "probation passed");
                   } else if (session_) {
                     session_->Fail(absl::UnavailableError(absl::StrCat(
                         "TEST UNIT READY after probation: ", o.Describe())));
                   }
                 });
    });
  } else {
    SetState(PathState::kActive, "logged in");
  }
  ever_up_ = true;
  if (!checker_timer_) {
    checker_timer_ =
        reactor_->Every(policy_.checker_interval, [this] { RunChecker(); });
  }
}

void Path::RunChecker() {
  if (state_ != PathState::kActive || !session_ || !session_->logged_in())
    return;
  scsi::Cdb tur = scsi::TestUnitReady();
  std::weak_ptr<bool> alive = alive_;
  RunCommand(
      session_.get(), tur.bytes.data(), tur.len, DataDirection::kNone, 0, {},
      [this, alive](const CommandOutcome& o) {
        if (alive.expired() || o.kind != ScsiResult::Kind::kStatus || o.good())
          return;
        // A unit attention is news, not a failure; NOT READY or a LUN
        // that is gone takes the path out.
        auto s = scsi::ParseSense(o.sense);
        if (s.ok() && s->key == 0x6) return;
        if (session_) {
          session_->Fail(absl::UnavailableError(
              absl::StrCat("path checker TEST UNIT READY: ", o.Describe())));
        }
      });
}

void Path::OnSessionFailed(const absl::Status& reason) {
  // Inside the session's teardown: don't delete it here.
  counters_.failures++;
  Retire(std::move(session_));
  if (probation_timer_) reactor_->Cancel(probation_timer_);
  probation_timer_ = 0;
  if (!enabled_) return;
  uint64_t now = Reactor::NowNs();
  failure_times_.push_back(now);
  const uint64_t window =
      static_cast<uint64_t>(absl::ToInt64Nanoseconds(policy_.flap_window));
  while (!failure_times_.empty() && now - failure_times_.front() > window) {
    failure_times_.pop_front();
  }
  if (policy_.flap_failures > 0 &&
      static_cast<int>(failure_times_.size()) >= policy_.flap_failures) {
    failure_times_.clear();
    SetState(PathState::kMarginal,
             absl::StrCat(reason.message(), "; ", policy_.flap_failures,
                          " failures within ",
                          absl::FormatDuration(policy_.flap_window),
                          ": held out for ",
                          absl::FormatDuration(policy_.marginal_hold)));
    reconnect_timer_ =
        reactor_->After(policy_.marginal_hold, [this] { Connect(); });
    return;
  }
  SetState(PathState::kDead, std::string(reason.message()));
  ScheduleReconnect();
}

void Path::ScheduleReconnect() {
  if (!enabled_ || reconnect_timer_) return;
  // Exponential backoff with +-20 % jitter, so paths that died together do
  // not hammer the target together.
  double base = absl::ToDoubleMilliseconds(policy_.reconnect_min) *
                (1 << std::min(attempt_, 10));
  base = std::min(base, absl::ToDoubleMilliseconds(policy_.reconnect_max));
  static thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  attempt_++;
  reconnect_timer_ = reactor_->After(absl::Milliseconds(base * jitter(rng)),
                                     [this] { Connect(); });
}

void Path::SetEnabled(bool on, const std::string& why) {
  if (on == enabled_) return;
  enabled_ = on;
  if (!on) {
    if (reconnect_timer_) reactor_->Cancel(reconnect_timer_);
    reconnect_timer_ = 0;
    SetState(PathState::kDisabled, why);
    if (session_) {
      // Move in-flight I/O elsewhere; the operator asked for it.
      auto s = std::move(session_);
      s->Close();
      Retire(std::move(s));
    }
  } else {
    attempt_ = 0;
    Connect();
  }
}

void Path::FailNow(const std::string& why) {
  if (session_) session_->Fail(absl::UnavailableError(why));
}

void Path::SetAlua(int alua_state, bool preferred, int32_t tpg,
                   const std::string& reason) {
  bool changed =
      alua_state != alua_state_ || preferred != preferred_ || tpg != tpg_;
  alua_state_ = alua_state;
  preferred_ = preferred;
  tpg_ = tpg;
  if (changed) listener_->OnPathChanged(this, reason);
}

void Path::RecordCompletion(bool write, uint64_t bytes, uint64_t latency_ns) {
  if (write) {
    counters_.writes++;
    counters_.bytes_written += bytes;
  } else {
    counters_.reads++;
    counters_.bytes_read += bytes;
  }
  counters_.completed++;
  counters_.latency_ns_sum += latency_ns;
  const int op = write ? 1 : 0;
  counters_.latency_ns_by_op[op] += latency_ns;
  uint64_t us = latency_ns / 1000;
  int b = 0;
  while (b < PathCounters::kBuckets - 1 && (1ull << b) < us) b++;
  counters_.latency_buckets[op][b]++;
}

}  // namespace mpio
