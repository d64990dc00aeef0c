// ProcStats: what a leak check watches in this process, read from /proc:
// resident memory (VmRSS), open file descriptors (/proc/self/fd) and
// threads (/proc/self/task). Used by the soak benchmark (bench/soak) and
// the reconnect leak test (tests/integration/leak_lab_test.cc).
//
// Threads: no shared state; call from any thread. Counting fds opens one
// directory fd for the listing; it is not counted.
// Failure: Unavailable naming the /proc file that could not be read;
// nothing is left open.
#ifndef MPIO_BENCH_SOAK_PROC_STATS_H_
#define MPIO_BENCH_SOAK_PROC_STATS_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace mpio::bench {

struct ProcStats {
  uint64_t rss_kib = 0;  // VmRSS
  int fds = 0;           // open file descriptors
  int threads = 0;       // tasks of this process
};

absl::StatusOr<ProcStats> ReadProcStats();

}  // namespace mpio::bench

#endif  // MPIO_BENCH_SOAK_PROC_STATS_H_
