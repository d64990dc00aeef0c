#include "bench/fio_job.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace mpio::bench {
namespace {

constexpr const char* kPercentiles =
    "1:5:10:20:25:30:40:50:60:70:75:80:90:95:99:99.5:99.9:99.95:99.99";

std::string FioRw(Pattern p) {
  // fio's names happen to be ours.
  return PatternName(p);
}

double NowS() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

}  // namespace

std::vector<std::string> FioArgs(const WorkloadSpec& spec,
                                 const std::string& uri,
                                 const std::string& fio_binary) {
  std::vector<std::string> a = {
      fio_binary,
      "--name=mpio-bench",
      "--ioengine=nbd",
      absl::StrCat("--uri=", uri),
      absl::StrCat("--rw=", FioRw(spec.pattern)),
      absl::StrCat("--bs=", spec.block_size),
      absl::StrCat("--iodepth=", spec.queue_depth),
      "--time_based=1",
      absl::StrCat("--runtime=", absl::ToDoubleMilliseconds(spec.duration),
                   "ms"),
      // Uniform random offsets with repeats, like the in-process runner
      // (and cheaper than fio's random map).
      "--norandommap=1",
      "--randrepeat=0",
      "--continue_on_error=all",
      "--unified_rw_reporting=mixed",
      absl::StrCat("--percentile_list=", kPercentiles),
      "--output-format=json",
  };
  if (spec.ramp > absl::ZeroDuration()) {
    a.push_back(absl::StrCat(
        "--ramp_time=", absl::ToDoubleMilliseconds(spec.ramp), "ms"));
  }
  if (spec.pattern == Pattern::kRandRw)
    a.push_back(absl::StrCat("--rwmixread=", spec.read_percent));
  if (spec.working_set_bytes)
    a.push_back(absl::StrCat("--size=", spec.working_set_bytes));
  return a;
}

absl::Status ParseFioJson(const std::string& output, ReportRow* row) {
  size_t brace = output.find('{');
  if (brace == std::string::npos) {
    return absl::InvalidArgumentError("fio printed no JSON: " +
                                      output.substr(0, 400));
  }
  nlohmann::json j = nlohmann::json::parse(output.begin() + brace, output.end(),
                                           nullptr, false);
  if (j.is_discarded() || !j.contains("jobs") || !j["jobs"].is_array() ||
      j["jobs"].empty()) {
    return absl::InvalidArgumentError("fio's JSON has no jobs: " +
                                      output.substr(brace, 400));
  }
  const nlohmann::json& job = j["jobs"][0];
  uint64_t ios = 0;
  double runtime_ms = 0, iops = 0, bw = 0;
  const nlohmann::json* main =
      nullptr;  // the direction with most I/Os: its latencies
  for (const char* dir : {"mixed", "read", "write"}) {
    if (!job.contains(dir)) continue;
    const nlohmann::json& d = job[dir];
    uint64_t n = d.value("total_ios", uint64_t{0});
    ios += n;
    iops += d.value("iops", 0.0);
    bw += d.value("bw_bytes", 0.0);
    runtime_ms = std::max(runtime_ms, d.value("runtime", 0.0));
    if (main == nullptr || n > (*main).value("total_ios", uint64_t{0}))
      main = &d;
  }
  if (main == nullptr)
    return absl::InvalidArgumentError("fio's JSON has no read/write section");
  row->ios = ios;
  row->iops = iops;
  row->mib_per_s = bw / (1 << 20);
  row->seconds = runtime_ms / 1000.0;
  row->errors = job.value("total_err", uint64_t{0});
  int error = job.value("error", 0);
  if (error != 0 || row->errors != 0) {
    int first = job.value("first_error", error);
    row->first_error =
        absl::StrCat("fio: error ", first, " (", std::strerror(first), ")");
    if (row->errors == 0) row->errors = 1;
  }
  row->cdf.clear();
  row->p50_us = row->p99_us = row->p999_us = row->max_us = 0;
  if (main->contains("clat_ns")) {
    const nlohmann::json& clat = (*main)["clat_ns"];
    row->max_us = clat.value("max", 0.0) / 1000.0;
    if (clat.contains("percentile") && clat["percentile"].is_object()) {
      for (const auto& [key, value] : clat["percentile"].items()) {
        double pct;
        if (!absl::SimpleAtod(key, &pct) || !value.is_number()) continue;
        double us = value.get<double>() / 1000.0;
        if (!row->cdf.empty() && us < row->cdf.back().first)
          us = row->cdf.back().first;
        row->cdf.push_back({us, pct / 100.0});
        if (std::abs(pct - 50) < 1e-6) row->p50_us = us;
        if (std::abs(pct - 99) < 1e-6) row->p99_us = us;
        if (std::abs(pct - 99.9) < 1e-6) row->p999_us = us;
      }
    }
    if (ios > 0 && row->max_us > 0) {
      row->cdf.push_back(
          {std::max(row->max_us, row->cdf.empty() ? 0 : row->cdf.back().first),
           1.0});
    }
  }
  return absl::OkStatus();
}

absl::Status RunFio(const WorkloadSpec& spec, const std::string& uri,
                    ReportRow* row, const std::function<void(double)>& tick,
                    const std::string& fio_binary) {
  std::vector<std::string> args = FioArgs(spec, uri, fio_binary);
  char err_path[] = "/tmp/mpio-bench-fio.XXXXXX";
  int err_fd = mkstemp(err_path);
  if (err_fd < 0)
    return absl::InternalError(absl::StrCat("mkstemp: ", std::strerror(errno)));
  unlink(err_path);  // the fd keeps it; nothing is left behind
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(err_fd);
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  // posix_spawn, not fork: this process runs reactor threads, and only a
  // spawn is safe to start a child from a threaded process.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_fd, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    close(out[0]);
    close(out[1]);
    close(err_fd);
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot run ", fio_binary, ": ", std::strerror(rc),
        " (install fio, Debian package fio, which has the nbd engine)"));
  }
  close(out[1]);
  const double start = NowS();
  // fio may take a while to connect and to tear down; beyond this it hangs.
  const double deadline =
      start + absl::ToDoubleSeconds(spec.duration + spec.ramp) + 60.0;
  std::string output;
  bool killed = false;
  char buf[65536];
  for (;;) {
    pollfd p{out[0], POLLIN, 0};
    int n = poll(&p, 1, 200);
    if (tick) tick(NowS() - start);
    if (n > 0) {
      ssize_t got = read(out[0], buf, sizeof(buf));
      if (got > 0) {
        output.append(buf, got);
        continue;
      }
      if (got == 0) break;
      if (errno != EINTR && errno != EAGAIN) break;
    }
    if (NowS() > deadline) {
      kill(pid, SIGKILL);
      killed = true;
      break;
    }
  }
  close(out[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string err;
  lseek(err_fd, 0, SEEK_SET);
  ssize_t got;
  while ((got = read(err_fd, buf, sizeof(buf))) > 0) err.append(buf, got);
  close(err_fd);
  if (killed) {
    return absl::DeadlineExceededError(
        absl::StrCat("fio did not finish in time; stderr: ", err));
  }
  absl::Status parsed = ParseFioJson(output, row);
  if (!parsed.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "fio (", absl::StrJoin(args, " "), ") exited with status ",
        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), ": ",
        err, parsed.message()));
  }
  return absl::OkStatus();
}

}  // namespace mpio::bench
