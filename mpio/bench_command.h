// `mpio bench`: run each path policy over the same workloads, in-process
// against the engine, and report throughput, latency and per-path share.
#ifndef MPIO_MPIO_BENCH_COMMAND_H_
#define MPIO_MPIO_BENCH_COMMAND_H_

#include <CLI/CLI.hpp>

namespace mpio::cli {
void AddBenchCommand(CLI::App* app);
}

#endif  // MPIO_MPIO_BENCH_COMMAND_H_
