#include "plugins/psp/fixed/fixed.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "plugins/psp/common/name_buffer.h"
#include "plugins/psp/common/path_access.h"
#include "plugins/psp/common/path_order.h"
#include "plugins/psp/common/psp_glue.h"
#include "plugins/psp/common/psp_options.h"

namespace mpio_psp {
namespace {

class FixedPsp {
 public:
  static std::unique_ptr<FixedPsp> Create(const char* options, char* err,
                                          size_t cap) {
    std::vector<OptionKv> opts;
    if (!ParseOptions(options, {"preferred"}, &opts, err, cap)) {
      return nullptr;
    }
    auto psp = std::make_unique<FixedPsp>();
    for (const auto& o : opts) {
      if (o.value.empty()) {
        WriteError(err, cap,
                   "option 'preferred=' needs a path name; "
                   "valid keys: preferred");
        return nullptr;
      }
      psp->configured_ = o.value;
    }
    return psp;
  }

  int64_t Select(const mpio_psp_path* paths, size_t n, const mpio_io_info&) {
    PathAccess access = PathAccess::Compute(paths, n, false);
    size_t pref = PreferredPosition(paths, n);
    NotePreferred(paths, n, pref);
    const mpio_psp_path* chosen = nullptr;
    if (pref < n && access.Allows(paths[pref])) {
      chosen = &paths[pref];
    } else {
      // Fallback: the lowest index that may carry I/O. Deterministic, so
      // every failover of the preferred path lands on the same path.
      for (size_t i = 0; i < n; ++i) {
        if (access.Allows(paths[i]) &&
            (chosen == nullptr || paths[i].index < chosen->index)) {
          chosen = &paths[i];
        }
      }
    }
    if (chosen == nullptr) return -1;
    if (chosen->index != current_) {
      current_ = chosen->index;
      current_name_.Set(chosen->name);
    }
    return chosen->index;
  }

  void OnComplete(uint32_t, uint64_t, uint64_t, int, uint64_t) {}

  void PathsChanged(const mpio_psp_path* paths, size_t n, uint64_t) {
    NotePreferred(paths, n, PreferredPosition(paths, n));
  }

  std::string Describe() const {
    std::string preferred = !configured_.empty() ? configured_
                            : preferred_name_.Empty()
                                ? std::string("none")
                                : std::string(preferred_name_.c_str());
    std::string current = current_name_.Empty()
                              ? std::string("none")
                              : std::string(current_name_.c_str());
    return "{preferred=" + preferred + ", current=" + current + "}";
  }

 private:
  // Position in `paths` of the preferred path, or n when the configured
  // name matches no path (then there is no preferred path at all).
  size_t PreferredPosition(const mpio_psp_path* paths, size_t n) const {
    if (!configured_.empty()) {
      for (size_t i = 0; i < n; ++i) {
        if (paths[i].name != nullptr && configured_ == paths[i].name) return i;
      }
      return n;
    }
    size_t flagged = n;
    size_t lowest = n;
    for (size_t i = 0; i < n; ++i) {
      if (paths[i].preferred == 1 &&
          (flagged == n || paths[i].index < paths[flagged].index)) {
        flagged = i;
      }
      if (lowest == n || paths[i].index < paths[lowest].index) lowest = i;
    }
    return flagged < n ? flagged : lowest;
  }

  // Remembers the preferred path's name for describe(); copies only when
  // the preferred path changes, so select() stays cheap.
  void NotePreferred(const mpio_psp_path* paths, size_t n, size_t pref) {
    if (pref >= n || paths[pref].index == preferred_) return;
    preferred_ = paths[pref].index;
    preferred_name_.Set(paths[pref].name);
  }

  std::string configured_;  // from preferred=, empty when not given
  int64_t preferred_ = -1;
  NameBuffer preferred_name_;
  int64_t current_ = -1;
  NameBuffer current_name_;
};

}  // namespace

const mpio_plugin* FixedPlugin() {
  static constexpr const char* kAliases[] = {"VMW_PSP_FIXED", nullptr};
  static constexpr mpio_plugin kPlugin = PspDescriptor<FixedPsp>(
      "fixed", kAliases,
      "Fixed: one preferred path, fails back to it when it returns",
      "preferred=<path name> (default: the path flagged preferred, else the "
      "lowest index)");
  return &kPlugin;
}

}  // namespace mpio_psp
