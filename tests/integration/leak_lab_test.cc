// Resource bounds (issue #8): 1000 path reconnects, forced with the
// engine's failover drill (Path::FailNow) on alternating paths of a
// two-path lab while a verifying read/write workload runs, must leave no
// I/O error, no corruption, no extra fd, no extra thread and no memory
// growth beyond a small bound. The lab name comes from $MPIO_LAB (a ctest
// fixture brings it up). The 10-minute version with real link faults is
// bench/soak (not in CI).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "bench/soak/proc_stats.h"
#include "bench/workload.h"
#include "engine/core/engine.h"
#include "tests/integration/lab_env.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MPIO_HAS_ASAN 1
#endif
#endif
#ifndef MPIO_HAS_ASAN
#define MPIO_HAS_ASAN 0
#endif

namespace mpio::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kReconnects = 1000;
constexpr int kWarmupReconnects = 20;
// Give up (fail, don't hang) when the reconnects take longer than this; on
// this 2-core machine 1000 take 4-6 s (see the MESSAGE output).
constexpr auto kBudget = std::chrono::seconds(90);
// Measured (3 runs, fence reset): RSS grows 180-190 KiB over the 1000
// reconnects after the warm-up, peak 300-450 KiB above the start (allocator
// noise; the process is about 7 MiB). 2 MiB is four times the worst peak
// and still catches any leak of 2 KiB or more per reconnect (a libiscsi
// context, a session, a task with its buffers).
[[maybe_unused]] constexpr uint64_t kMaxRssGrowthKib = 2 * 1024;

LabEnv Lab() {
  const char* name = getenv("MPIO_LAB");
  REQUIRE_MESSAGE(name != nullptr,
                  "set MPIO_LAB to a lab started by tests/lab/lab.sh");
  auto env = LabEnv::Load(name);
  REQUIRE_MESSAGE(env.ok(), env.status().ToString());
  return *env;
}

// Reconnects as fast as the target allows: 1 ms backoff, no probation, no
// flap damping (a path failing 1000 times a minute would otherwise be held
// out as marginal, which is the point of damping but not of this test).
std::unique_ptr<Engine> MakeFastReconnectEngine(const std::string& fence) {
  EngineOptions o;
  o.plugin_dirs = {PluginDir()};
  o.device.no_path_retry = absl::Seconds(30);
  o.device.fence = fence;
  o.path_policy.reconnect_min = absl::Milliseconds(1);
  o.path_policy.reconnect_max = absl::Milliseconds(50);
  o.path_policy.probation = absl::ZeroDuration();
  o.path_policy.flap_failures = 0;
  auto e = Engine::Create(o);
  REQUIRE_MESSAGE(e.ok(), e.status().ToString());
  REQUIRE_MESSAGE((*e)->plugin_errors().empty(), (*e)->plugin_errors().front());
  return std::move(*e);
}

struct PathView {
  PathState state;
  std::string reason;
  uint64_t failures;
};

std::vector<PathView> Paths(Engine* e, MultipathDevice* d) {
  std::vector<PathView> v;
  e->RunOnReactor([&] {
    for (auto& p : d->paths())
      v.push_back({p->state(), p->last_reason(), p->counters().failures});
  });
  return v;
}

// Verifying workloads back to back on a thread until stopped; joined by the
// destructor too, so a failed REQUIRE cannot leave the thread running.
class Load {
 public:
  explicit Load(MultipathDevice* d) : thread_([this, d] { Run(d); }) {}
  ~Load() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t ios = 0, errors = 0, verify_failures = 0, runs = 0;
  std::string first_error;

 private:
  void Run(MultipathDevice* d) {
    auto spec = bench::ParseWorkload("randrw:4k:qd16");
    if (!spec.ok()) {
      first_error = spec.status().ToString();
      errors++;
      return;
    }
    spec->duration = absl::Seconds(2);
    spec->working_set_bytes = 8 << 20;
    spec->verify = true;
    while (!stop_) {
      auto r = bench::RunWorkload(d, *spec);
      runs++;
      if (!r.ok()) {
        errors++;
        if (first_error.empty()) first_error = r.status().ToString();
        return;
      }
      ios += r->ios;
      errors += r->errors;
      verify_failures += r->verify_failures;
      if (first_error.empty()) first_error = r->first_error;
    }
  }
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Waits until path i is active again; false past `deadline`.
bool WaitActive(Engine* e, MultipathDevice* d, size_t i,
                Clock::time_point deadline) {
  for (;;) {
    bool active = false;
    e->RunOnReactor(
        [&] { active = d->paths()[i]->state() == PathState::kActive; });
    if (active) return true;
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Fails path `victim` once (the drill) and waits for it to be back. Fails
// the test with the path's state and reason when it does not come back.
void Reconnect(Engine* e, MultipathDevice* d, size_t victim, int n,
               Clock::time_point deadline) {
  PathState after_fail = PathState::kActive;
  e->RunOnReactor([&] {
    d->paths()[victim]->FailNow("leak drill");
    after_fail = d->paths()[victim]->state();
  });
  REQUIRE_MESSAGE(after_fail != PathState::kActive, "reconnect ", n,
                  ": FailNow left the path active");
  if (!WaitActive(e, d, victim, deadline)) {
    auto v = Paths(e, d)[victim];
    FAIL("reconnect ", n, " of path ", victim,
         " not back in time: ", PathStateName(v.state), ": ", v.reason);
  }
}

bench::ProcStats Stats() {
  auto s = bench::ReadProcStats();
  REQUIRE_MESSAGE(s.ok(), s.status().ToString());
  return *s;
}

struct DrillResult {
  bench::ProcStats before, after;
  uint64_t peak_rss_kib = 0;
  uint64_t reconnects = 0;  // path failures counted by the engine
  double seconds = 0;
};

// `reconnects` drills on alternating paths (after a warm-up) under a
// verifying load, which must see no error and no corruption.
DrillResult ReconnectDrill(const std::string& fence, int reconnects) {
  LabEnv lab = Lab();
  auto e = MakeFastReconnectEngine(fence);
  auto report = e->AddTarget(lab.Spec());
  REQUIRE(report.ok());
  REQUIRE(report->devices.size() == 1);
  MultipathDevice* d = report->devices[0];
  REQUIRE(Paths(e.get(), d).size() == 2);
  const auto setup_deadline = Clock::now() + std::chrono::seconds(30);
  for (size_t i = 0; i < 2; i++)
    REQUIRE(WaitActive(e.get(), d, i, setup_deadline));

  // Warm-up: the first reconnects and workload runs grow things that then
  // stay (allocator arenas of the load thread, the device's event ring,
  // libiscsi's and the reactor's tables); only growth after it counts.
  {
    Load warm(d);
    for (int i = 0; i < kWarmupReconnects; i++)
      Reconnect(e.get(), d, i % 2, i, setup_deadline);
    warm.Stop();
    CHECK_MESSAGE(warm.errors == 0, warm.first_error);
    CHECK(warm.verify_failures == 0);
  }
  e->RunOnReactor([] {});  // retired sessions are freed a turn later
  const bench::ProcStats before = Stats();
  uint64_t failures_before = 0;
  for (auto& p : Paths(e.get(), d)) failures_before += p.failures;

  const auto t0 = Clock::now();
  const auto deadline = t0 + kBudget;
  uint64_t peak_rss = before.rss_kib;
  Load load(d);
  for (int i = 0; i < reconnects; i++) {
    Reconnect(e.get(), d, i % 2, i, deadline);
    if ((i + 1) % 100 == 0) {
      bench::ProcStats s = Stats();
      peak_rss = std::max(peak_rss, s.rss_kib);
      MESSAGE("after ", i + 1, " reconnects (",
              std::chrono::duration<double>(Clock::now() - t0).count(),
              " s): RSS ", s.rss_kib, " KiB, fds ", s.fds, ", threads ",
              s.threads);
    }
  }
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  load.Stop();
  for (size_t i = 0; i < 2; i++)
    REQUIRE(WaitActive(e.get(), d, i, Clock::now() + std::chrono::seconds(10)));
  e->RunOnReactor([] {});
  const bench::ProcStats after = Stats();

  uint64_t failures_after = 0;
  for (auto& p : Paths(e.get(), d)) failures_after += p.failures;
  MESSAGE(reconnects, " reconnects in ", took, " s; ", load.ios, " I/Os in ",
          load.runs, " verifying runs; RSS ", before.rss_kib, " -> ",
          after.rss_kib, " KiB (peak ", peak_rss, "), fds ", before.fds, " -> ",
          after.fds, ", threads ", before.threads, " -> ", after.threads);
  CHECK_MESSAGE(load.errors == 0, load.first_error);
  CHECK_MESSAGE(load.verify_failures == 0, load.first_error);
  CHECK(load.ios > 1000);
  DrillResult r{before, after, peak_rss, failures_after - failures_before,
                took};
  return r;
}

TEST_CASE(
    "1000 path reconnects under a verifying load leak no fd, thread or "
    "memory") {
  // Fence "reset": the leak check is about sessions; the reservation fence
  // under the same drill is the next case.
  DrillResult r = ReconnectDrill("reset", kReconnects);
  CHECK(r.reconnects >= static_cast<uint64_t>(kReconnects));
  // Every path is back with exactly one session (one socket each), the
  // load thread is joined: the same fds and threads as before, no slack.
  CHECK(r.after.fds == r.before.fds);
  CHECK(r.after.threads == r.before.threads);
#if defined(__SANITIZE_ADDRESS__) || MPIO_HAS_ASAN
  // ASan keeps freed memory in its quarantine (256 MiB), so RSS says
  // nothing here; LeakSanitizer checks every allocation at exit instead.
  MESSAGE("ASan build: RSS bound not checked (quarantine); LSan checks leaks");
#else
  CHECK(r.after.rss_kib < r.before.rss_kib + kMaxRssGrowthKib);
  CHECK(r.peak_rss_kib < r.before.rss_kib + kMaxRssGrowthKib);
#endif
}

// Regression test: with the reservation fence and reconnects faster than a
// PR round trip, a path that died used to re-register its key (same ISID,
// same key) before or while the fence PREEMPTed it from the other path, so
// it came back active but unregistered and its writes failed with
// RESERVATION CONFLICT. A path's new session now registers only after the
// fence of its old one is done (MultipathDevice::PrepareActivation).
TEST_CASE("reservation fence under 1 ms reconnects: no RESERVATION CONFLICT") {
  DrillResult r = ReconnectDrill("auto", kReconnects);
  CHECK(r.reconnects >= static_cast<uint64_t>(kReconnects));
}

}  // namespace
}  // namespace mpio::testing
