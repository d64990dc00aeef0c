#include "mpio/bench_command.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "bench/workload.h"
#include "mpio/format.h"
#include "mpio/target_options.h"

namespace mpio::cli {
namespace {

struct BenchArgs {
  TargetOptions target;
  std::string device;
  std::string policies;
  std::vector<std::string> workloads;
  double duration_s = 10;
  double ramp_s = 0;
  std::string working_set = "";
  bool allow_writes = false;
  bool force = false;
  bool verify = false;
  bool json = false;
  std::string out_dir;
};

struct Policy {
  std::string text, name, options;
};

std::vector<Policy> ParsePolicies(const std::string& text) {
  std::vector<Policy> out;
  size_t start = 0;
  // Policies are separated by ',' but PSP options use ';' inside one
  // policy, so "rr:policy=bytes;bytes=1048576,lqd" splits into two.
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) {
      Policy p{item, item, ""};
      size_t colon = item.find(':');
      if (colon != std::string::npos) {
        p.name = item.substr(0, colon);
        p.options = item.substr(colon + 1);
      }
      out.push_back(p);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

struct PathSnapshot {
  std::string name;
  uint64_t ios = 0, bytes = 0;
};

std::vector<PathSnapshot> Snapshot(Engine* engine, MultipathDevice* d) {
  std::vector<PathSnapshot> s;
  engine->RunOnReactor([&] {
    for (const auto& p : d->paths()) {
      const auto& c = p->counters();
      s.push_back({p->name(), c.reads + c.writes, c.bytes_read + c.bytes_written});
    }
  });
  return s;
}

// Refuses to write over data: reads a few spots and checks they are zero.
absl::Status CheckLooksEmpty(BlockDevice* dev) {
  const uint64_t size = dev->geometry().size_bytes;
  std::vector<uint8_t> buf(1 << 20);
  for (uint64_t off : {uint64_t{0}, size / 2 / (1 << 20) * (1 << 20), size - (1 << 20)}) {
    if (off + buf.size() > size) continue;
    iovec iov{buf.data(), buf.size()};
    IoRequest r;
    r.op = IoOp::kRead;
    r.offset = off;
    r.length = buf.size();
    r.iov = &iov;
    r.iovcnt = 1;
    absl::Notification done;
    absl::Status status;
    struct Ctx { absl::Notification* n; absl::Status* s; } ctx{&done, &status};
    r.user = &ctx;
    r.done = [](IoRequest* req, const absl::Status& s) {
      auto* c = static_cast<Ctx*>(req->user);
      *c->s = s;
      c->n->Notify();
    };
    dev->Submit(&r);
    done.WaitForNotification();
    if (!status.ok()) return status;
    for (uint8_t b : buf) {
      if (b != 0) {
        return absl::FailedPreconditionError(absl::StrCat(
            "device ", dev->geometry().name, " has data at offset ", off,
            "; a write benchmark would destroy it. Use an empty LUN, or pass --force"));
      }
    }
  }
  return absl::OkStatus();
}

int RunBench(const BenchArgs& a) {
  auto spec = MakeTargetSpec(a.target);
  if (!spec.ok()) {
    std::cerr << "mpio bench: " << spec.status().message() << "\n";
    return 2;
  }
  std::vector<bench::WorkloadSpec> workloads;
  for (const auto& w : a.workloads.empty() ? std::vector<std::string>{"randread:4k:qd32"}
                                           : a.workloads) {
    auto ws = bench::ParseWorkload(w);
    if (!ws.ok()) {
      std::cerr << "mpio bench: " << ws.status().message() << "\n";
      return 2;
    }
    if (bench::PatternWrites(ws->pattern) && !a.allow_writes) {
      std::cerr << "mpio bench: workload '" << w
                << "' writes to the LUN; pass --allow-writes if the LUN holds nothing you need\n";
      return 2;
    }
    ws->duration = absl::Seconds(a.duration_s);
    ws->ramp = absl::Seconds(a.ramp_s);
    ws->verify = a.verify;
    if (!a.working_set.empty()) {
      auto probe = bench::ParseWorkload("read:" + a.working_set + ":qd1");
      if (!probe.ok()) {
        std::cerr << "mpio bench: --working-set '" << a.working_set << "' is not a size\n";
        return 2;
      }
      ws->working_set_bytes = probe->block_size;
    }
    workloads.push_back(*ws);
  }
  std::vector<Policy> policies = ParsePolicies(a.policies);
  auto engine_or = Engine::Create(MakeEngineOptions(a.target));
  if (!engine_or.ok()) {
    std::cerr << "mpio bench: " << engine_or.status().message() << "\n";
    return 1;
  }
  Engine* engine = engine_or->get();
  auto report = engine->AddTarget(*spec);
  if (!report.ok()) {
    std::cerr << "mpio bench: " << report.status().message() << "\n";
    return 1;
  }
  for (auto& p : report->portals) {
    if (!p.error.empty()) std::cerr << "warning: " << p.error << "\n";
  }
  MultipathDevice* dev = a.device.empty() ? (report->devices.empty() ? nullptr : report->devices[0])
                                          : engine->FindDevice(a.device);
  if (dev == nullptr) {
    std::cerr << "mpio bench: no device" << (a.device.empty() ? "" : " '" + a.device + "'")
              << " found\n";
    return 1;
  }
  if (a.allow_writes && !a.force) {
    absl::Status empty = CheckLooksEmpty(dev);
    if (!empty.ok()) {
      std::cerr << "mpio bench: " << empty.message() << "\n";
      return 1;
    }
  }
  if (policies.empty()) {
    std::string current;
    engine->RunOnReactor([&] { current = dev->psp() ? dev->psp()->name() : "builtin"; });
    policies.push_back({current + " (as claimed)", "", ""});
  }
  std::cout << "Device " << dev->identity() << ", " << HumanBytes(dev->geometry().size_bytes)
            << ", " << dev->paths().size() << " paths\n";
  nlohmann::json results = nlohmann::json::array();
  std::vector<std::vector<std::string>> rows = {{"POLICY", "WORKLOAD", "IOPS", "MiB/s", "p50 us",
                                                 "p99 us", "p99.9 us", "max us", "CPU us/IO",
                                                 "ERRORS", "PATH SHARE (I/Os)"}};
  for (const auto& pol : policies) {
    if (!pol.name.empty()) {
      absl::Status set;
      engine->RunOnReactor([&] { set = engine->SetPsp(dev, pol.name, pol.options); });
      if (!set.ok()) {
        std::cerr << "mpio bench: policy '" << pol.text << "': " << set.message() << "\n";
        return 2;
      }
    }
    for (const auto& w : workloads) {
      auto before = Snapshot(engine, dev);
      const bool tty = isatty(STDERR_FILENO);
      auto result = bench::RunWorkload(dev, w, [&](const bench::Progress& p) {
        std::string line = absl::StrFormat(
            "  %s %s: %5.1fs %8.0f IOPS %7.1f MiB/s errors %d", pol.text, w.text, p.elapsed_s,
            p.elapsed_s > 0 ? p.ios / p.elapsed_s : 0,
            p.elapsed_s > 0 ? p.bytes / p.elapsed_s / (1 << 20) : 0, p.errors);
        if (tty) std::cerr << "\r" << line << std::flush;
      });
      if (tty) std::cerr << "\r" << std::string(100, ' ') << "\r";
      if (!result.ok()) {
        std::cerr << "mpio bench: " << result.status().message() << "\n";
        return 1;
      }
      auto after = Snapshot(engine, dev);
      uint64_t total = 0;
      for (size_t i = 0; i < after.size(); i++) total += after[i].ios - before[i].ios;
      std::vector<std::string> share;
      nlohmann::json paths = nlohmann::json::array();
      for (size_t i = 0; i < after.size(); i++) {
        uint64_t ios = after[i].ios - before[i].ios;
        uint64_t bytes = after[i].bytes - before[i].bytes;
        share.push_back(absl::StrFormat("p%d %.0f%%", i, total ? 100.0 * ios / total : 0));
        paths.push_back({{"path", after[i].name}, {"ios", ios}, {"bytes", bytes}});
      }
      const auto& r = *result;
      double cpu_us = r.ios ? r.cpu_seconds * 1e6 / r.ios : 0;
      rows.push_back({pol.text, w.text, absl::StrFormat("%.0f", r.iops()),
                      absl::StrFormat("%.1f", r.mib_per_s()),
                      absl::StrFormat("%.0f", r.latency.PercentileUs(50)),
                      absl::StrFormat("%.0f", r.latency.PercentileUs(99)),
                      absl::StrFormat("%.0f", r.latency.PercentileUs(99.9)),
                      absl::StrFormat("%.0f", r.latency.max_ns / 1000.0),
                      absl::StrFormat("%.1f", cpu_us),
                      absl::StrCat(r.errors + r.verify_failures), absl::StrJoin(share, " ")});
      results.push_back({{"policy", pol.text}, {"workload", w.text}, {"iops", r.iops()},
                         {"mib_per_s", r.mib_per_s()}, {"p50_us", r.latency.PercentileUs(50)},
                         {"p99_us", r.latency.PercentileUs(99)},
                         {"p999_us", r.latency.PercentileUs(99.9)},
                         {"max_us", r.latency.max_ns / 1000.0}, {"cpu_us_per_io", cpu_us},
                         {"errors", r.errors}, {"verify_failures", r.verify_failures},
                         {"seconds", r.seconds}, {"paths", paths},
                         {"first_error", r.first_error}});
      if (!r.first_error.empty()) std::cerr << "first error: " << r.first_error << "\n";
    }
  }
  std::cout << Table(rows);
  // Per-path totals over the whole run, like `mpio path list`.
  std::vector<std::vector<std::string>> prow = {{"PATH", "STATE", "READS", "WRITES", "BYTES",
                                                 "ERRORS", "AVG LAT us"}};
  engine->RunOnReactor([&] {
    for (const auto& p : dev->paths()) {
      const auto& c = p->counters();
      prow.push_back({p->name(), PathStateName(p->state()), absl::StrCat(c.reads),
                      absl::StrCat(c.writes), HumanBytes(c.bytes_read + c.bytes_written),
                      absl::StrCat(c.errors),
                      absl::StrFormat("%.0f", c.completed ? c.latency_ns_sum / 1000.0 / c.completed : 0)});
    }
  });
  std::cout << "\n" << Table(prow);
  if (a.json) std::cout << results.dump(2) << "\n";
  if (!a.out_dir.empty()) {
    std::ofstream out(a.out_dir + "/results.json");
    out << results.dump(2) << "\n";
  }
  uint64_t bad = 0;
  for (auto& r : results) bad += r["errors"].get<uint64_t>() + r["verify_failures"].get<uint64_t>();
  engine->Shutdown();
  return bad ? 4 : 0;
}

}  // namespace

void AddBenchCommand(CLI::App* app) {
  auto args = std::make_shared<BenchArgs>();
  auto* cmd = app->add_subcommand(
      "bench",
      "Benchmark path selection policies on a real target, in-process (no frontend).\n"
      "Example: mpio bench -p 198.18.0.2 -p 198.18.0.6 --policies \"rr:iops=1,lqd,st\" "
      "--workload randread:4k:qd32 --duration 10\n"
      "Exit status: 0 ok, 4 I/O errors or verify failures seen, 1 setup failed, 2 bad arguments.");
  AddTargetOptions(cmd, &args->target);
  cmd->add_option("--device,-d", args->device, "Device identity (default: the first found)");
  cmd->add_option("--policies", args->policies,
                  "Comma-separated PSPs with options after ':', e.g. "
                  "\"fixed,mru,rr:iops=1,rr:policy=bytes;bytes=1048576,rr:policy=latency,lqd,st\" "
                  "(default: the claimed PSP)");
  cmd->add_option("--workload,-w", args->workloads,
                  "PATTERN:BLOCK:qdN[:rwmixread=N], repeatable (default randread:4k:qd32)");
  cmd->add_option("--duration", args->duration_s, "Seconds per policy and workload")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 86400.0));
  cmd->add_option("--ramp", args->ramp_s, "Seconds of warm-up not measured")
      ->check(CLI::Range(0.0, 3600.0));
  cmd->add_option("--working-set", args->working_set, "Bytes of the LUN to use, e.g. 64m");
  cmd->add_flag("--allow-writes", args->allow_writes,
                "Allow workloads that write (refuses a LUN that is not empty-looking)");
  cmd->add_flag("--force", args->force, "With --allow-writes: write even over data");
  cmd->add_flag("--verify", args->verify, "Stamp written blocks and check every read");
  cmd->add_flag("--json", args->json, "Also print the results as JSON");
  cmd->add_option("--out", args->out_dir, "Write results.json into this directory");
  cmd->callback([args] { throw CLI::RuntimeError(RunBench(*args)); });
}

}  // namespace mpio::cli
