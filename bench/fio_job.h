// FioJob: runs a WorkloadSpec as an fio job against an NBD URI (fio's nbd
// engine, libnbd) and reads fio's JSON into a ReportRow, so rows measured
// through an NBD export compare with in-process rows: same pattern, block
// size, queue depth, mix, working set, ramp and run time.
//
// fio reports completion latency (clat) percentiles; we ask for 19 of them
// and use them as the row's CDF. Errors are counted, not fatal
// (--continue_on_error=all), like the in-process runner.
//
// Threads: RunFio() blocks the calling thread and calls `tick` on it about
// every 200 ms. Ownership: the child fio process is started and reaped (or
// killed after a deadline) inside RunFio().
// Failure: fio missing, fio failing before it prints JSON, or a run that
// overshoots its deadline give an error carrying fio's stderr.
#ifndef MPIO_BENCH_FIO_JOB_H_
#define MPIO_BENCH_FIO_JOB_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bench/report.h"
#include "bench/workload.h"

namespace mpio::bench {

// argv for fio (argv[0] is `fio_binary`).
std::vector<std::string> FioArgs(const WorkloadSpec& spec,
                                 const std::string& uri,
                                 const std::string& fio_binary = "fio");

// Fills iops, mib_per_s, latency fields, cdf, ios, seconds, errors and
// first_error from fio's --output-format=json output (text before the first
// '{', such as "fio: connected to NBD server", is skipped).
absl::Status ParseFioJson(const std::string& output, ReportRow* row);

absl::Status RunFio(const WorkloadSpec& spec, const std::string& uri,
                    ReportRow* row,
                    const std::function<void(double elapsed_s)>& tick = {},
                    const std::string& fio_binary = "fio");

}  // namespace mpio::bench

#endif  // MPIO_BENCH_FIO_JOB_H_
