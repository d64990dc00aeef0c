// libFuzzer target: random option strings for every PSP's create(), then a
// random sequence of paths_changed / select / on_complete / describe calls
// through the C ABI, checking the PSP contract on every step:
//   - create() either returns an instance or NULL with a NUL-terminated,
//     non-empty reason;
//   - select() returns -1 exactly when no path may carry I/O, otherwise the
//     index of a usable path in an active ALUA state (never standby,
//     unavailable, offline or transitioning);
//   - describe() NUL-terminates within any cap and reports its length.
// The PSP sources are linked in (not dlopen()ed) so coverage guides the
// fuzzer. Input: byte 0 picks the PSP, then the option text up to '\n',
// then two bytes per operation.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "mpio/plugin.h"
#include "plugins/psp/fixed/fixed.h"
#include "plugins/psp/lqd/lqd.h"
#include "plugins/psp/mru/mru.h"
#include "plugins/psp/rr/rr.h"
#include "plugins/psp/st/st.h"

namespace {

constexpr size_t kPaths = 6;
constexpr int kAluaStates[] = {MPIO_ALUA_ACTIVE_OPTIMIZED,
                               MPIO_ALUA_ACTIVE_NON_OPTIMIZED,
                               MPIO_ALUA_STANDBY,
                               MPIO_ALUA_UNAVAILABLE,
                               MPIO_ALUA_OFFLINE,
                               MPIO_ALUA_TRANSITIONING,
                               MPIO_ALUA_NONE,
                               MPIO_ALUA_LBA_DEPENDENT};

bool MayCarry(const mpio_psp_path& p) {
  return p.usable == 1 && (p.alua_state == MPIO_ALUA_ACTIVE_OPTIMIZED ||
                           p.alua_state == MPIO_ALUA_NONE ||
                           p.alua_state == MPIO_ALUA_ACTIVE_NON_OPTIMIZED ||
                           p.alua_state == MPIO_ALUA_LBA_DEPENDENT);
}

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

struct Io {
  uint32_t path;
  uint64_t bytes;
  uint64_t issued_ns;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const mpio_plugin* const kPlugins[] = {
      mpio_psp::FixedPlugin(), mpio_psp::MruPlugin(), mpio_psp::RrPlugin(),
      mpio_psp::LqdPlugin(), mpio_psp::StPlugin()};
  const mpio_plugin* p = kPlugins[data[0] % 5];
  size_t pos = 1;
  std::string options;
  while (pos < size && data[pos] != '\n' && options.size() < 512) {
    options.push_back(static_cast<char>(data[pos++]));
  }
  ++pos;

  char err[256];
  std::memset(err, 'x', sizeof(err));
  // Options with an embedded NUL end there, as they would in C.
  void* inst = p->create(options.c_str(), err, sizeof(err));
  if (inst == nullptr) {
    Check(std::memchr(err, '\0', sizeof(err)) != nullptr);
    Check(err[0] != '\0');
    return 0;
  }

  std::vector<std::string> names;
  std::vector<mpio_psp_path> paths(kPaths);
  for (size_t i = 0; i < kPaths; ++i) names.push_back("p" + std::to_string(i));
  for (size_t i = 0; i < kPaths; ++i) {
    paths[i] = {};
    paths[i].index = static_cast<uint32_t>(i);
    paths[i].name = names[i].c_str();
    paths[i].usable = 1;
    paths[i].alua_state = MPIO_ALUA_NONE;
  }
  size_t n = 2;
  uint64_t now = 1;
  std::deque<Io> outstanding;
  p->paths_changed(inst, paths.data(), n, now);

  for (; pos + 1 < size && outstanding.size() < 10000; pos += 2) {
    uint8_t op = data[pos];
    uint8_t arg = data[pos + 1];
    switch (op % 6) {
      case 0: {  // change one path, or the number of paths
        size_t i = arg % kPaths;
        if ((op >> 3) & 1) {
          n = 1 + arg % kPaths;
        } else if ((op >> 4) & 1) {
          paths[i].usable ^= 1;
        } else if ((op >> 5) & 1) {
          paths[i].preferred ^= 1;
        } else {
          paths[i].alua_state = kAluaStates[(arg >> 3) % 8];
        }
        // I/O on paths beyond n stays counted on them, as in the engine
        // when a path is removed with I/O in flight.
        p->paths_changed(inst, paths.data(), n, now);
        break;
      }
      case 1:
      case 2: {  // one I/O
        mpio_io_info io = {MPIO_IO_READ, 0, uint64_t{arg} << (op >> 4), now};
        int64_t chosen = p->select(inst, paths.data(), n, &io);
        bool any = false;
        for (size_t i = 0; i < n; ++i) any = any || MayCarry(paths[i]);
        if (chosen < 0) {
          Check(chosen == -1 && !any);
        } else {
          Check(static_cast<uint64_t>(chosen) < n);
          Check(MayCarry(paths[chosen]));
          ++paths[chosen].inflight_ios;
          paths[chosen].inflight_bytes += io.bytes;
          outstanding.push_back({static_cast<uint32_t>(chosen), io.bytes, now});
        }
        break;
      }
      case 3: {  // complete one I/O, oldest or newest
        if (outstanding.empty()) break;
        Io io = (arg & 1) ? outstanding.back() : outstanding.front();
        if (arg & 1) {
          outstanding.pop_back();
        } else {
          outstanding.pop_front();
        }
        --paths[io.path].inflight_ios;
        paths[io.path].inflight_bytes -= io.bytes;
        uint64_t latency = (arg & 2) ? now - io.issued_ns : uint64_t{arg} << 12;
        p->on_complete(inst, io.path, io.bytes, latency, (arg >> 2) % 3, now);
        break;
      }
      case 4:  // time passes, up to ~4.5 minutes per step
        now += uint64_t{arg} << ((op >> 3) % 31);
        break;
      case 5: {  // describe with a random cap
        char buf[300];
        size_t cap = arg % sizeof(buf);
        std::memset(buf, 'x', sizeof(buf));
        size_t want = p->describe(inst, buf, cap);
        if (cap > 0) {
          size_t len = strnlen(buf, cap);
          Check(len < cap);
          Check(len == (want < cap ? want : cap - 1));
        }
        break;
      }
    }
  }
  // Drain: every routed I/O comes back exactly once.
  for (const Io& io : outstanding) {
    p->on_complete(inst, io.path, io.bytes, 1000, MPIO_IO_OK, now);
  }
  p->destroy(inst);
  return 0;
}
