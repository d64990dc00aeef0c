// MetricsSnapshot: a plain copy of what /metrics reports, taken on the
// engine's reactor thread in one short pass, so that building the text (and
// prometheus-cpp's locking and allocation) happens off the reactor.
//
// Threads: TakeSnapshot() on the reactor thread only (inside
// Engine::RunOnReactor); the snapshot itself is a value, usable anywhere.
#ifndef MPIO_ENGINE_METRICS_METRICS_SNAPSHOT_H_
#define MPIO_ENGINE_METRICS_METRICS_SNAPSHOT_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/device/multipath_device.h"
#include "engine/path/path.h"

namespace mpio::metrics {

// Every PathState, in enum order: one series per state, so a dashboard sees
// a 0 -> 1 edge when a path changes state.
inline constexpr std::array<PathState, 7> kAllPathStates = {
    PathState::kConnecting, PathState::kProbation, PathState::kActive,
    PathState::kStandby,    PathState::kDisabled,  PathState::kDead,
    PathState::kMarginal};

struct PathSnapshot {
  std::string device;  // identity
  std::string path;    // Path::name()
  std::string portal;
  PathState state = PathState::kConnecting;
  int alua_state = 0;
  PathCounters counters;
};

struct DeviceSnapshot {
  std::string device;
  std::string satp, psp, vendor, model;
  uint64_t size_bytes = 0;
  uint64_t reported_size_bytes = 0;
  uint64_t usable_paths = 0;
  uint64_t queued_ios = 0;
  uint64_t failovers = 0;
  bool lost = false;
  std::array<uint64_t, kAllPathStates.size()> paths_by_state = {};
};

struct MetricsSnapshot {
  std::vector<DeviceSnapshot> devices;
  std::vector<PathSnapshot> paths;
  uint64_t log_lines_dropped = 0;
  uint64_t log_lines_lost = 0;
};

// Reactor thread.
MetricsSnapshot TakeSnapshot(const std::vector<MultipathDevice*>& devices);

}  // namespace mpio::metrics

#endif  // MPIO_ENGINE_METRICS_METRICS_SNAPSHOT_H_
