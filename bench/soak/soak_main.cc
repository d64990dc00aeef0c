// mpio_soak: a long verifying workload through the in-process engine over
// a two-path lab (tests/lab/lab.sh) while single paths flap at random
// (link down/up, black hole/unblackhole; never every path at once, a
// bounded number of times), sampling this process's RSS, open fds and
// threads every --sample-interval. Prints the samples as a table and a
// verdict (bench/soak/soak_report.h); exit 0 PASS, 1 FAIL, 2 setup error.
//
// The lab must be up (bench/soak/soak.sh brings one up and down around a
// run). Run as root (lab.sh faults). The engine runs with its default
// PathPolicy, as `mpio serve` does, so flap damping (marginal hold) and
// probation are part of what is soaked.
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "bench/soak/proc_stats.h"
#include "bench/soak/soak_report.h"
#include "bench/workload.h"
#include "engine/core/engine.h"

namespace mpio::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string lab = "soak-lab";
  std::string duration = "10m";
  std::string sample_interval = "10s";
  int max_flaps = 300;
  std::string workload = "randrw:4k:qd16";
  int working_set_mib = 16;
  uint32_t seed = 1;
  std::string lab_script = MPIO_SOURCE_DIR "/tests/lab/lab.sh";
  std::string plugin_dir = MPIO_PLUGIN_DIR;
};

absl::StatusOr<std::string> Shell(const std::string& command) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return absl::InternalError("popen failed");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (pclose(p) != 0)
    return absl::InternalError(absl::StrCat("`", command, "` failed: ", out));
  return out;
}

struct Lab {
  std::string iqn;
  std::vector<std::string> portals;
};

// lab.sh env prints LAB_*=value lines quoted with printf %q; the values we
// need hold only backslash-escaped spaces.
absl::StatusOr<Lab> LoadLab(const Options& o) {
  auto out = Shell(absl::StrCat("bash ", o.lab_script, " env --name ", o.lab));
  if (!out.ok()) return out.status();
  Lab lab;
  for (absl::string_view line : absl::StrSplit(*out, '\n')) {
    auto eq = line.find('=');
    if (eq == absl::string_view::npos) continue;
    std::string v;
    for (size_t i = eq + 1; i < line.size(); i++) {
      if (line[i] == '\\' && i + 1 < line.size()) i++;
      v += line[i];
    }
    absl::string_view key = line.substr(0, eq);
    if (key == "LAB_TARGET_IQN") lab.iqn = v;
    if (key == "LAB_PORTALS")
      lab.portals = absl::StrSplit(v, ' ', absl::SkipEmpty());
  }
  if (lab.portals.size() < 2)
    return absl::FailedPreconditionError(absl::StrCat(
        "lab ", o.lab, " needs at least 2 paths (lab.sh up --paths 2)"));
  return lab;
}

absl::StatusOr<absl::Duration> ParseDurationArg(const std::string& text) {
  double seconds;
  if (absl::SimpleAtod(text, &seconds)) return absl::Seconds(seconds);
  absl::Duration d;
  if (absl::ParseDuration(text, &d) && d > absl::ZeroDuration()) return d;
  return absl::InvalidArgumentError(
      absl::StrCat("bad duration '", text, "' (e.g. 600, 10m, 90s)"));
}

int Run(const Options& o) {
  auto duration = ParseDurationArg(o.duration);
  auto interval = ParseDurationArg(o.sample_interval);
  auto spec = ParseWorkload(o.workload);
  if (!duration.ok() || !interval.ok() || !spec.ok()) {
    fprintf(stderr, "mpio_soak: %s\n",
            (!duration.ok()   ? duration.status()
             : !interval.ok() ? interval.status()
                              : spec.status())
                .ToString()
                .c_str());
    return 2;
  }
  auto lab = LoadLab(o);
  if (!lab.ok()) {
    fprintf(stderr, "mpio_soak: %s\n", lab.status().ToString().c_str());
    return 2;
  }
  EngineOptions eo;
  eo.plugin_dirs = {o.plugin_dir};
  auto engine = Engine::Create(eo);
  if (!engine.ok()) {
    fprintf(stderr, "mpio_soak: %s\n", engine.status().ToString().c_str());
    return 2;
  }
  Engine* e = engine->get();
  TargetSpec ts;
  for (const auto& p : lab->portals) ts.portals.push_back({p, ""});
  ts.target_iqn = lab->iqn;
  auto report = e->AddTarget(ts);
  if (!report.ok() || report->devices.size() != 1) {
    fprintf(stderr, "mpio_soak: expected one device on lab %s: %s\n",
            o.lab.c_str(),
            report.ok() ? "another count" : report.status().ToString().c_str());
    return 2;
  }
  MultipathDevice* d = report->devices[0];
  auto states = [&] {
    std::vector<PathState> v;
    e->RunOnReactor([&] {
      for (auto& p : d->paths()) v.push_back(p->state());
    });
    return v;
  };
  auto all_active = [&](size_t except) {
    auto v = states();
    for (size_t i = 0; i < v.size(); i++)
      if (i != except && v[i] != PathState::kActive) return false;
    return true;
  };
  auto wait_all_active = [&](double seconds) {
    auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (!all_active(SIZE_MAX)) {
      if (Clock::now() > end) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return true;
  };
  if (!wait_all_active(30)) {
    fprintf(stderr, "mpio_soak: not every path is active before the run\n");
    return 2;
  }
  const size_t n = states().size();
  std::vector<int> flaps_per_path(n, 0);

  std::vector<SoakSample> samples;
  std::atomic<uint64_t> ios{0};
  int flaps = 0;
  const Clock::time_point t0 = Clock::now();
  auto sample = [&] {
    auto s = ReadProcStats();
    if (!s.ok()) {
      fprintf(stderr, "mpio_soak: %s\n", s.status().ToString().c_str());
      return;
    }
    SoakSample x;
    x.t_s = std::chrono::duration<double>(Clock::now() - t0).count();
    x.stats = *s;
    x.ios = ios.load();
    x.flaps = flaps;
    samples.push_back(x);
    fprintf(
        stderr, "t=%5.0fs rss=%llu KiB fds=%d threads=%d ios=%llu flaps=%d\n",
        x.t_s, static_cast<unsigned long long>(x.stats.rss_kib), x.stats.fds,
        x.stats.threads, static_cast<unsigned long long>(x.ios), x.flaps);
  };
  sample();  // baseline: every path up, no workload yet

  spec->duration = *duration;
  spec->working_set_bytes = static_cast<uint64_t>(o.working_set_mib) << 20;
  spec->verify = true;
  absl::StatusOr<WorkloadResult> result;
  std::atomic<bool> load_done{false};
  std::thread load([&] {
    result = RunWorkload(d, *spec, [&](const Progress& p) { ios = p.ios; });
    load_done = true;
  });

  const auto step =
      std::chrono::duration<double>(absl::ToDoubleSeconds(*interval));
  auto next_sample = t0 + std::chrono::duration_cast<Clock::duration>(step);
  // Sleeps until `until`, taking the samples that fall due meanwhile.
  auto wait_until = [&](Clock::time_point until) {
    while (Clock::now() < until && !load_done) {
      if (Clock::now() >= next_sample) {
        sample();
        next_sample += std::chrono::duration_cast<Clock::duration>(step);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  };
  auto ms = [](int v) { return std::chrono::milliseconds(v); };
  const Clock::time_point flap_end =
      t0 +
      std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(absl::ToDoubleSeconds(*duration))) -
      std::chrono::seconds(15);  // the last flap heals before the load ends
  std::mt19937 rng(o.seed);
  int fault_errors = 0;
  wait_until(Clock::now() + std::chrono::seconds(5));
  while (Clock::now() < flap_end && flaps < o.max_flaps && !load_done) {
    size_t victim = rng() % n;
    // Only from "every path active": each flap then really takes a path
    // out, and never the last usable one.
    if (!all_active(SIZE_MAX)) {
      wait_until(Clock::now() + ms(500));
      continue;
    }
    const bool bh = rng() % 2;
    const int path = static_cast<int>(victim) + 1;
    auto fault = [&](const char* what) {
      auto r = Shell(absl::StrCat("bash ", o.lab_script, " fault --name ",
                                  o.lab, " --path ", path, " ", what));
      if (!r.ok()) {
        fault_errors++;
        fprintf(stderr, "mpio_soak: %s\n", r.status().ToString().c_str());
      }
    };
    fault(bh ? "blackhole" : "link-down");
    wait_until(Clock::now() + ms(2000 + static_cast<int>(rng() % 3000)));
    fault(bh ? "unblackhole" : "link-up");
    flaps++;
    flaps_per_path[victim]++;
    wait_until(Clock::now() + ms(3000 + static_cast<int>(rng() % 5000)));
  }
  while (!load_done) wait_until(Clock::now() + std::chrono::seconds(1));
  load.join();
  const bool back = wait_all_active(90);
  // Retired sessions are freed a reactor turn later; give them that turn.
  e->RunOnReactor([] {});
  sample();  // after: faults healed, every path back, workload gone

  if (!result.ok()) {
    fprintf(stderr, "mpio_soak: workload: %s\n",
            result.status().ToString().c_str());
    return 2;
  }
  SoakVerdict v = JudgeSoak(samples, result->errors, result->verify_failures);
  if (!back) {
    v.pass = false;
    v.problems.push_back("not every path came back within 90 s after the run");
  }
  if (fault_errors) {
    v.pass = false;
    v.problems.push_back(
        absl::StrCat(fault_errors, " lab.sh fault commands failed"));
  }
  std::string paths;
  e->RunOnReactor([&] {
    for (size_t i = 0; i < d->paths().size(); i++) {
      const auto& p = d->paths()[i];
      absl::StrAppend(&paths, "| ", p->name(), " | ",
                      i < n ? flaps_per_path[i] : 0, " | ",
                      p->counters().failures, " | ", p->counters().redriven,
                      " | ", PathStateName(p->state()), " |\n");
    }
  });
  printf(
      "# mpio soak: lab %s, %zu paths, %s with verify, working set %d MiB, "
      "%s\n\n",
      o.lab.c_str(), n, o.workload.c_str(), o.working_set_mib,
      absl::FormatDuration(*duration).c_str());
  printf("%s\n", FormatSoakTable(samples).c_str());
  printf(
      "| path | flaps | failures | re-driven | state at end |\n"
      "|---|---:|---:|---:|---|\n%s\n",
      paths.c_str());
  printf(
      "workload: %llu I/Os (%.0f IOPS), %llu errors%s%s, %llu verify failures; "
      "%d flaps\n\n",
      static_cast<unsigned long long>(result->ios), result->iops(),
      static_cast<unsigned long long>(result->errors),
      result->first_error.empty() ? "" : ", first: ",
      result->first_error.c_str(),
      static_cast<unsigned long long>(result->verify_failures), flaps);
  printf("%s", FormatSoakVerdict(v).c_str());
  e->Shutdown();
  return v.pass ? 0 : 1;
}

}  // namespace
}  // namespace mpio::bench

int main(int argc, char** argv) {
  mpio::bench::Options o;
  CLI::App app{
      "mpio_soak: memory/fd/thread soak under random single-path flaps"};
  app.add_option("--lab", o.lab,
                 "lab name (tests/lab/lab.sh up --name NAME --paths 2)");
  app.add_option("--duration", o.duration, "how long: seconds or 10m, 90s");
  app.add_option("--sample-interval", o.sample_interval,
                 "RSS/fd/thread sampling period");
  app.add_option("--max-flaps", o.max_flaps, "at most this many path flaps");
  app.add_option("--workload", o.workload,
                 "PATTERN:BLOCK:qdDEPTH (always verified)");
  app.add_option("--working-set-mib", o.working_set_mib,
                 "working set of the workload");
  app.add_option("--seed", o.seed, "seed of the flap schedule");
  app.add_option("--lab-script", o.lab_script, "path of tests/lab/lab.sh");
  app.add_option("--plugin-dir", o.plugin_dir, "SATP/PSP plugin directory");
  CLI11_PARSE(app, argc, argv);
  return mpio::bench::Run(o);
}
