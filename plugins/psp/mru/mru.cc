#include "plugins/psp/mru/mru.h"

#include <cstdint>
#include <memory>
#include <string>

#include "plugins/psp/common/name_buffer.h"
#include "plugins/psp/common/path_access.h"
#include "plugins/psp/common/path_order.h"
#include "plugins/psp/common/psp_glue.h"

namespace mpio_psp {
namespace {

class MruPsp {
 public:
  static std::unique_ptr<MruPsp> Create(const char* options, char* err,
                                        size_t cap) {
    if (!ParseNoOptions("mru", options, err, cap)) return nullptr;
    return std::make_unique<MruPsp>();
  }

  int64_t Select(const mpio_psp_path* paths, size_t n, const mpio_io_info&) {
    PathAccess access = PathAccess::Compute(paths, n, false);
    size_t cur = FindPath(paths, n, current_);
    if (cur < n && access.Allows(paths[cur])) return current_;
    // Move on: the next index after the current one, wrapping, so repeated
    // failures walk through all paths instead of bouncing between two.
    size_t next = n;
    uint32_t best = UINT32_MAX;
    for (size_t i = 0; i < n; ++i) {
      if (!access.Allows(paths[i])) continue;
      uint32_t d = CyclicDistance(paths[i].index, current_);
      if (next == n || d < best) {
        next = i;
        best = d;
      }
    }
    if (next == n) return -1;
    current_ = paths[next].index;
    current_name_.Set(paths[next].name);
    return current_;
  }

  void OnComplete(uint32_t, uint64_t, uint64_t, int, uint64_t) {}
  void PathsChanged(const mpio_psp_path*, size_t, uint64_t) {}

  std::string Describe() const {
    return std::string("{current=") +
           (current_name_.Empty() ? "none" : current_name_.c_str()) + "}";
  }

 private:
  int64_t current_ = -1;
  NameBuffer current_name_;
};

}  // namespace

const mpio_plugin* MruPlugin() {
  static constexpr const char* kAliases[] = {"VMW_PSP_MRU", nullptr};
  static constexpr mpio_plugin kPlugin = PspDescriptor<MruPsp>(
      "mru", kAliases,
      "Most recently used: stays on a path until it fails, no failback",
      "(no options)");
  return &kPlugin;
}

}  // namespace mpio_psp
