#include "plugins/psp/rr/rr.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "plugins/psp/common/path_access.h"
#include "plugins/psp/common/path_order.h"
#include "plugins/psp/common/psp_glue.h"
#include "plugins/psp/common/psp_options.h"

namespace mpio_psp {
namespace {

constexpr uint64_t kNsPerMs = 1000000;
constexpr const char* kValidKeys =
    "policy, iops, bytes, useANO, latencyEvalTime, samplingCycles";

enum class Policy { kIops, kBytes, kLatency };

const char* PolicyName(Policy p) {
  switch (p) {
    case Policy::kIops:
      return "iops";
    case Policy::kBytes:
      return "bytes";
    case Policy::kLatency:
      return "latency";
  }
  return "?";
}

// Latency bookkeeping of one path. Entries belong to one sampling round,
// named by `gen`; an entry from an older round reads as empty, so starting a
// round is O(1) instead of clearing kMaxPaths entries in select().
struct PathLatency {
  uint32_t gen = 0;      // round the sums belong to
  uint32_t samples = 0;  // successful completions this round
  uint64_t sum_ns = 0;   // their total latency
  uint32_t avg_gen = 0;  // round that produced avg_ns (0: none)
  uint64_t avg_ns = 0;   // average latency measured in round avg_gen
};

class RrPsp {
 public:
  static std::unique_ptr<RrPsp> Create(const char* options, char* err,
                                       size_t cap) {
    std::vector<OptionKv> opts;
    // ParseOptions lower-cases keys, so "useANO" arrives as "useano".
    if (!ParseOptions(options,
                      {"policy", "iops", "bytes", "useano", "latencyevaltime",
                       "samplingcycles"},
                      &opts, err, cap)) {
      // Restore ESXi's spelling of the keys in the message.
      std::string e = err != nullptr && cap > 0 ? std::string(err) : "";
      size_t at = e.find("valid keys: ");
      if (at != std::string::npos) {
        WriteError(err, cap, e.substr(0, at) + "valid keys: " + kValidKeys);
      }
      return nullptr;
    }
    auto psp = std::make_unique<RrPsp>();
    for (const auto& o : opts) {
      bool ok = true;
      if (o.key == "policy") {
        std::string v = o.value;
        for (auto& c : v) {
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        if (v == "iops") {
          psp->policy_ = Policy::kIops;
        } else if (v == "bytes") {
          psp->policy_ = Policy::kBytes;
        } else if (v == "latency") {
          psp->policy_ = Policy::kLatency;
        } else {
          WriteError(err, cap,
                     "option 'policy=" + o.value +
                         "': expected iops, bytes or latency");
          ok = false;
        }
      } else if (o.key == "iops") {
        ok = ParseUint(o, 1, 1000000, &psp->iops_, err, cap);
      } else if (o.key == "bytes") {
        ok = ParseUint(o, 1, uint64_t{1} << 40, &psp->bytes_, err, cap);
      } else if (o.key == "useano") {
        ok = ParseBool(o, &psp->use_ano_, err, cap);
      } else if (o.key == "latencyevaltime") {
        ok = ParseUint(o, 1, 86400000, &psp->eval_ms_, err, cap);
      } else if (o.key == "samplingcycles") {
        ok = ParseUint(o, 1, 100000, &psp->sampling_cycles_, err, cap);
      }
      if (!ok) return nullptr;
    }
    return psp;
  }

  int64_t Select(const mpio_psp_path* paths, size_t n, const mpio_io_info& io) {
    PathAccess access = PathAccess::Compute(paths, n, use_ano_);
    if (!access.Any()) return -1;
    size_t chosen = policy_ == Policy::kLatency
                        ? SelectLatency(paths, n, access, io.now_ns)
                        : SelectCounting(paths, n, access);
    if (chosen >= n) return -1;
    last_ = paths[chosen].index;
    ++ios_on_last_;
    bytes_on_last_ += io.bytes;
    return last_;
  }

  void OnComplete(uint32_t path_index, uint64_t, uint64_t latency_ns,
                  int result, uint64_t) {
    // Only successful I/O measures a path: a failed one may have ended early
    // (or timed out) and says nothing about its service time.
    if (!sampling_ || result != MPIO_IO_OK || path_index >= kMaxPaths) return;
    PathLatency& s = latency_[path_index];
    if (s.gen != gen_) {
      s.gen = gen_;
      s.samples = 0;
      s.sum_ns = 0;
    }
    ++s.samples;
    s.sum_ns += latency_ns;
  }

  void PathsChanged(const mpio_psp_path*, size_t, uint64_t now_ns) {
    // A path came, went or changed state: old averages may not describe the
    // new set (a recovered path, a moved ALUA group), so measure again.
    if (policy_ == Policy::kLatency) StartSampling(now_ns);
  }

  std::string Describe() const {
    std::string out = std::string("{policy=") + PolicyName(policy_);
    if (policy_ == Policy::kLatency) {
      out += ",latencyEvalTime=" + std::to_string(eval_ms_) +
             ",samplingCycles=" + std::to_string(sampling_cycles_);
    } else {
      out +=
          ",iops=" + std::to_string(iops_) + ",bytes=" + std::to_string(bytes_);
    }
    out += std::string(",useANO=") + (use_ano_ ? "1" : "0") +
           "; lastPathIndex=" + std::to_string(last_);
    if (policy_ == Policy::kLatency) {
      out += std::string(",phase=") + (sampling_ ? "sampling" : "steady") +
             ",avgLatencyUs=[";
      bool first = true;
      for (uint32_t i = 0; i < kMaxPaths; ++i) {
        if (latency_[i].avg_gen == 0 || latency_[i].avg_gen != avg_round_) {
          continue;
        }
        if (!first) out += ",";
        first = false;
        out +=
            std::to_string(i) + ":" + std::to_string(latency_[i].avg_ns / 1000);
      }
      out += "]";
    }
    return out + "}";
  }

 private:
  // iops and bytes policies: stay on the last path until its quota is used,
  // then take the next path by index (wrapping) that may carry I/O.
  size_t SelectCounting(const mpio_psp_path* paths, size_t n,
                        const PathAccess& access) {
    size_t cur = FindPath(paths, n, last_);
    bool quota_left = policy_ == Policy::kIops ? ios_on_last_ < iops_
                                               : bytes_on_last_ < bytes_;
    if (cur < n && access.Allows(paths[cur]) && quota_left) return cur;
    ios_on_last_ = 0;
    bytes_on_last_ = 0;
    return NextAfter(paths, n, access, last_);
  }

  // ESXi's latency policy.
  size_t SelectLatency(const mpio_psp_path* paths, size_t n,
                       const PathAccess& access, uint64_t now_ns) {
    if (gen_ == 0 || (!sampling_ && now_ns >= next_eval_ns_)) {
      StartSampling(now_ns);
    }
    if (sampling_ && SamplingDone(paths, n, access, now_ns)) {
      FinishSampling(paths, n, access, now_ns);
    }
    if (sampling_) {
      // Sampling: strict round robin (one I/O per path in turn) so every
      // path sees a similar load while it is measured.
      return NextAfter(paths, n, access, last_);
    }
    // Steady state: expected completion time of a new I/O on path p is
    // (queued I/Os ahead of it + itself) * its average latency:
    //   cost(p) = (inflight_ios(p) + 1) * avg_ns(p).
    // Both factors fit in 64 bits; the product is kept in 128 bits so a
    // huge queue cannot wrap around and look cheap. Equal costs go round
    // robin (the next index after the last one) so equal paths alternate.
    // A path without a measurement from this round (it could not finish its
    // samples in time) is charged the worst measured average: a path too
    // slow to be measured is not a good bet. If nothing was measured, every
    // path costs the same per I/O and this degrades to least-queue.
    size_t best = n;
    unsigned __int128 best_cost = 0;
    uint32_t best_dist = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!access.Allows(paths[i])) continue;
      const PathLatency& s = latency_[paths[i].index];
      uint64_t avg =
          s.avg_gen == avg_round_ && s.avg_gen != 0 ? s.avg_ns : worst_avg_ns_;
      unsigned __int128 cost =
          (static_cast<unsigned __int128>(paths[i].inflight_ios) + 1) * avg;
      uint32_t dist = CyclicDistance(paths[i].index, last_);
      if (best == n || cost < best_cost ||
          (cost == best_cost && dist < best_dist)) {
        best = i;
        best_cost = cost;
        best_dist = dist;
      }
    }
    return best;
  }

  void StartSampling(uint64_t now_ns) {
    ++gen_;
    if (gen_ == 0) gen_ = 1;  // 0 means "never"; skip it on wrap-around
    sampling_ = true;
    sampling_start_ns_ = now_ns;
  }

  // Done when every path that may carry I/O has completed samplingCycles
  // I/Os this round, or when the round has lasted a whole evaluation period
  // (a path that never completes must not keep the device sampling forever).
  bool SamplingDone(const mpio_psp_path* paths, size_t n,
                    const PathAccess& access, uint64_t now_ns) const {
    uint64_t elapsed =
        now_ns > sampling_start_ns_ ? now_ns - sampling_start_ns_ : 0;
    if (elapsed >= eval_ms_ * kNsPerMs) return true;
    for (size_t i = 0; i < n; ++i) {
      if (!access.Allows(paths[i])) continue;
      const PathLatency& s = latency_[paths[i].index];
      if (s.gen != gen_ || s.samples < sampling_cycles_) return false;
    }
    return true;
  }

  void FinishSampling(const mpio_psp_path* paths, size_t n,
                      const PathAccess& access, uint64_t now_ns) {
    uint64_t worst = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!access.Allows(paths[i])) continue;
      PathLatency& s = latency_[paths[i].index];
      if (s.gen != gen_ || s.samples == 0) continue;
      // Average = sum / count; at least 1 ns so the queue length still
      // counts when latencies are below the clock's resolution.
      s.avg_ns = std::max<uint64_t>(1, s.sum_ns / s.samples);
      s.avg_gen = gen_;
      worst = std::max(worst, s.avg_ns);
    }
    worst_avg_ns_ = worst == 0 ? 1 : worst;
    avg_round_ = gen_;
    sampling_ = false;
    next_eval_ns_ = now_ns + eval_ms_ * kNsPerMs;
  }

  // The allowed path that comes next after `last` in index order, wrapping.
  static size_t NextAfter(const mpio_psp_path* paths, size_t n,
                          const PathAccess& access, int64_t last) {
    size_t best = n;
    uint32_t best_dist = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!access.Allows(paths[i])) continue;
      uint32_t d = CyclicDistance(paths[i].index, last);
      if (best == n || d < best_dist) {
        best = i;
        best_dist = d;
      }
    }
    return best;
  }

  // Configuration.
  Policy policy_ = Policy::kIops;
  uint64_t iops_ = 1000;
  uint64_t bytes_ = 10485760;
  bool use_ano_ = false;
  uint64_t eval_ms_ = 180000;
  uint64_t sampling_cycles_ = 16;

  // Round robin position.
  int64_t last_ = -1;
  uint64_t ios_on_last_ = 0;
  uint64_t bytes_on_last_ = 0;

  // Latency policy.
  uint32_t gen_ = 0;  // current sampling round; 0 before the first
  bool sampling_ = false;
  uint64_t sampling_start_ns_ = 0;
  uint64_t next_eval_ns_ = 0;
  uint32_t avg_round_ = 0;  // round whose averages steer I/O
  uint64_t worst_avg_ns_ = 1;
  std::array<PathLatency, kMaxPaths> latency_{};
};

}  // namespace

const mpio_plugin* RrPlugin() {
  static constexpr const char* kAliases[] = {"VMW_PSP_RR", nullptr};
  static constexpr mpio_plugin kPlugin = PspDescriptor<RrPsp>(
      "rr", kAliases,
      "Round robin over usable paths: by I/O count, bytes or latency",
      "policy=iops|bytes|latency; iops=N (1000); bytes=N (10485760); "
      "useANO=0|1 (0); latencyEvalTime=ms (180000); samplingCycles=N (16)");
  return &kPlugin;
}

}  // namespace mpio_psp
