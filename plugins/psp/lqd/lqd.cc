#include "plugins/psp/lqd/lqd.h"

#include <cstdint>
#include <memory>
#include <string>

#include "plugins/psp/common/path_access.h"
#include "plugins/psp/common/path_order.h"
#include "plugins/psp/common/psp_glue.h"

namespace mpio_psp {
namespace {

class LqdPsp {
 public:
  static std::unique_ptr<LqdPsp> Create(const char* options, char* err,
                                        size_t cap) {
    if (!ParseNoOptions("lqd", options, err, cap)) return nullptr;
    return std::make_unique<LqdPsp>();
  }

  int64_t Select(const mpio_psp_path* paths, size_t n, const mpio_io_info&) {
    PathAccess access = PathAccess::Compute(paths, n, false);
    size_t best = n;
    uint32_t best_dist = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!access.Allows(paths[i])) continue;
      uint32_t dist = CyclicDistance(paths[i].index, last_);
      // Order by (inflight_ios, distance from the last choice): the queue
      // decides, round robin only breaks ties.
      if (best == n || paths[i].inflight_ios < paths[best].inflight_ios ||
          (paths[i].inflight_ios == paths[best].inflight_ios &&
           dist < best_dist)) {
        best = i;
        best_dist = dist;
      }
    }
    if (best == n) return -1;
    last_ = paths[best].index;
    return last_;
  }

  void OnComplete(uint32_t, uint64_t, uint64_t, int, uint64_t) {}
  void PathsChanged(const mpio_psp_path*, size_t, uint64_t) {}

  std::string Describe() const {
    return "{lastPathIndex=" + std::to_string(last_) + "}";
  }

 private:
  int64_t last_ = -1;
};

}  // namespace

const mpio_plugin* LqdPlugin() {
  static constexpr const char* kAliases[] = {"queue-length", nullptr};
  static constexpr mpio_plugin kPlugin = PspDescriptor<LqdPsp>(
      "lqd", kAliases,
      "Least queue depth: the path with the fewest I/Os in flight",
      "(no options)");
  return &kPlugin;
}

}  // namespace mpio_psp
