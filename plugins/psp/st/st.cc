#include "plugins/psp/st/st.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "plugins/psp/common/path_access.h"
#include "plugins/psp/common/path_order.h"
#include "plugins/psp/common/psp_glue.h"

namespace mpio_psp {
namespace {

using u128 = unsigned __int128;

constexpr uint64_t kNsPerSecond = 1000000000;
// Completions are folded into the throughput estimate once they cover at
// least this much busy time: a burst of completions reaped together would
// otherwise look like an absurd rate over a few nanoseconds.
constexpr uint64_t kMinWindowNs = 1000000;  // 1 ms
// EWMA weight of a new window: 1/8 (a shift, like dm's fixed-point code).
constexpr unsigned kEwmaShift = 3;

struct PathRate {
  uint64_t bytes_per_s = 0;  // EWMA; valid when measured
  bool measured = false;
  uint64_t last_complete_ns = 0;
  uint64_t window_bytes = 0;  // completions not yet folded in
  uint64_t window_busy_ns = 0;
};

class StPsp {
 public:
  static std::unique_ptr<StPsp> Create(const char* options, char* err,
                                       size_t cap) {
    if (!ParseNoOptions("st", options, err, cap)) return nullptr;
    return std::make_unique<StPsp>();
  }

  int64_t Select(const mpio_psp_path* paths, size_t n, const mpio_io_info& io) {
    PathAccess access = PathAccess::Compute(paths, n, false);
    // Pass 1: the best measured throughput, which unmeasured paths borrow.
    uint64_t best_known = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!access.Allows(paths[i])) continue;
      const PathRate& r = rates_[paths[i].index];
      if (r.measured) best_known = std::max(best_known, r.bytes_per_s);
    }
    if (best_known == 0) best_known = 1;  // nothing measured: all equal

    // Pass 2: minimise size / throughput. Comparing s1/t1 < s2/t2 by
    // cross-multiplying, s1 * t2 < s2 * t1, avoids division and its
    // rounding. Sizes are below 2^65 (sum of two 64-bit values) and rates
    // below 2^64, so the products fit in 128 bits.
    size_t best = n;
    u128 best_size = 0;
    uint64_t best_rate = 0;
    uint32_t best_dist = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!access.Allows(paths[i])) continue;
      const PathRate& r = rates_[paths[i].index];
      uint64_t rate =
          r.measured ? std::max<uint64_t>(1, r.bytes_per_s) : best_known;
      u128 size = static_cast<u128>(paths[i].inflight_bytes) + io.bytes;
      uint32_t dist = CyclicDistance(paths[i].index, last_);
      bool better = false;
      if (best == n) {
        better = true;
      } else {
        u128 lhs = size * best_rate;  // this path's time, scaled
        u128 rhs = best_size * rate;  // best path's time, same scale
        better = lhs < rhs ||
                 (lhs == rhs && (rate > best_rate ||
                                 (rate == best_rate && dist < best_dist)));
      }
      if (better) {
        best = i;
        best_size = size;
        best_rate = rate;
        best_dist = dist;
      }
    }
    if (best == n) return -1;
    last_ = paths[best].index;
    return last_;
  }

  // Throughput of a path = bytes it completed / time it was busy. Each
  // completion accounts for the busy time from the later of its own start
  // (now - latency) and the previous completion on the path, up to now.
  // With one I/O at a time that is its latency; with many queued, the gaps
  // between completions, so queueing delay is not mistaken for slowness.
  void OnComplete(uint32_t path_index, uint64_t bytes, uint64_t latency_ns,
                  int result, uint64_t now_ns) {
    if (path_index >= kMaxPaths) return;
    PathRate& r = rates_[path_index];
    uint64_t start = now_ns > latency_ns ? now_ns - latency_ns : 0;
    uint64_t from = std::max(start, r.last_complete_ns);
    uint64_t busy = now_ns > from ? now_ns - from : 0;
    r.last_complete_ns = std::max(r.last_complete_ns, now_ns);
    // A transport failure or timeout says nothing about bandwidth.
    if (result == MPIO_IO_PATH_FAILED) return;
    r.window_bytes += bytes;
    r.window_busy_ns += busy;
    // The first window closes at once so a new path gets a number quickly.
    if (r.window_busy_ns == 0 || r.window_bytes == 0 ||
        (r.measured && r.window_busy_ns < kMinWindowNs)) {
      return;
    }
    u128 sample128 =
        static_cast<u128>(r.window_bytes) * kNsPerSecond / r.window_busy_ns;
    uint64_t sample =
        sample128 > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(sample128);
    r.window_bytes = 0;
    r.window_busy_ns = 0;
    if (!r.measured) {
      r.bytes_per_s = sample;
      r.measured = true;
      return;
    }
    // rate += (sample - rate) / 8, in unsigned arithmetic:
    // rate = (rate * 7 + sample) / 8, widened so it cannot overflow.
    r.bytes_per_s = static_cast<uint64_t>(
        ((static_cast<u128>(r.bytes_per_s) << kEwmaShift) - r.bytes_per_s +
         sample) >>
        kEwmaShift);
  }

  void PathsChanged(const mpio_psp_path* paths, size_t n, uint64_t) {
    // A path that is gone or unusable loses its estimate: when it comes
    // back it may be a different link (or a repaired one), so it is tried
    // afresh like a new path.
    for (size_t i = 0; i < n; ++i) {
      if (paths[i].index < kMaxPaths && paths[i].usable != 1) {
        rates_[paths[i].index] = PathRate{};
      }
    }
  }

  std::string Describe() const {
    std::string out =
        "{lastPathIndex=" + std::to_string(last_) + "; throughputMBps=[";
    bool first = true;
    for (uint32_t i = 0; i < kMaxPaths; ++i) {
      if (!rates_[i].measured) continue;
      char item[48];
      std::snprintf(item, sizeof(item), "%s%u:%.1f", first ? "" : ",", i,
                    static_cast<double>(rates_[i].bytes_per_s) / 1e6);
      out += item;
      first = false;
    }
    return out + "]}";
  }

 private:
  int64_t last_ = -1;
  std::array<PathRate, kMaxPaths> rates_{};
};

}  // namespace

const mpio_plugin* StPlugin() {
  static constexpr const char* kAliases[] = {"service-time", nullptr};
  static constexpr mpio_plugin kPlugin = PspDescriptor<StPsp>(
      "st", kAliases,
      "Service time: the path where the I/O would finish first, by "
      "measured throughput",
      "(no options)");
  return &kPlugin;
}

}  // namespace mpio_psp
