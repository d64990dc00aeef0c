#include "mpio/bench_command.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/fio_job.h"
#include "bench/report.h"
#include "bench/workload.h"
#include "engine/base/sync.h"
#include "mpio/format.h"
#include "mpio/target_options.h"
#include "nbd/server.h"

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
  std::string via = "in-process";
  std::string nbd_uri;  // external NBD server: no engine
  std::string label = "external";
  int server_pid = 0;
  std::string fio = "fio";
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
    std::string item = text.substr(
        start, comma == std::string::npos ? std::string::npos : comma - start);
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
      s.push_back(
          {p->name(), c.reads + c.writes, c.bytes_read + c.bytes_written});
    }
  });
  return s;
}

// Refuses to write over data: reads a few spots and checks they are zero.
absl::Status CheckLooksEmpty(BlockDevice* dev) {
  const uint64_t size = dev->geometry().size_bytes;
  std::vector<uint8_t> buf(1 << 20);
  for (uint64_t off :
       {uint64_t{0}, size / 2 / (1 << 20) * (1 << 20), size - (1 << 20)}) {
    if (off + buf.size() > size) continue;
    iovec iov{buf.data(), buf.size()};
    IoRequest r;
    r.op = IoOp::kRead;
    r.offset = off;
    r.length = buf.size();
    r.iov = &iov;
    r.iovcnt = 1;
    Notification done;
    absl::Status status;
    struct Ctx {
      Notification* n;
      absl::Status* s;
    } ctx{&done, &status};
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
            "; a write benchmark would destroy it. Use an empty LUN, or pass "
            "--force"));
      }
    }
  }
  return absl::OkStatus();
}

// Process CPU seconds of another process (the external NBD server), from
// /proc/PID/stat utime+stime; -1 when unreadable.
double ProcessCpuSeconds(int pid) {
  std::ifstream f(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(f)),
                   std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  if (paren == std::string::npos) return -1;
  std::vector<std::string> fields = absl::StrSplit(text.substr(paren + 2), ' ');
  // After "pid (comm) ", field 3 (state) is index 0; utime/stime are 14/15.
  if (fields.size() < 13) return -1;
  double ut = 0, st = 0;
  if (!absl::SimpleAtod(fields[11], &ut) || !absl::SimpleAtod(fields[12], &st))
    return -1;
  return (ut + st) / sysconf(_SC_CLK_TCK);
}

double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// The device exported over NBD on a Unix socket in a private temp dir, on
// its own reactor, for `--via nbd`. Torn down by the destructor.
class NbdExport {
 public:
  static absl::StatusOr<std::unique_ptr<NbdExport>> Start(BlockDevice* device) {
    auto e = std::unique_ptr<NbdExport>(new NbdExport());
    char dir[] = "/tmp/mpio-bench.XXXXXX";
    if (mkdtemp(dir) == nullptr) {
      return absl::InternalError(
          absl::StrCat("mkdtemp: ", std::strerror(errno)));
    }
    e->dir_ = dir;
    auto reactor = Reactor::Create("bench-nbd");
    if (!reactor.ok()) return reactor.status();
    e->reactor_ = std::move(*reactor);
    auto server = NbdServer::Create(e->reactor_.get());
    if (!server.ok()) return server.status();
    e->server_ = std::move(*server);
    absl::Status s = e->server_->AddExport(kName, device);
    if (!s.ok()) return s;
    s = e->server_->ListenUnix(e->socket());
    if (!s.ok()) return s;
    e->reactor_->Start();
    e->started_ = true;
    return e;
  }
  ~NbdExport() {
    if (server_ && started_) server_->Stop();
    server_.reset();
    if (reactor_ && started_) {
      reactor_->Stop();
      reactor_->Join();
    }
    if (!dir_.empty()) {
      unlink(socket().c_str());
      rmdir(dir_.c_str());
    }
  }
  std::string socket() const { return dir_ + "/nbd.sock"; }
  std::string uri() const {
    return absl::StrCat("nbd+unix:///", kName, "?socket=", socket());
  }
  NbdExportStats stats() const {
    auto s = server_->GetStats(kName);
    return s.ok() ? *s : NbdExportStats{};
  }

 private:
  static constexpr const char* kName = "mpio";
  NbdExport() = default;
  std::string dir_;
  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<NbdServer> server_;
  bool started_ = false;
};

class ProgressLine {
 public:
  ProgressLine() : tty_(isatty(STDERR_FILENO)) {}
  void Show(const std::string& label, double elapsed, uint64_t ios,
            uint64_t bytes, uint64_t errors) {
    if (!tty_) return;
    std::cerr << "\r"
              << absl::StrFormat(
                     "  %s: %5.1fs %8.0f IOPS %7.1f MiB/s errors %d", label,
                     elapsed, elapsed > 0 ? ios / elapsed : 0,
                     elapsed > 0 ? bytes / elapsed / (1 << 20) : 0, errors)
              << std::flush;
  }
  void Clear() {
    if (tty_) std::cerr << "\r" << std::string(110, ' ') << "\r" << std::flush;
  }

 private:
  bool tty_;
};

std::string CommandLine(const BenchArgs& a) {
  std::vector<std::string> parts = {"mpio bench"};
  for (const auto& p : a.target.portals) parts.push_back("-p " + p);
  if (!a.nbd_uri.empty()) parts.push_back("--nbd-uri '" + a.nbd_uri + "'");
  if (!a.policies.empty()) parts.push_back("--policies '" + a.policies + "'");
  for (const auto& w : a.workloads) parts.push_back("-w " + w);
  parts.push_back(absl::StrCat("--duration ", a.duration_s));
  if (a.ramp_s > 0) parts.push_back(absl::StrCat("--ramp ", a.ramp_s));
  if (!a.working_set.empty()) parts.push_back("--working-set " + a.working_set);
  parts.push_back("--via " + a.via);
  if (a.verify) parts.push_back("--verify");
  return absl::StrJoin(parts, " ");
}

// Prints the table and writes the files; returns the exit status.
int Finish(const BenchArgs& a, const bench::BenchReport& report) {
  std::vector<std::vector<std::string>> rows = {
      {"POLICY", "VIA", "WORKLOAD", "IOPS", "MiB/s", "p50 us", "p99 us",
       "p99.9 us", "max us", "CPU us/IO", "ERRORS", "PATH SHARE (I/Os)"}};
  uint64_t bad = 0;
  for (const auto& r : report.rows) {
    uint64_t total = 0;
    for (const auto& p : r.paths) total += p.ios;
    std::vector<std::string> share;
    for (size_t i = 0; i < r.paths.size(); i++) {
      share.push_back(absl::StrFormat(
          "p%d %.0f%%", i, total ? 100.0 * r.paths[i].ios / total : 0));
    }
    rows.push_back(
        {r.policy, r.via, r.workload, absl::StrFormat("%.0f", r.iops),
         absl::StrFormat("%.1f", r.mib_per_s),
         absl::StrFormat("%.0f", r.p50_us), absl::StrFormat("%.0f", r.p99_us),
         absl::StrFormat("%.0f", r.p999_us), absl::StrFormat("%.0f", r.max_us),
         absl::StrFormat("%.1f", r.cpu_us_per_io),
         absl::StrCat(r.errors + r.verify_failures),
         share.empty() ? "-" : absl::StrJoin(share, " ")});
    bad += r.errors + r.verify_failures;
  }
  std::cout << Table(rows);
  if (a.json) std::cout << bench::ResultsJson(report).dump(2) << "\n";
  if (!a.out_dir.empty()) {
    absl::Status w = bench::WriteReport(report, a.out_dir);
    if (!w.ok()) {
      std::cerr << "mpio bench: " << w.message() << "\n";
      return 1;
    }
    std::cout << "Report: " << a.out_dir << "/report.md\n";
  }
  return bad ? 4 : 0;
}

// `--nbd-uri`: the same fio jobs against someone else's NBD server (the
// peer comparison, e.g. qemu-nbd), no engine.
int RunExternal(const BenchArgs& a,
                const std::vector<bench::WorkloadSpec>& workloads,
                bench::BenchReport report) {
  report.target = a.nbd_uri;
  report.device = a.server_pid
                      ? absl::StrCat("external NBD server, pid ", a.server_pid)
                      : "external NBD server";
  ProgressLine progress;
  for (const auto& w : workloads) {
    bench::ReportRow row;
    row.policy = a.label;
    row.workload = w.text;
    row.via = "nbd-external";
    double cpu0 = a.server_pid ? ProcessCpuSeconds(a.server_pid) : -1;
    absl::Status s = bench::RunFio(
        w, a.nbd_uri, &row,
        [&](double t) {
          progress.Show(absl::StrCat(a.label, " ", w.text, " (fio)"), t, 0, 0,
                        0);
        },
        a.fio);
    progress.Clear();
    if (!s.ok()) {
      std::cerr << "mpio bench: " << s.message() << "\n";
      return 1;
    }
    double cpu1 = a.server_pid ? ProcessCpuSeconds(a.server_pid) : -1;
    if (cpu0 >= 0 && cpu1 >= 0 && row.ios)
      row.cpu_us_per_io = (cpu1 - cpu0) * 1e6 / row.ios;
    if (!row.first_error.empty())
      std::cerr << "first error: " << row.first_error << "\n";
    report.rows.push_back(std::move(row));
  }
  return Finish(a, report);
}

int RunBench(const BenchArgs& a) {
  if (a.via != "in-process" && a.via != "nbd") {
    std::cerr << "mpio bench: --via '" << a.via
              << "': expected in-process or nbd\n";
    return 2;
  }
  const bool via_nbd = a.via == "nbd" || !a.nbd_uri.empty();
  if (via_nbd && a.verify) {
    std::cerr << "mpio bench: --verify runs in-process only (fio's verify does "
                 "not fit a "
                 "time-based job); drop --verify or --via nbd\n";
    return 2;
  }
  if (a.nbd_uri.empty() && a.target.portals.empty()) {
    std::cerr << "mpio bench: give --portal (or --nbd-uri for an external NBD "
                 "server)\n";
    return 2;
  }
  std::vector<bench::WorkloadSpec> workloads;
  for (const auto& w : a.workloads.empty()
                           ? std::vector<std::string>{"randread:4k:qd32"}
                           : a.workloads) {
    auto ws = bench::ParseWorkload(w);
    if (!ws.ok()) {
      std::cerr << "mpio bench: " << ws.status().message() << "\n";
      return 2;
    }
    if (bench::PatternWrites(ws->pattern) && !a.allow_writes) {
      std::cerr << "mpio bench: workload '" << w
                << "' writes to the LUN; pass --allow-writes if the LUN holds "
                   "nothing you need\n";
      return 2;
    }
    ws->duration = absl::Seconds(a.duration_s);
    ws->ramp = absl::Seconds(a.ramp_s);
    ws->verify = a.verify;
    if (!a.working_set.empty()) {
      auto probe = bench::ParseWorkload("read:" + a.working_set + ":qd1");
      if (!probe.ok()) {
        std::cerr << "mpio bench: --working-set '" << a.working_set
                  << "' is not a size\n";
        return 2;
      }
      ws->working_set_bytes = probe->block_size;
    }
    workloads.push_back(*ws);
  }
  if (!a.out_dir.empty()) {
    // Before the run: a typo in --out should not cost a long benchmark.
    absl::Status ok = bench::PrepareOutputDir(a.out_dir);
    if (!ok.ok()) {
      std::cerr << "mpio bench: --out: " << ok.message() << "\n";
      return 2;
    }
  }
  bench::BenchReport report;
  report.machine = bench::CollectMachineInfo();
  report.command = CommandLine(a);
  if (!a.nbd_uri.empty()) return RunExternal(a, workloads, std::move(report));

  auto spec = MakeTargetSpec(a.target);
  if (!spec.ok()) {
    std::cerr << "mpio bench: " << spec.status().message() << "\n";
    return 2;
  }
  std::vector<Policy> policies = ParsePolicies(a.policies);
  auto engine_or = Engine::Create(MakeEngineOptions(a.target));
  if (!engine_or.ok()) {
    std::cerr << "mpio bench: " << engine_or.status().message() << "\n";
    return 1;
  }
  Engine* engine = engine_or->get();
  auto found = engine->AddTarget(*spec);
  if (!found.ok()) {
    std::cerr << "mpio bench: " << found.status().message() << "\n";
    return 1;
  }
  for (auto& p : found->portals) {
    if (!p.error.empty()) std::cerr << "warning: " << p.error << "\n";
  }
  MultipathDevice* dev =
      a.device.empty() ? (found->devices.empty() ? nullptr : found->devices[0])
                       : engine->FindDevice(a.device);
  if (dev == nullptr) {
    std::cerr << "mpio bench: no device"
              << (a.device.empty() ? "" : " '" + a.device + "'") << " found\n";
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
    engine->RunOnReactor(
        [&] { current = dev->psp() ? dev->psp()->name() : "builtin"; });
    policies.push_back({current + " (as claimed)", "", ""});
  }
  // Refuse a bad policy before anything runs.
  for (const auto& pol : policies) {
    if (pol.name.empty()) continue;
    absl::Status set;
    engine->RunOnReactor(
        [&] { set = engine->SetPsp(dev, pol.name, pol.options); });
    if (!set.ok()) {
      std::cerr << "mpio bench: policy '" << pol.text << "': " << set.message()
                << "\n";
      return 2;
    }
  }
  report.target = absl::StrJoin(a.target.portals, ", ");
  if (!a.target.target.empty())
    absl::StrAppend(&report.target, " (", a.target.target, ")");
  report.device = absl::StrCat(dev->identity(), ", ",
                               HumanBytes(dev->geometry().size_bytes), ", ",
                               dev->paths().size(), " paths");
  std::cout << "Device " << report.device << "\n";
  std::unique_ptr<NbdExport> nbd;
  if (via_nbd) {
    auto e = NbdExport::Start(dev);
    if (!e.ok()) {
      std::cerr << "mpio bench: cannot export the device over NBD: "
                << e.status().message() << "\n";
      return 1;
    }
    nbd = std::move(*e);
  }
  ProgressLine progress;
  for (const auto& pol : policies) {
    if (!pol.name.empty()) {
      absl::Status set;
      engine->RunOnReactor(
          [&] { set = engine->SetPsp(dev, pol.name, pol.options); });
      if (!set.ok()) {
        std::cerr << "mpio bench: policy '" << pol.text
                  << "': " << set.message() << "\n";
        return 2;
      }
    }
    for (const auto& w : workloads) {
      const std::string label = absl::StrCat(pol.text, " ", w.text);
      auto before = Snapshot(engine, dev);
      bench::ReportRow row;
      row.policy = pol.text;
      row.workload = w.text;
      if (nbd) {
        row.via = "nbd";
        const NbdExportStats s0 = nbd->stats();
        const double cpu0 = SelfCpuSeconds();
        absl::Status s = bench::RunFio(
            w, nbd->uri(), &row,
            [&](double t) {
              NbdExportStats s1 = nbd->stats();
              progress.Show(label + " (nbd)", t, s1.requests - s0.requests,
                            s1.bytes_read + s1.bytes_written - s0.bytes_read -
                                s0.bytes_written,
                            s1.errors - s0.errors);
            },
            a.fio);
        progress.Clear();
        if (!s.ok()) {
          std::cerr << "mpio bench: " << s.message() << "\n";
          return 1;
        }
        // This process's CPU: engine and NBD server; fio's own is not in it.
        if (row.ios)
          row.cpu_us_per_io = (SelfCpuSeconds() - cpu0) * 1e6 / row.ios;
      } else {
        row.via = "in-process";
        auto result = bench::RunWorkload(dev, w, [&](const bench::Progress& p) {
          progress.Show(label, p.elapsed_s, p.ios, p.bytes, p.errors);
        });
        progress.Clear();
        if (!result.ok()) {
          std::cerr << "mpio bench: " << result.status().message() << "\n";
          return 1;
        }
        const auto& r = *result;
        row.iops = r.iops();
        row.mib_per_s = r.mib_per_s();
        row.ios = r.ios;
        row.seconds = r.seconds;
        row.errors = r.errors;
        row.verify_failures = r.verify_failures;
        row.first_error = r.first_error;
        row.cpu_us_per_io = r.ios ? r.cpu_seconds * 1e6 / r.ios : 0;
        bench::FillLatency(r.latency, &row);
      }
      auto after = Snapshot(engine, dev);
      for (size_t i = 0; i < after.size(); i++) {
        uint64_t ios = after[i].ios - (i < before.size() ? before[i].ios : 0);
        uint64_t bytes =
            after[i].bytes - (i < before.size() ? before[i].bytes : 0);
        row.paths.push_back({after[i].name, ios, bytes});
      }
      if (!row.first_error.empty())
        std::cerr << "first error: " << row.first_error << "\n";
      report.rows.push_back(std::move(row));
    }
  }
  nbd.reset();
  int rc = Finish(a, report);
  // Per-path totals over the whole run, like `mpio path list`.
  std::vector<std::vector<std::string>> prow = {
      {"PATH", "STATE", "READS", "WRITES", "BYTES", "ERRORS", "AVG LAT us"}};
  engine->RunOnReactor([&] {
    for (const auto& p : dev->paths()) {
      const auto& c = p->counters();
      prow.push_back(
          {p->name(), PathStateName(p->state()), absl::StrCat(c.reads),
           absl::StrCat(c.writes), HumanBytes(c.bytes_read + c.bytes_written),
           absl::StrCat(c.errors),
           absl::StrFormat("%.0f", c.completed
                                       ? c.latency_ns_sum / 1000.0 / c.completed
                                       : 0)});
    }
  });
  std::cout << "\n" << Table(prow);
  engine->Shutdown();
  return rc;
}

}  // namespace

void AddBenchCommand(CLI::App* app) {
  auto args = std::make_shared<BenchArgs>();
  auto* cmd =
      app->add_subcommand("bench",
                          "Benchmark path selection policies on a real target, "
                          "in-process or through the NBD "
                          "export (fio), and write a report with charts.\n"
                          "Example: mpio bench -p 198.18.0.2 -p 198.18.0.6 "
                          "--policies \"rr:iops=1,lqd,st\" "
                          "--workload randread:4k:qd32 --duration 10\n"
                          "Exit status: 0 ok, 4 I/O errors or verify failures "
                          "seen, 1 setup failed, 2 bad arguments.");
  AddTargetOptions(cmd, &args->target, /*portals_required=*/false);
  cmd->add_option("--device,-d", args->device,
                  "Device identity (default: the first found)");
  cmd->add_option("--policies", args->policies,
                  "Comma-separated PSPs with options after ':', e.g. "
                  "\"fixed,mru,rr:iops=1,rr:policy=bytes;bytes=1048576,rr:"
                  "policy=latency,lqd,st\" "
                  "(default: the claimed PSP)");
  cmd->add_option(
      "--workload,-w", args->workloads,
      "PATTERN:BLOCK:qdN[:rwmixread=N], repeatable (default randread:4k:qd32)");
  cmd->add_option("--duration", args->duration_s,
                  "Seconds per policy and workload")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 86400.0));
  cmd->add_option("--ramp", args->ramp_s, "Seconds of warm-up not measured")
      ->check(CLI::Range(0.0, 3600.0));
  cmd->add_option("--working-set", args->working_set,
                  "Bytes of the LUN to use, e.g. 64m");
  cmd->add_flag(
      "--allow-writes", args->allow_writes,
      "Allow workloads that write (refuses a LUN that is not empty-looking)");
  cmd->add_flag("--force", args->force,
                "With --allow-writes: write even over data");
  cmd->add_flag("--verify", args->verify,
                "Stamp written blocks and check every read");
  cmd->add_flag("--json", args->json, "Also print the results as JSON");
  cmd->add_option(
      "--out", args->out_dir,
      "Write report.md, results.csv, results.json and SVG charts (throughput, "
      "per-path share, latency CDF) into this directory (created if missing)");
  cmd->add_option("--via", args->via,
                  "in-process: the workload drives the engine directly; nbd: "
                  "fio's nbd engine "
                  "drives an NBD export of the device on a private Unix socket")
      ->capture_default_str();
  cmd->add_option("--nbd-uri", args->nbd_uri,
                  "Run the same fio jobs against another NBD server (e.g. "
                  "qemu-nbd) instead of "
                  "mpio, for comparison; no portals needed. Writes are not "
                  "checked for data");
  cmd->add_option("--label", args->label,
                  "With --nbd-uri: the name for the rows")
      ->capture_default_str();
  cmd->add_option(
      "--server-pid", args->server_pid,
      "With --nbd-uri: the server's PID, to report its CPU per I/O");
  cmd->add_option("--fio", args->fio, "The fio binary for --via nbd")
      ->capture_default_str();
  cmd->callback([args] { throw CLI::RuntimeError(RunBench(*args)); });
}

}  // namespace mpio::cli
