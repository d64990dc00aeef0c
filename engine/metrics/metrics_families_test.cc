#include "engine/metrics/metrics_families.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "mpio/plugin.h"

namespace mpio::metrics {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}

// Runs `promtool check metrics` on the text; returns its exit status and
// fills `output`.
int Promtool(const std::string& text, std::string* output) {
  char tmpl[] = "/tmp/mpio-metrics-XXXXXX";
  int fd = mkstemp(tmpl);
  REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(tmpl) << text;
  std::string cmd = std::string("promtool check metrics < ") + tmpl + " 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  REQUIRE(f != nullptr);
  char buf[512];
  while (fgets(buf, sizeof(buf), f)) *output += buf;
  int rc = pclose(f);
  unlink(tmpl);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

MetricsSnapshot TwoPaths() {
  MetricsSnapshot s;
  DeviceSnapshot d;
  d.device = "naa.6589cfc000000abc";
  d.satp = "alua";
  d.psp = "rr";
  d.vendor = "TrueNAS";
  d.model = "iSCSI Disk";
  d.size_bytes = 268435456;
  d.reported_size_bytes = 134217728;  // shrunk on the array
  d.usable_paths = 1;
  d.failovers = 3;
  d.paths_by_state[static_cast<size_t>(PathState::kActive)] = 1;
  d.paths_by_state[static_cast<size_t>(PathState::kDead)] = 1;
  s.devices.push_back(d);
  PathSnapshot a;
  a.device = d.device;
  a.path = "198.18.0.2:3260/iqn.x:lab/lun1";
  a.portal = "198.18.0.2:3260";
  a.state = PathState::kActive;
  a.alua_state = MPIO_ALUA_ACTIVE_OPTIMIZED;
  a.counters.reads = 10;
  a.counters.bytes_read = 40960;
  a.counters.writes = 2;
  a.counters.others = 1;
  a.counters.scsi_errors = 2;
  a.counters.inflight = 3;
  a.counters.latency_buckets[0][0] = 1;                           // <= 1 us
  a.counters.latency_buckets[0][7] = 10;                          // <= 128 us
  a.counters.latency_buckets[0][PathCounters::kBuckets - 1] = 1;  // > 2^22 us
  a.counters.latency_ns_by_op[0] = 5'000'000'000;
  a.counters.latency_buckets[1][3] = 2;  // writes: <= 8 us
  a.counters.latency_ns_by_op[1] = 12'000;
  PathSnapshot b = a;
  b.path = "198.18.0.6:3260/iqn.x:lab/lun1";
  b.portal = "198.18.0.6:3260";
  b.state = PathState::kDead;
  b.alua_state = MPIO_ALUA_STANDBY;
  b.counters = PathCounters{};
  b.counters.failures = 4;
  s.paths = {a, b};
  return s;
}

TEST_CASE("families: counters, one-hot states, cumulative latency buckets") {
  const std::string text = ToText(BuildFamilies(TwoPaths()));
  INFO(text);
  const std::string a =
      "device=\"naa.6589cfc000000abc\",path=\"198.18.0.2:3260/iqn.x:lab/lun1\","
      "portal=\"198.18.0.2:3260\"";
  const std::string b =
      "device=\"naa.6589cfc000000abc\",path=\"198.18.0.6:3260/iqn.x:lab/lun1\","
      "portal=\"198.18.0.6:3260\"";
  CHECK(Has(text, "mpio_path_ios_total{" + a + ",op=\"read\"} 10\n"));
  CHECK(Has(text, "mpio_path_ios_total{" + a + ",op=\"write\"} 2\n"));
  CHECK(Has(text, "mpio_path_ios_total{" + a + ",op=\"other\"} 1\n"));
  CHECK(Has(text, "mpio_path_bytes_total{" + a + ",op=\"read\"} 40960\n"));
  CHECK(Has(text, "mpio_path_bytes_total{" + a + ",op=\"write\"} 0\n"));
  CHECK(Has(text, "mpio_path_errors_total{" + a + ",kind=\"scsi\"} 2\n"));
  CHECK(Has(text,
            "mpio_path_errors_total{" + a + ",kind=\"protocol\"} 0\n"));
  CHECK(Has(text,
            "mpio_device_failovers_total{device=\"naa.6589cfc000000abc\"} "
            "3\n"));
  CHECK(Has(text, "mpio_path_failures_total{" + b + "} 4\n"));
  CHECK(Has(text, "mpio_path_inflight{" + a + "} 3\n"));
  CHECK(Has(text, "mpio_path_state{" + a + ",state=\"active\"} 1\n"));
  CHECK(Has(text, "mpio_path_state{" + a + ",state=\"dead\"} 0\n"));
  CHECK(Has(text, "mpio_path_state{" + b + ",state=\"dead\"} 1\n"));
  CHECK(Has(text,
            "mpio_path_alua_state{" + a + ",state=\"active/optimized\"} 1\n"));
  CHECK(Has(text, "mpio_path_alua_state{" + b + ",state=\"standby\"} 1\n"));
  CHECK(Has(text, "mpio_path_alua_state{" + b + ",state=\"n/a\"} 0\n"));
  // Bucket i is le=2^i us; counts are cumulative; the last one is +Inf.
  CHECK(Has(text,
            "mpio_path_latency_seconds_bucket{" + a + ",op=\"read\",le=\"1e-06\"} 1\n"));
  CHECK(Has(text,
            "mpio_path_latency_seconds_bucket{" + a + ",op=\"read\",le=\"6.4e-05\"} 1\n"));
  CHECK(Has(text, "mpio_path_latency_seconds_bucket{" + a +
                      ",op=\"read\",le=\"0.000128\"} 11\n"));
  CHECK(Has(text, "mpio_path_latency_seconds_bucket{" + a +
                      ",op=\"read\",le=\"4.194304\"} 11\n"));
  CHECK(Has(text,
            "mpio_path_latency_seconds_bucket{" + a + ",op=\"read\",le=\"+Inf\"} 12\n"));
  CHECK(Has(text, "mpio_path_latency_seconds_count{" + a + ",op=\"read\"} 12\n"));
  CHECK(Has(text, "mpio_path_latency_seconds_sum{" + a + ",op=\"read\"} 5\n"));
  CHECK(Has(text, "mpio_path_latency_seconds_count{" + a + ",op=\"write\"} 2\n"));
  CHECK(Has(text, "mpio_path_latency_seconds_bucket{" + a +
                      ",op=\"write\",le=\"8e-06\"} 2\n"));
  CHECK(Has(text,
            "mpio_device_paths{device=\"naa.6589cfc000000abc\",state="
            "\"active\"} 1\n"));
  CHECK(Has(
      text,
      "mpio_device_paths{device=\"naa.6589cfc000000abc\",state=\"dead\"} 1\n"));
  CHECK(Has(text,
            "mpio_device_paths{device=\"naa.6589cfc000000abc\",state="
            "\"standby\"} 0\n"));
  CHECK(Has(text,
            "mpio_device_usable_paths{device=\"naa.6589cfc000000abc\"} 1\n"));
  CHECK(Has(
      text,
      "mpio_device_size_bytes{device=\"naa.6589cfc000000abc\"} 268435456\n"));
  CHECK(Has(text,
            "mpio_device_reported_size_bytes{device=\"naa.6589cfc000000abc\"} "
            "134217728\n"));
  CHECK(Has(text, "mpio_log_lines_dropped_total 0\n"));
  CHECK(Has(text, "mpio_log_lines_lost_total 0\n"));
  CHECK(Has(text,
            "mpio_device_info{device=\"naa.6589cfc000000abc\",satp=\"alua\","
            "psp=\"rr\","
            "vendor=\"TrueNAS\",model=\"iSCSI Disk\"} 1\n"));
  CHECK(Has(text, "mpio_devices 1\n"));
  CHECK(Has(text, "# TYPE mpio_path_latency_seconds histogram\n"));
  CHECK(Has(text, "# TYPE mpio_path_ios_total counter\n"));
}

TEST_CASE("families pass promtool check metrics, also when empty") {
  for (const MetricsSnapshot& s : {TwoPaths(), MetricsSnapshot{}}) {
    std::string out;
    const int rc = Promtool(ToText(BuildFamilies(s)), &out);
    INFO(out);
    CHECK(rc == 0);
  }
}

}  // namespace
}  // namespace mpio::metrics
