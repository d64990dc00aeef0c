// BuildFamilies: turns a MetricsSnapshot into Prometheus metric families
// (names prefixed mpio_). Pure: no engine access, no locks, so it is unit
// tested with made-up snapshots and checked with promtool.
//
// Per path (labels device, path, portal): counters mpio_path_ios_total{op}
// (read, write, other), mpio_path_bytes_total{op} (read, write),
// mpio_path_errors_total{kind} (scsi, protocol), mpio_path_redriven_total,
// mpio_path_failures_total; gauges mpio_path_inflight, mpio_path_state{state}
// and mpio_path_alua_state{state} (1 for the current state, 0 for the others:
// one series per possible state, for state timelines); the histogram
// mpio_path_latency_seconds{op} (read, write).
// Per device (label device): mpio_device_paths{state},
// mpio_device_usable_paths, mpio_device_queued_ios,
// mpio_device_failovers_total, mpio_device_lost, mpio_device_size_bytes and
// mpio_device_info{satp,psp,vendor,model} = 1. Plus mpio_devices.
// Label values are bounded: devices, paths and portals are configured, op,
// kind and state are fixed sets. Threads: any.
#ifndef MPIO_ENGINE_METRICS_METRICS_FAMILIES_H_
#define MPIO_ENGINE_METRICS_METRICS_FAMILIES_H_

#include <vector>

#include "engine/metrics/metrics_snapshot.h"
#include "prometheus/metric_family.h"

namespace mpio::metrics {

std::vector<prometheus::MetricFamily> BuildFamilies(
    const MetricsSnapshot& snapshot);

// The text exposition format, as /metrics serves it (for tests and dumps).
std::string ToText(const std::vector<prometheus::MetricFamily>& families);

}  // namespace mpio::metrics

#endif  // MPIO_ENGINE_METRICS_METRICS_FAMILIES_H_
