#include "engine/metrics/metrics_families.h"

#include <cmath>
#include <limits>
#include <string>

#include "engine/control/control_json.h"
#include "mpio/plugin.h"
#include "prometheus/text_serializer.h"

namespace mpio::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// ALUA states a path can be in; "n/a" is a non-ALUA array.
constexpr int kAluaStates[] = {
    MPIO_ALUA_ACTIVE_OPTIMIZED, MPIO_ALUA_ACTIVE_NON_OPTIMIZED,
    MPIO_ALUA_STANDBY,          MPIO_ALUA_UNAVAILABLE,
    MPIO_ALUA_LBA_DEPENDENT,    MPIO_ALUA_OFFLINE,
    MPIO_ALUA_TRANSITIONING,    MPIO_ALUA_NONE};

std::vector<ClientMetric::Label> PathLabels(const PathSnapshot& p) {
  return {{"device", p.device}, {"path", p.path}, {"portal", p.portal}};
}

MetricFamily Family(const char* name, const char* help, MetricType type) {
  MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

ClientMetric Sample(std::vector<ClientMetric::Label> labels, MetricType type,
                    double value) {
  ClientMetric m;
  m.label = std::move(labels);
  if (type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  return m;
}

// PathCounters::latency_buckets[op][i] counts latencies <= 2^i microseconds
// (and above the previous bound); the last bucket also takes everything
// larger, so its bound is +Inf, not 2^23 us. Prometheus wants cumulative
// counts with "le" in seconds.
ClientMetric LatencyHistogram(const PathSnapshot& p, int op) {
  ClientMetric m;
  m.label = PathLabels(p);
  m.label.push_back({"op", op == 0 ? "read" : "write"});
  uint64_t cumulative = 0;
  for (int i = 0; i < PathCounters::kBuckets; i++) {
    cumulative += p.counters.latency_buckets[op][i];
    if (i == PathCounters::kBuckets - 1) break;
    ClientMetric::Bucket b;
    b.upper_bound = std::ldexp(1e-6, i);
    b.cumulative_count = cumulative;
    m.histogram.bucket.push_back(b);
  }
  ClientMetric::Bucket inf;
  inf.upper_bound = std::numeric_limits<double>::infinity();
  inf.cumulative_count = cumulative;
  m.histogram.bucket.push_back(inf);
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum =
      static_cast<double>(p.counters.latency_ns_by_op[op]) / 1e9;
  return m;
}

// One series per label value, e.g. op="read" and op="write".
struct LabeledCounter {
  const char* label;
  const char* value;
  uint64_t PathCounters::*field;
};

MetricFamily PathCounterFamily(const MetricsSnapshot& s, const char* name,
                               const char* help,
                               std::initializer_list<LabeledCounter> series) {
  MetricFamily f = Family(name, help, MetricType::Counter);
  for (const PathSnapshot& p : s.paths) {
    for (const LabeledCounter& c : series) {
      auto labels = PathLabels(p);
      if (c.label != nullptr) labels.push_back({c.label, c.value});
      f.metric.push_back(Sample(std::move(labels), MetricType::Counter,
                                static_cast<double>(p.counters.*c.field)));
    }
  }
  return f;
}

}  // namespace

std::vector<MetricFamily> BuildFamilies(const MetricsSnapshot& s) {
  std::vector<MetricFamily> out;
  out.push_back(PathCounterFamily(
      s, "mpio_path_ios_total",
      "Commands completed on this path, by op (other: flush, unmap, write "
      "same).",
      {{"op", "read", &PathCounters::reads},
       {"op", "write", &PathCounters::writes},
       {"op", "other", &PathCounters::others}}));
  out.push_back(PathCounterFamily(
      s, "mpio_path_bytes_total", "Bytes moved over this path, by op.",
      {{"op", "read", &PathCounters::bytes_read},
       {"op", "write", &PathCounters::bytes_written}}));
  out.push_back(PathCounterFamily(
      s, "mpio_path_errors_total",
      "Commands that ended in an error on this path, by kind (scsi: the "
      "target answered with an error status; protocol: libiscsi reported a "
      "protocol error).",
      {{"kind", "scsi", &PathCounters::scsi_errors},
       {"kind", "protocol", &PathCounters::protocol_errors}}));
  out.push_back(PathCounterFamily(
      s, "mpio_path_redriven_total",
      "I/Os moved off this path to another one when it failed.",
      {{nullptr, nullptr, &PathCounters::redriven}}));
  out.push_back(PathCounterFamily(
      s, "mpio_path_failures_total",
      "Times this path died (transport error, timeout, operator drill).",
      {{nullptr, nullptr, &PathCounters::failures}}));

  MetricFamily inflight =
      Family("mpio_path_inflight", "Commands in flight on this path now.",
             MetricType::Gauge);
  MetricFamily state =
      Family("mpio_path_state",
             "1 for the path's current state (connecting, probation, active, "
             "standby, disabled, dead, marginal), 0 for the others.",
             MetricType::Gauge);
  MetricFamily alua =
      Family("mpio_path_alua_state",
             "1 for the ALUA access state of the path's target port group "
             "(n/a: the array is not ALUA), 0 for the others.",
             MetricType::Gauge);
  MetricFamily latency =
      Family("mpio_path_latency_seconds",
             "Latency of completed reads and writes on this path, by op.",
             MetricType::Histogram);
  for (const PathSnapshot& p : s.paths) {
    inflight.metric.push_back(Sample(PathLabels(p), MetricType::Gauge,
                                     static_cast<double>(p.counters.inflight)));
    for (PathState st : kAllPathStates) {
      auto labels = PathLabels(p);
      labels.push_back({"state", PathStateName(st)});
      state.metric.push_back(
          Sample(std::move(labels), MetricType::Gauge, st == p.state ? 1 : 0));
    }
    for (int a : kAluaStates) {
      auto labels = PathLabels(p);
      labels.push_back({"state", control::AluaStateName(a)});
      alua.metric.push_back(Sample(std::move(labels), MetricType::Gauge,
                                   a == p.alua_state ? 1 : 0));
    }
    latency.metric.push_back(LatencyHistogram(p, 0));
    latency.metric.push_back(LatencyHistogram(p, 1));
  }
  out.push_back(std::move(inflight));
  out.push_back(std::move(state));
  out.push_back(std::move(alua));
  out.push_back(std::move(latency));

  MetricFamily devices =
      Family("mpio_devices", "Multipath devices.", MetricType::Gauge);
  devices.metric.push_back(
      Sample({}, MetricType::Gauge, static_cast<double>(s.devices.size())));
  out.push_back(std::move(devices));
  MetricFamily paths =
      Family("mpio_device_paths", "Paths of the device in each state.",
             MetricType::Gauge);
  MetricFamily usable =
      Family("mpio_device_usable_paths", "Paths that can carry I/O now.",
             MetricType::Gauge);
  MetricFamily queued =
      Family("mpio_device_queued_ios",
             "I/Os waiting for a path (all paths down, within no_path_retry).",
             MetricType::Gauge);
  MetricFamily failovers =
      Family("mpio_device_failovers_total",
             "Paths in service that failed (their I/O moved to other paths "
             "or waited for one); operator \"off\" is not counted.",
             MetricType::Counter);
  MetricFamily lost =
      Family("mpio_device_lost", "1 if the array reported the LUN gone.",
             MetricType::Gauge);
  MetricFamily size = Family("mpio_device_size_bytes", "Size of the device.",
                             MetricType::Gauge);
  MetricFamily reported = Family(
      "mpio_device_reported_size_bytes",
      "Size the array reports now; below mpio_device_size_bytes, the LUN "
      "shrank under the export and I/O past its end fails.",
      MetricType::Gauge);
  MetricFamily info =
      Family("mpio_device_info",
             "Always 1; the labels say which plugins drive the device.",
             MetricType::Gauge);
  for (const DeviceSnapshot& d : s.devices) {
    for (size_t i = 0; i < kAllPathStates.size(); i++) {
      paths.metric.push_back(Sample(
          {{"device", d.device}, {"state", PathStateName(kAllPathStates[i])}},
          MetricType::Gauge, static_cast<double>(d.paths_by_state[i])));
    }
    usable.metric.push_back(Sample({{"device", d.device}}, MetricType::Gauge,
                                   static_cast<double>(d.usable_paths)));
    queued.metric.push_back(Sample({{"device", d.device}}, MetricType::Gauge,
                                   static_cast<double>(d.queued_ios)));
    failovers.metric.push_back(Sample({{"device", d.device}},
                                      MetricType::Counter,
                                      static_cast<double>(d.failovers)));
    lost.metric.push_back(
        Sample({{"device", d.device}}, MetricType::Gauge, d.lost ? 1 : 0));
    size.metric.push_back(Sample({{"device", d.device}}, MetricType::Gauge,
                                 static_cast<double>(d.size_bytes)));
    reported.metric.push_back(
        Sample({{"device", d.device}}, MetricType::Gauge,
               static_cast<double>(d.reported_size_bytes)));
    info.metric.push_back(Sample({{"device", d.device},
                                  {"satp", d.satp},
                                  {"psp", d.psp},
                                  {"vendor", d.vendor},
                                  {"model", d.model}},
                                 MetricType::Gauge, 1));
  }
  for (MetricFamily* f :
       {&paths, &usable, &queued, &failovers, &lost, &size, &reported, &info}) {
    out.push_back(std::move(*f));
  }
  MetricFamily log_dropped =
      Family("mpio_log_lines_dropped_total",
             "Log lines dropped because the log sink did not keep up.",
             MetricType::Counter);
  log_dropped.metric.push_back(Sample(
      {}, MetricType::Counter, static_cast<double>(s.log_lines_dropped)));
  MetricFamily log_lost =
      Family("mpio_log_lines_lost_total",
             "Log lines the sink refused (full disk, I/O error, closed pipe).",
             MetricType::Counter);
  log_lost.metric.push_back(
      Sample({}, MetricType::Counter, static_cast<double>(s.log_lines_lost)));
  out.push_back(std::move(log_dropped));
  out.push_back(std::move(log_lost));
  return out;
}

std::string ToText(const std::vector<prometheus::MetricFamily>& families) {
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace mpio::metrics
