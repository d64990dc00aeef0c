// Test-only: load a built PSP .so through the real ABI and drive it like the
// engine would, with a fake clock and fake paths.
//
// PspLibrary dlopen()s "<PSP_DIR>/<file>" (PSP_DIR is a compile definition
// set by CMake to the plugin build directory) and resolves the one entry
// symbol. PspInstance owns one create()d instance. FakeDevice holds path
// views with stable names, issues I/Os through select() (counting them in
// flight like the engine) and completes them through on_complete().
// Single-threaded; failures are reported as doctest failures.
#ifndef MPIO_PLUGINS_PSP_COMMON_PSP_TEST_HARNESS_H_
#define MPIO_PLUGINS_PSP_COMMON_PSP_TEST_HARNESS_H_

#include <dlfcn.h>
#include <doctest/doctest.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mpio/plugin.h"

namespace mpio_psp_test {

class PspLibrary {
 public:
  // Path of a plugin file in the build tree.
  static std::string BuildPath(const std::string& file) {
#ifdef PSP_DIR
    return std::string(PSP_DIR) + "/" + file;
#else
    return file;
#endif
  }

  explicit PspLibrary(const std::string& path) {
    handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) {
      FAIL_CHECK("dlopen " << path << ": " << dlerror());
      return;
    }
    auto entry = reinterpret_cast<mpio_plugin_entry_fn>(
        dlsym(handle_, MPIO_PLUGIN_ENTRY_SYMBOL));
    if (entry == nullptr) {
      FAIL_CHECK("no " << MPIO_PLUGIN_ENTRY_SYMBOL << " in " << path);
      return;
    }
    plugin_ = entry();
  }
  ~PspLibrary() {
    if (handle_ != nullptr) dlclose(handle_);
  }
  PspLibrary(const PspLibrary&) = delete;
  PspLibrary& operator=(const PspLibrary&) = delete;

  void* handle() const { return handle_; }
  const mpio_plugin* plugin() const { return plugin_; }

 private:
  void* handle_ = nullptr;
  const mpio_plugin* plugin_ = nullptr;
};

// Tries create(); on failure returns the error text in *err.
inline void* TryCreate(const mpio_plugin* p, const char* options,
                       std::string* err) {
  char buf[512] = "untouched";
  void* inst = p->create(options, buf, sizeof(buf));
  if (err != nullptr) *err = inst == nullptr ? std::string(buf) : "";
  return inst;
}

class PspInstance {
 public:
  PspInstance(const mpio_plugin* p, const char* options) : plugin_(p) {
    std::string err;
    instance_ = TryCreate(p, options, &err);
    REQUIRE_MESSAGE(instance_ != nullptr, "create(" << options << "): " << err);
  }
  ~PspInstance() {
    if (instance_ != nullptr) plugin_->destroy(instance_);
  }
  PspInstance(const PspInstance&) = delete;
  PspInstance& operator=(const PspInstance&) = delete;

  std::string Describe() const {
    char buf[1024];
    size_t want = plugin_->describe(instance_, buf, sizeof(buf));
    CHECK(want == std::string(buf).size());
    return buf;
  }
  const mpio_plugin* plugin() const { return plugin_; }
  void* get() const { return instance_; }

 private:
  const mpio_plugin* plugin_;
  void* instance_ = nullptr;
};

// One I/O that select() routed and that has not completed yet.
// Latency value for CompleteOn(): "the time since the I/O was issued".
inline constexpr uint64_t kElapsed = UINT64_MAX;

struct Outstanding {
  uint32_t path;
  uint64_t bytes;
  uint64_t issued_ns;
};

class FakeDevice {
 public:
  explicit FakeDevice(const PspInstance& psp) : psp_(psp) {}

  // Adds a path named "p<index>"; indices count from 0.
  uint32_t AddPath(int alua = MPIO_ALUA_NONE, int preferred = 0) {
    uint32_t index = static_cast<uint32_t>(paths_.size());
    names_.push_back(
        std::make_unique<std::string>("p" + std::to_string(index)));
    mpio_psp_path p = {};
    p.index = index;
    p.name = names_.back()->c_str();
    p.usable = 1;
    p.alua_state = alua;
    p.preferred = preferred;
    paths_.push_back(p);
    Changed();
    return index;
  }
  void SetUsable(uint32_t i, bool usable) {
    paths_.at(i).usable = usable ? 1 : 0;
    Changed();
  }
  void SetAlua(uint32_t i, int alua) {
    paths_.at(i).alua_state = alua;
    Changed();
  }
  void SetPreferred(uint32_t i, int preferred) {
    paths_.at(i).preferred = preferred;
    Changed();
  }
  void Changed() {
    psp_.plugin()->paths_changed(psp_.get(), paths_.data(), paths_.size(),
                                 now_ns_);
  }

  // select() only: what the PSP would pick (nothing is counted in flight).
  int64_t Peek(uint64_t bytes = 4096) {
    mpio_io_info io = {MPIO_IO_READ, 0, bytes, now_ns_};
    return psp_.plugin()->select(psp_.get(), paths_.data(), paths_.size(), &io);
  }
  // select() and count the I/O in flight on the chosen path.
  int64_t Issue(uint64_t bytes = 4096) {
    int64_t chosen = Peek(bytes);
    if (chosen >= 0) {
      REQUIRE(static_cast<uint64_t>(chosen) < paths_.size());
      mpio_psp_path& p = paths_[chosen];
      CHECK(p.usable == 1);
      ++p.inflight_ios;
      p.inflight_bytes += bytes;
      outstanding_.push_back({static_cast<uint32_t>(chosen), bytes, now_ns_});
    }
    return chosen;
  }
  // Completes the oldest outstanding I/O on `path`, reporting `latency_ns`
  // (the clock does not move), or now - issue time for kElapsed.
  void CompleteOn(uint32_t path, uint64_t latency_ns, int result = MPIO_IO_OK) {
    for (auto it = outstanding_.begin(); it != outstanding_.end(); ++it) {
      if (it->path != path) continue;
      Outstanding o = *it;
      outstanding_.erase(it);
      Finish(o, latency_ns == kElapsed ? now_ns_ - o.issued_ns : latency_ns,
             result);
      return;
    }
    FAIL_CHECK("no I/O outstanding on path " << path);
  }
  // Completes every outstanding I/O, each with its path's latency.
  void CompleteAll(const std::map<uint32_t, uint64_t>& latency_by_path = {}) {
    while (!outstanding_.empty()) {
      Outstanding o = outstanding_.front();
      outstanding_.pop_front();
      auto it = latency_by_path.find(o.path);
      Finish(o, it == latency_by_path.end() ? 1000 : it->second, MPIO_IO_OK);
    }
  }
  // Issues one I/O and completes it at once: returns the chosen path.
  int64_t RoundTrip(uint64_t latency_ns = 1000, uint64_t bytes = 4096) {
    int64_t chosen = Issue(bytes);
    if (chosen >= 0) CompleteOn(static_cast<uint32_t>(chosen), latency_ns);
    return chosen;
  }

  void Advance(uint64_t ns) { now_ns_ += ns; }
  uint64_t now() const { return now_ns_; }
  const mpio_psp_path& path(uint32_t i) const { return paths_.at(i); }
  size_t outstanding() const { return outstanding_.size(); }

 private:
  void Finish(const Outstanding& o, uint64_t latency_ns, int result) {
    mpio_psp_path& p = paths_[o.path];
    --p.inflight_ios;
    p.inflight_bytes -= o.bytes;
    psp_.plugin()->on_complete(psp_.get(), o.path, o.bytes, latency_ns, result,
                               now_ns_);
  }

  const PspInstance& psp_;
  std::vector<std::unique_ptr<std::string>> names_;
  std::vector<mpio_psp_path> paths_;
  std::deque<Outstanding> outstanding_;
  uint64_t now_ns_ = 1000000000;
};

// The chosen paths of `count` immediate round trips, as a string like
// "0101" (single-digit indices), for readable distribution checks.
inline std::string Pattern(FakeDevice& dev, int count, uint64_t bytes = 4096) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    int64_t c = dev.RoundTrip(1000, bytes);
    out += c < 0 ? std::string("-") : std::to_string(c);
  }
  return out;
}

}  // namespace mpio_psp_test

#endif  // MPIO_PLUGINS_PSP_COMMON_PSP_TEST_HARNESS_H_
