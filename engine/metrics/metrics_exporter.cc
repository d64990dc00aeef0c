#include "engine/metrics/metrics_exporter.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "engine/metrics/metrics_families.h"
#include "engine/metrics/metrics_snapshot.h"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"

namespace mpio::metrics {
namespace {

class EngineCollectable final : public prometheus::Collectable {
 public:
  explicit EngineCollectable(Engine* engine) : engine_(engine) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    MetricsSnapshot snapshot;
    // The copy is the only work on the reactor; the text is built here.
    engine_->RunOnReactor([&] { snapshot = TakeSnapshot(engine_->devices()); });
    return BuildFamilies(snapshot);
  }

 private:
  Engine* engine_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsExporter>> MetricsExporter::Start(
    Engine* engine, std::string listen) {
  if (listen.empty()) {
    return absl::InvalidArgumentError(
        "empty metrics address: give HOST:PORT, e.g. 127.0.0.1:9580");
  }
  std::unique_ptr<MetricsExporter> e(new MetricsExporter());
  e->listen_ = std::move(listen);
  e->collectable_ = std::make_shared<EngineCollectable>(engine);
  // prometheus-cpp (civetweb) throws when it cannot bind: this is the edge.
  try {
    e->exposer_ =
        std::make_unique<prometheus::Exposer>(e->listen_, /*num_threads=*/2);
    e->exposer_->RegisterCollectable(e->collectable_);
    const std::vector<int> ports = e->exposer_->GetListeningPorts();
    e->port_ = ports.empty() ? 0 : ports.front();
  } catch (const std::exception& ex) {
    e->exposer_.reset();
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", e->listen_, ": ", ex.what(),
                     " (is the port in use by another process? choose another "
                     "with --metrics)"));
  }
  return e;
}

MetricsExporter::~MetricsExporter() {
  // Stops civetweb and waits for scrapes in progress, while the engine (and
  // the collectable) are still alive.
  exposer_.reset();
}

}  // namespace mpio::metrics
