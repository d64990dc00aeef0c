#include "engine/metrics/metrics_exporter.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "tests/support/run_shell.h"

namespace mpio::metrics {
namespace {

std::unique_ptr<Engine> MakeEngine() {
  EngineOptions o;
  o.plugin_dirs = {"/nonexistent/mpio-metrics-test"};
  auto e = Engine::Create(o);
  REQUIRE(e.ok());
  return std::move(e).value();
}

// Runs a shell command, returns its stdout and exit status.
std::string Run(const std::string& cmd, int* rc) {
  auto r = testing::RunShell(cmd);
  *rc = r.status;
  return r.output;
}

TEST_CASE("scrape /metrics with curl; promtool accepts it") {
  auto engine = MakeEngine();
  auto exporter = MetricsExporter::Start(engine.get(), "127.0.0.1:0");
  REQUIRE(exporter.ok());
  const int port = (*exporter)->port();
  REQUIRE(port > 0);
  const std::string url =
      "http://127.0.0.1:" + std::to_string(port) + "/metrics";
  int rc = -1;
  const std::string body = Run("curl -sS --max-time 10 " + url, &rc);
  INFO(body);
  REQUIRE(rc == 0);
  CHECK(body.find("# TYPE mpio_devices gauge\nmpio_devices 0\n") !=
        std::string::npos);
  CHECK(body.find("# TYPE mpio_path_latency_seconds histogram") !=
        std::string::npos);
  std::string check = Run(
      "curl -sS --max-time 10 " + url + " | promtool check metrics 2>&1", &rc);
  INFO(check);
  CHECK(rc == 0);
}

TEST_CASE("a port in use gives a clear error, not an exception") {
  auto engine = MakeEngine();
  auto first = MetricsExporter::Start(engine.get(), "127.0.0.1:0");
  REQUIRE(first.ok());
  const std::string taken = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = MetricsExporter::Start(engine.get(), taken);
  REQUIRE(!second.ok());
  CHECK(second.status().code() == absl::StatusCode::kUnavailable);
  CHECK(std::string(second.status().message()).find(taken) !=
        std::string::npos);
  CHECK(MetricsExporter::Start(engine.get(), "").status().code() ==
        absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mpio::metrics
