// MetricsExporter: serves the engine's per-path and per-device metrics on
// http://LISTEN/metrics for Prometheus (prometheus-cpp pull, civetweb).
//
// Nothing is counted here: the I/O path only bumps the reactor-owned
// PathCounters. At scrape time a custom prometheus::Collectable copies them
// on the engine's reactor (one short RunOnReactor pass, see
// metrics_snapshot.h) and builds the families on the HTTP thread (see
// metrics_families.h for the metric names).
//
// Threads: Start() and the destructor from any thread but the engine's
// reactor thread; scrapes run on civetweb's threads.
// Ownership: borrows the engine; destroy the exporter before the engine is
// shut down (a scrape runs on the engine's reactor).
// Failure: Start() returns Unavailable when the address cannot be bound
// (in use, not local), InvalidArgument for an empty address; nothing is
// left listening then.
#ifndef MPIO_ENGINE_METRICS_METRICS_EXPORTER_H_
#define MPIO_ENGINE_METRICS_METRICS_EXPORTER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/core/engine.h"

namespace prometheus {
class Exposer;
class Collectable;
}  // namespace prometheus

namespace mpio::metrics {

inline constexpr const char* kDefaultMetricsListen = "127.0.0.1:9580";

class MetricsExporter {
 public:
  // `listen`: "127.0.0.1:9580", "[::1]:9580", or "127.0.0.1:0" for any free
  // port (see port()).
  static absl::StatusOr<std::unique_ptr<MetricsExporter>> Start(
      Engine* engine, std::string listen);
  ~MetricsExporter();
  MetricsExporter(const MetricsExporter&) = delete;
  MetricsExporter& operator=(const MetricsExporter&) = delete;

  // The TCP port actually bound.
  int port() const { return port_; }
  const std::string& listen() const { return listen_; }

 private:
  MetricsExporter() = default;

  std::string listen_;
  int port_ = 0;
  std::shared_ptr<prometheus::Collectable> collectable_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace mpio::metrics

#endif  // MPIO_ENGINE_METRICS_METRICS_EXPORTER_H_
