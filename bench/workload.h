// Workload: drives a BlockDevice with a fio-like job in-process (no
// frontend) and measures it: IOPS, MiB/s, latency percentiles, errors.
//
// Spec text: "PATTERN:BLOCK:qdDEPTH[:rwmixread=N]", e.g. "randread:4k:qd32",
// "write:1m:qd8", "randrw:4k:qd16:rwmixread=70". Patterns: read, write,
// randread, randwrite, randrw.
//
// Verification ("verify" flag): every block written carries a stamp (run seed
// + LBA); reads of blocks written in this run check the stamp, so a lost or
// misplaced write during a failover is caught. A verify run first writes the
// working set, then runs the job.
//
// Threads: Run() blocks the calling thread; completions run on the device's
// reactor, which also resubmits (so the queue stays full without a hop).
#ifndef MPIO_BENCH_WORKLOAD_H_
#define MPIO_BENCH_WORKLOAD_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/device/block_device.h"

namespace mpio::bench {

enum class Pattern { kRead, kWrite, kRandRead, kRandWrite, kRandRw };

struct WorkloadSpec {
  Pattern pattern = Pattern::kRandRead;
  uint32_t block_size = 4096;
  int queue_depth = 32;
  int read_percent = 50;  // randrw only
  absl::Duration duration = absl::Seconds(10);
  absl::Duration ramp = absl::ZeroDuration();
  uint64_t working_set_bytes = 0;  // 0: the whole device
  bool verify = false;
  uint64_t max_ios = 0;  // stop after this many I/Os (0: time only)
  std::string text;      // as given
};

absl::StatusOr<WorkloadSpec> ParseWorkload(const std::string& text);
std::string PatternName(Pattern p);
bool PatternWrites(Pattern p);

struct LatencyHistogram {
  // Bucket i holds latencies in [2^(i/4) ... ) microseconds, quarter-octave
  // resolution: good to ~19 % for percentiles, fixed size, no allocation.
  static constexpr int kBuckets = 120;
  uint64_t counts[kBuckets] = {};
  uint64_t max_ns = 0;
  uint64_t total = 0;
  void Add(uint64_t ns);
  void Merge(const LatencyHistogram& o);
  double PercentileUs(double p) const;
};

struct WorkloadResult {
  uint64_t ios = 0, reads = 0, writes = 0;
  uint64_t bytes = 0;
  uint64_t errors = 0;
  uint64_t verify_failures = 0;
  double seconds = 0;
  double cpu_seconds = 0;  // process CPU (user+system) during the run
  LatencyHistogram latency;
  std::string first_error;
  double iops() const { return seconds > 0 ? ios / seconds : 0; }
  double mib_per_s() const {
    return seconds > 0 ? bytes / seconds / (1 << 20) : 0;
  }
};

struct Progress {
  double elapsed_s;
  uint64_t ios;
  uint64_t bytes;
  uint64_t errors;
};

// Runs the job. Errors are counted, not fatal (a failover test wants to see
// that there are none). Fails only for a spec the device cannot run.
absl::StatusOr<WorkloadResult> RunWorkload(
    BlockDevice* device, const WorkloadSpec& spec,
    std::function<void(const Progress&)> progress = {});

}  // namespace mpio::bench

#endif  // MPIO_BENCH_WORKLOAD_H_
