#include "bench/fio_job.h"

#include <algorithm>
#include <string>

#include "doctest/doctest.h"

namespace mpio::bench {
namespace {

// Shaped like fio 3.33's --output-format=json with --unified_rw_reporting=mixed
// (trimmed), after the nbd engine's "connected" line on stdout.
constexpr const char* kFioOutput = R"(fio: connected to NBD server
{
  "fio version" : "fio-3.33",
  "jobs" : [
    {
      "jobname" : "mpio-bench",
      "error" : 0,
      "mixed" : {
        "io_bytes" : 25972736,
        "bw_bytes" : 25946789,
        "iops" : 6334.665335,
        "runtime" : 1001,
        "total_ios" : 6341,
        "clat_ns" : {
          "min" : 9000,
          "max" : 15000000,
          "percentile" : {
            "1.000000" : 26240,
            "50.000000" : 166912,
            "99.000000" : 11993088,
            "99.900000" : 12124160,
            "99.990000" : 14614528
          }
        }
      },
      "total_err" : 0,
      "first_error" : 0
    }
  ]
}
)";

TEST_CASE("fio JSON: throughput, percentiles and a CDF ending at the max") {
  ReportRow row;
  REQUIRE(ParseFioJson(kFioOutput, &row).ok());
  CHECK(row.ios == 6341);
  CHECK(row.iops == doctest::Approx(6334.665335));
  CHECK(row.mib_per_s == doctest::Approx(25946789.0 / (1 << 20)));
  CHECK(row.seconds == doctest::Approx(1.001));
  CHECK(row.p50_us == doctest::Approx(166.912));
  CHECK(row.p99_us == doctest::Approx(11993.088));
  CHECK(row.p999_us == doctest::Approx(12124.16));
  CHECK(row.max_us == doctest::Approx(15000));
  CHECK(row.errors == 0);
  REQUIRE(row.cdf.size() == 6);
  CHECK(row.cdf.front().second == doctest::Approx(0.01));
  CHECK(row.cdf.back().first == doctest::Approx(15000));
  CHECK(row.cdf.back().second == doctest::Approx(1.0));
  CHECK(std::is_sorted(row.cdf.begin(), row.cdf.end()));
}

TEST_CASE(
    "fio JSON: separate read and write sections add up; errors are reported") {
  ReportRow row;
  REQUIRE(ParseFioJson(R"({"jobs":[{"error":5,"total_err":3,"first_error":5,
      "read":{"io_bytes":4096,"bw_bytes":2048,"iops":1.5,"runtime":2000,"total_ios":1,
              "clat_ns":{"max":1000,"percentile":{"50.000000":1000}}},
      "write":{"io_bytes":8192,"bw_bytes":4096,"iops":2.5,"runtime":2000,"total_ios":2,
               "clat_ns":{"max":3000,"percentile":{"50.000000":2000}}}}]})",
                       &row)
              .ok());
  CHECK(row.ios == 3);
  CHECK(row.iops == doctest::Approx(4.0));
  CHECK(row.p50_us == doctest::Approx(2.0));  // from the busier direction
  CHECK(row.errors == 3);
  CHECK(row.first_error.find("error 5") != std::string::npos);
}

TEST_CASE("fio JSON: garbage is an error, not zeros") {
  ReportRow row;
  CHECK_FALSE(ParseFioJson("fio: failed to connect\n", &row).ok());
  CHECK_FALSE(ParseFioJson("{\"jobs\":[]}", &row).ok());
  CHECK_FALSE(ParseFioJson("{\"jobs\":[{\"error\":0}]}", &row).ok());
}

TEST_CASE("fio arguments carry the whole workload") {
  auto spec = ParseWorkload("randrw:16k:qd8:rwmixread=70");
  REQUIRE(spec.ok());
  spec->duration = absl::Seconds(3);
  spec->ramp = absl::Milliseconds(500);
  spec->working_set_bytes = 64 << 20;
  auto args = FioArgs(*spec, "nbd+unix:///x?socket=/tmp/s");
  auto has = [&](const std::string& a) {
    return std::find(args.begin(), args.end(), a) != args.end();
  };
  CHECK(args[0] == "fio");
  for (const char* want :
       {"--ioengine=nbd", "--uri=nbd+unix:///x?socket=/tmp/s", "--rw=randrw",
        "--bs=16384", "--iodepth=8", "--runtime=3000ms", "--ramp_time=500ms",
        "--rwmixread=70", "--size=67108864", "--output-format=json",
        "--time_based=1"}) {
    CHECK_MESSAGE(has(want), want);
  }
  auto seq = ParseWorkload("read:1m:qd4");
  REQUIRE(seq.ok());
  auto seq_args = FioArgs(*seq, "u");
  CHECK(std::find(seq_args.begin(), seq_args.end(), "--rw=read") !=
        seq_args.end());
  CHECK(std::none_of(
      seq_args.begin(), seq_args.end(),
      [](const std::string& a) { return a.rfind("--rwmixread", 0) == 0; }));
}

}  // namespace
}  // namespace mpio::bench
