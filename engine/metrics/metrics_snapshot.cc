#include "engine/metrics/metrics_snapshot.h"

#include "engine/base/log.h"

namespace mpio::metrics {

MetricsSnapshot TakeSnapshot(const std::vector<MultipathDevice*>& devices) {
  MetricsSnapshot s;
  s.devices.reserve(devices.size());
  for (const MultipathDevice* d : devices) {
    DeviceSnapshot ds;
    ds.device = d->identity();
    ds.satp = d->satp() ? d->satp()->name() : "built-in";
    ds.psp = d->psp() ? d->psp()->name() : "built-in";
    ds.vendor = d->lun().inquiry.vendor;
    ds.model = d->lun().inquiry.product;
    ds.size_bytes = d->geometry().size_bytes;
    ds.reported_size_bytes = d->reported_size_bytes();
    ds.usable_paths = d->usable_paths();
    ds.queued_ios = d->queued_no_path();
    ds.failovers = d->failovers();
    ds.lost = d->lost();
    for (const auto& p : d->paths()) {
      if (!p) continue;
      const auto state = static_cast<size_t>(p->state());
      if (state < ds.paths_by_state.size()) ds.paths_by_state[state]++;
      PathSnapshot ps;
      ps.device = d->identity();
      ps.path = p->name();
      ps.portal = p->session_config().portal;
      ps.state = p->state();
      ps.alua_state = p->alua_state();
      ps.counters = p->counters();
      s.paths.push_back(std::move(ps));
    }
    s.devices.push_back(std::move(ds));
  }
  const LogCounters log = GetLogCounters();
  s.log_lines_dropped = log.dropped;
  s.log_lines_lost = log.lost;
  return s;
}

}  // namespace mpio::metrics
