// Which paths a PSP may route I/O to, and in which order of preference.
//
// Every PSP applies the same ALUA rule: paths whose port group is
// active/optimized (or that are not ALUA at all) come first; active/
// non-optimized paths carry I/O only when no optimized path is usable (or,
// for rr with useANO=1, together with them). Standby, unavailable, offline
// and transitioning paths never carry I/O, even if the engine marks them
// usable: defence in depth against a stale `usable` flag.
//
// Header-only, pure functions over the engine's path views; no state, no
// allocation, so it is safe on the select() hot path. Paths whose index is
// kMaxPaths or more are treated as excluded because PSPs keep per-path state
// in fixed arrays of that size (the engine numbers paths from 0 per device).
#ifndef MPIO_PLUGINS_PSP_COMMON_PATH_ACCESS_H_
#define MPIO_PLUGINS_PSP_COMMON_PATH_ACCESS_H_

#include <cstddef>
#include <cstdint>

#include "mpio/plugin.h"

namespace mpio_psp {

// Size of every per-path array in a PSP instance.
inline constexpr uint32_t kMaxPaths = 1024;

// Lower is better. kExcluded never carries I/O.
enum class AccessTier : int {
  kOptimized = 0,     // ALUA active/optimized, or no ALUA
  kNonOptimized = 1,  // ALUA active/non-optimized or LBA dependent
  kExcluded = 2,      // not usable, or a non-active ALUA state
};

inline AccessTier TierOf(const mpio_psp_path& p) {
  if (p.usable != 1 || p.index >= kMaxPaths) return AccessTier::kExcluded;
  switch (p.alua_state) {
    case MPIO_ALUA_ACTIVE_OPTIMIZED:
    case MPIO_ALUA_NONE:
      return AccessTier::kOptimized;
    case MPIO_ALUA_ACTIVE_NON_OPTIMIZED:
    // LBA dependent: some LBAs are reachable; the SATP sorts out errors.
    // Treat it like non-optimized so it is only a last resort.
    case MPIO_ALUA_LBA_DEPENDENT:
      return AccessTier::kNonOptimized;
    default:
      return AccessTier::kExcluded;
  }
}

// The set of paths one select() call may choose from. Compute it once per
// call (O(n)), then test each path with Allows().
class PathAccess {
 public:
  // use_non_optimized: allow active/non-optimized paths even when an
  // optimized one is usable (rr's useANO=1).
  static PathAccess Compute(const mpio_psp_path* paths, size_t n,
                            bool use_non_optimized) {
    AccessTier best = AccessTier::kExcluded;
    for (size_t i = 0; paths != nullptr && i < n; ++i) {
      AccessTier t = TierOf(paths[i]);
      if (t < best) best = t;
    }
    if (use_non_optimized && best != AccessTier::kExcluded) {
      best = AccessTier::kNonOptimized;
    }
    return PathAccess(best);
  }

  bool Any() const { return worst_allowed_ != AccessTier::kExcluded; }
  bool Allows(const mpio_psp_path& p) const {
    AccessTier t = TierOf(p);
    return t != AccessTier::kExcluded && t <= worst_allowed_;
  }

 private:
  explicit PathAccess(AccessTier worst) : worst_allowed_(worst) {}
  AccessTier worst_allowed_;
};

// Position of the view with engine index `index`, or n when absent.
inline size_t FindPath(const mpio_psp_path* paths, size_t n, int64_t index) {
  for (size_t i = 0; index >= 0 && paths != nullptr && i < n; ++i) {
    if (paths[i].index == static_cast<uint64_t>(index)) return i;
  }
  return n;
}

}  // namespace mpio_psp

#endif  // MPIO_PLUGINS_PSP_COMMON_PATH_ACCESS_H_
