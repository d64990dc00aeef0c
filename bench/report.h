// Report: turns the rows of an `mpio bench` run into files a person reads
// as they are: report.md (machine, target, one table per workload), a fixed
// results.csv, results.json, and three hand-written SVG charts (throughput
// per policy, per-path share per policy, latency CDF per policy).
//
// Everything here is a pure function over BenchReport, except
// CollectMachineInfo() (reads /proc and uname) and WriteReport() (writes
// files). The charts draw one panel per workload, so 4k IOPS and 1M MiB/s
// never share an axis.
//
// Threads: no shared state; call from any thread.
// Failure: WriteReport() creates the directory if missing and returns
// FailedPrecondition naming the path when it cannot write; files written
// before the failure stay behind.
#ifndef MPIO_BENCH_REPORT_H_
#define MPIO_BENCH_REPORT_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "bench/workload.h"

namespace mpio::bench {

struct PathShare {
  std::string path;
  uint64_t ios = 0;
  uint64_t bytes = 0;
};

// (latency in microseconds, fraction of I/Os at or below it), ascending in
// both. From a LatencyHistogram (bucket upper edges) or fio's percentiles.
using CdfPoints = std::vector<std::pair<double, double>>;

struct ReportRow {
  std::string policy;
  std::string workload;  // the spec text, e.g. "randread:4k:qd32"
  std::string via;       // "in-process", "nbd" or "nbd-external"
  double iops = 0;
  double mib_per_s = 0;
  double p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
  double cpu_us_per_io = 0;  // initiator-side CPU, see the header of the CSV
  double seconds = 0;
  uint64_t ios = 0;
  uint64_t errors = 0;
  uint64_t verify_failures = 0;
  std::vector<PathShare> paths;
  CdfPoints cdf;
  std::string first_error;
};

struct MachineInfo {
  std::string date;  // UTC, ISO 8601
  std::string hostname;
  std::string kernel;
  std::string cpu_model;
  int nproc = 0;
};

struct BenchReport {
  MachineInfo machine;
  std::string target;   // portals / URI as given
  std::string device;   // identity, size, path count
  std::string command;  // the command line, for reproduction
  std::vector<ReportRow> rows;
};

MachineInfo CollectMachineInfo();

// Fills a row's latency fields and CDF from an in-process histogram.
void FillLatency(const LatencyHistogram& h, ReportRow* row);
CdfPoints CdfFromHistogram(const LatencyHistogram& h);

// The fixed CSV header, then one line per row. Fields that may hold commas
// or quotes are quoted (RFC 4180).
std::string CsvHeader();
std::string ResultsCsv(const BenchReport& report);
nlohmann::json ResultsJson(const BenchReport& report);
std::string MarkdownReport(const BenchReport& report);

std::string ThroughputSvg(const BenchReport& report);
std::string PathShareSvg(const BenchReport& report);
std::string LatencyCdfSvg(const BenchReport& report);

// The label charts and tables use for a row: the policy, plus the frontend
// when it is not in-process.
std::string RowLabel(const ReportRow& row);

// Creates `dir` if missing and checks a file can be made in it, so a bad
// --out fails before a long run instead of after it.
absl::Status PrepareOutputDir(const std::string& dir);

// Writes report.md, results.csv, results.json, throughput.svg,
// path_share.svg and latency_cdf.svg into `dir` (created if missing).
absl::Status WriteReport(const BenchReport& report, const std::string& dir);

}  // namespace mpio::bench

#endif  // MPIO_BENCH_REPORT_H_
