#include "bench/soak/soak_report.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace mpio::bench {

double RssSlopeKibPerMin(const std::vector<SoakSample>& samples) {
  if (samples.size() < 2) return 0;
  const double half = samples.back().t_s / 2;
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const auto& s : samples) {
    if (s.t_s < half) continue;
    const double x = s.t_s / 60.0;
    const double y = static_cast<double>(s.stats.rss_kib);
    n++;
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const double den = n * sxx - sx * sx;
  if (n < 2 || den <= 0) return 0;
  return (n * sxy - sx * sy) / den;
}

SoakVerdict JudgeSoak(const std::vector<SoakSample>& samples,
                      uint64_t io_errors, uint64_t verify_failures,
                      const SoakLimits& limits) {
  SoakVerdict v;
  v.io_errors = io_errors;
  v.verify_failures = verify_failures;
  if (samples.empty()) {
    v.problems.push_back("no samples");
    return v;
  }
  const SoakSample& first = samples.front();
  const SoakSample& last = samples.back();
  v.fds_start = first.stats.fds;
  v.fds_end = last.stats.fds;
  v.threads_start = first.stats.threads;
  v.threads_end = last.stats.threads;
  for (const auto& s : samples)
    v.peak_rss_kib = std::max(v.peak_rss_kib, s.stats.rss_kib);
  v.peak_ratio = first.stats.rss_kib
                     ? static_cast<double>(v.peak_rss_kib) /
                           static_cast<double>(first.stats.rss_kib)
                     : 0;
  v.slope_kib_per_min = RssSlopeKibPerMin(samples);
  size_t second_half = 0;
  for (const auto& s : samples) second_half += s.t_s >= last.t_s / 2;
  if (second_half < 2)
    v.problems.push_back("too few samples to judge the slope");
  if (v.slope_kib_per_min > limits.max_slope_kib_per_min) {
    v.problems.push_back(absl::StrFormat(
        "RSS grows %.1f KiB/min in the second half (limit %.0f)",
        v.slope_kib_per_min, limits.max_slope_kib_per_min));
  }
  if (v.peak_ratio > limits.max_peak_ratio) {
    v.problems.push_back(
        absl::StrFormat("peak RSS is %.2fx the first sample (limit %.2fx)",
                        v.peak_ratio, limits.max_peak_ratio));
  }
  if (v.fds_end != v.fds_start)
    v.problems.push_back(
        absl::StrCat("open fds ", v.fds_start, " -> ", v.fds_end));
  if (v.threads_end != v.threads_start)
    v.problems.push_back(
        absl::StrCat("threads ", v.threads_start, " -> ", v.threads_end));
  if (io_errors) v.problems.push_back(absl::StrCat(io_errors, " I/O errors"));
  if (verify_failures)
    v.problems.push_back(absl::StrCat(verify_failures, " verify failures"));
  v.pass = v.problems.empty();
  return v;
}

std::string FormatSoakTable(const std::vector<SoakSample>& samples) {
  std::string out =
      "| t s | RSS KiB | fds | threads | I/Os | flaps |\n"
      "|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& s : samples) {
    absl::StrAppendFormat(&out, "| %.0f | %d | %d | %d | %d | %d |\n", s.t_s,
                          s.stats.rss_kib, s.stats.fds, s.stats.threads, s.ios,
                          s.flaps);
  }
  return out;
}

std::string FormatSoakVerdict(const SoakVerdict& v, const SoakLimits& limits) {
  std::string out = "| measure | value | limit |\n|---|---:|---:|\n";
  absl::StrAppendFormat(
      &out, "| RSS slope, second half | %.1f KiB/min | <= %.0f KiB/min |\n",
      v.slope_kib_per_min, limits.max_slope_kib_per_min);
  absl::StrAppendFormat(
      &out, "| peak RSS / first sample | %.3f (%d KiB) | <= %.2f |\n",
      v.peak_ratio, v.peak_rss_kib, limits.max_peak_ratio);
  absl::StrAppendFormat(&out, "| fds start -> end | %d -> %d | equal |\n",
                        v.fds_start, v.fds_end);
  absl::StrAppendFormat(&out, "| threads start -> end | %d -> %d | equal |\n",
                        v.threads_start, v.threads_end);
  absl::StrAppendFormat(&out, "| I/O errors | %d | 0 |\n", v.io_errors);
  absl::StrAppendFormat(&out, "| verify failures | %d | 0 |\n",
                        v.verify_failures);
  absl::StrAppend(&out, "\nverdict: ", v.pass ? "PASS" : "FAIL");
  for (const auto& p : v.problems) absl::StrAppend(&out, "\n  - ", p);
  out += "\n";
  return out;
}

}  // namespace mpio::bench
