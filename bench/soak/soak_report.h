// SoakReport: turns the samples of a soak run (bench/soak/soak_main.cc)
// into a table and a verdict: is memory flat (least-squares RSS slope over
// the second half of the run, peak RSS against the first sample), are fds
// and threads back where they started, and did the workload see no error
// and no corruption.
//
// Pure functions over the samples; no I/O. Threads: no shared state.
// Failure: a run with fewer than two samples in its second half has slope 0
// and fails the verdict with "too few samples" (the run was too short to
// judge).
#ifndef MPIO_BENCH_SOAK_SOAK_REPORT_H_
#define MPIO_BENCH_SOAK_SOAK_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "bench/soak/proc_stats.h"

namespace mpio::bench {

struct SoakSample {
  double t_s = 0;  // since the first sample
  ProcStats stats;
  uint64_t ios = 0;  // workload I/Os completed so far
  int flaps = 0;     // path flaps injected so far
};

struct SoakLimits {
  // "Flat": growth in the second half below this (64 KiB/min is under
  // 4 MiB an hour, well below anything a per-I/O or per-reconnect leak
  // would show at thousands of I/Os a second and a flap every few seconds).
  double max_slope_kib_per_min = 64;
  // Peak over the first sample: warm-up (allocator arenas, libiscsi's
  // buffers, the workload's slots) is allowed, unbounded growth is not.
  double max_peak_ratio = 1.5;
};

struct SoakVerdict {
  double slope_kib_per_min = 0;
  double peak_ratio = 0;
  uint64_t peak_rss_kib = 0;
  int fds_start = 0, fds_end = 0;
  int threads_start = 0, threads_end = 0;
  uint64_t io_errors = 0, verify_failures = 0;
  bool pass = false;
  std::vector<std::string> problems;  // why not, one line each
};

// Least-squares slope of RSS over time, in KiB per minute, over the samples
// taken in the second half of the run (t >= last t / 2).
double RssSlopeKibPerMin(const std::vector<SoakSample>& samples);

// The first sample is the baseline, the last one the state after the run
// (faults healed, every path back).
SoakVerdict JudgeSoak(const std::vector<SoakSample>& samples,
                      uint64_t io_errors, uint64_t verify_failures,
                      const SoakLimits& limits = {});

// Markdown table, one row per sample: t, RSS, fds, threads, I/Os, flaps.
std::string FormatSoakTable(const std::vector<SoakSample>& samples);
// Markdown table of the verdict's numbers, then "verdict: PASS" or
// "verdict: FAIL" with the problems.
std::string FormatSoakVerdict(const SoakVerdict& v,
                              const SoakLimits& limits = {});

}  // namespace mpio::bench

#endif  // MPIO_BENCH_SOAK_SOAK_REPORT_H_
