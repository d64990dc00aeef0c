#include "bench/workload.h"

#include <sys/resource.h>
#include <time.h>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace mpio::bench {
namespace {

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

absl::StatusOr<uint64_t> ParseSize(std::string s) {
  s = absl::AsciiStrToLower(s);
  uint64_t mult = 1;
  if (!s.empty() && (s.back() == 'k' || s.back() == 'm' || s.back() == 'g')) {
    mult = s.back() == 'k' ? 1024 : s.back() == 'm' ? 1 << 20 : 1ull << 30;
    s.pop_back();
  }
  uint64_t v;
  if (!absl::SimpleAtoi(s, &v) || v == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", s, "' is not a size like 4k or 1m"));
  }
  return v * mult;
}

constexpr uint64_t kSector = 512;

// Deterministic content for a sector: the run seed and the sector's LBA,
// then a fill derived from both. Any write of that sector in this run puts
// the same bytes there, so reads can check it whatever the order.
void Stamp(uint8_t* p, uint64_t seed, uint64_t sector) {
  std::memcpy(p, &seed, 8);
  std::memcpy(p + 8, &sector, 8);
  uint64_t x = seed ^ (sector * 0x9E3779B97F4A7C15ull);
  for (size_t i = 16; i < kSector; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(p + i, &x, 8);
  }
}

bool Check(const uint8_t* p, uint64_t seed, uint64_t sector) {
  uint8_t want[kSector];
  Stamp(want, seed, sector);
  return std::memcmp(p, want, kSector) == 0;
}

struct Runner;

struct Slot {
  Runner* runner = nullptr;
  IoRequest req;
  iovec iov{};
  void* buffer = nullptr;
  uint64_t start_ns = 0;
  uint64_t rng = 0;
  WorkloadResult stats;  // this slot's share; merged at the end
};

struct Runner {
  BlockDevice* device;
  WorkloadSpec spec;
  uint64_t seed;
  uint64_t blocks;  // in the working set, of spec.block_size
  std::atomic<uint64_t> cursor{0};
  std::atomic<bool> stop{false};
  std::atomic<int> inflight{0};
  std::atomic<uint64_t> issued{0};
  std::atomic<uint64_t> done_ios{0}, done_bytes{0}, done_errors{0};
  uint64_t measure_from_ns = 0;
  uint64_t deadline_ns = UINT64_MAX;
  bool prefill = false;  // the verify pre-write phase
  std::mutex mu;
  std::condition_variable cv;
  std::mutex error_mu;
  std::string first_error;
  std::vector<std::unique_ptr<Slot>> slots;

  uint64_t NextBlock(Slot* s, bool sequential) {
    if (sequential) return cursor.fetch_add(1) % blocks;
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return s->rng % blocks;
  }

  // Devices may complete inside Submit() (fakes always, a real device for
  // refused requests): trampoline instead of recursing, or a long run of
  // inline completions would overflow the stack.
  void Issue(Slot* s) {
    thread_local int depth = 0;
    thread_local std::vector<Slot*> pending;
    if (depth > 0) {
      pending.push_back(s);
      return;
    }
    depth++;
    IssueOne(s);
    while (!pending.empty()) {
      Slot* next = pending.back();
      pending.pop_back();
      next->runner->IssueOne(next);
    }
    depth--;
  }

  void IssueOne(Slot* s) {
    if (!prefill && NowNs() >= deadline_ns) stop = true;
    if (stop.load() || (spec.max_ios && issued.fetch_add(1) >= spec.max_ios)) {
      if (inflight.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> l(mu);
        cv.notify_all();
      }
      return;
    }
    bool write = false;
    bool sequential =
        spec.pattern == Pattern::kRead || spec.pattern == Pattern::kWrite;
    if (prefill) {
      uint64_t b = cursor.fetch_add(1);
      if (b >= blocks) {
        if (inflight.fetch_sub(1) == 1) {
          std::lock_guard<std::mutex> l(mu);
          cv.notify_all();
        }
        return;
      }
      write = true;
      s->req.offset = b * spec.block_size;
    } else {
      switch (spec.pattern) {
        case Pattern::kRead:
        case Pattern::kRandRead:
          write = false;
          break;
        case Pattern::kWrite:
        case Pattern::kRandWrite:
          write = true;
          break;
        case Pattern::kRandRw:
          write = int(s->rng % 100) >= spec.read_percent;
          break;
      }
      s->req.offset = NextBlock(s, sequential) * spec.block_size;
    }
    s->req.op = write ? IoOp::kWrite : IoOp::kRead;
    s->req.length = spec.block_size;
    s->iov = {s->buffer, spec.block_size};
    s->req.iov = &s->iov;
    s->req.iovcnt = 1;
    if (write && spec.verify) {
      auto* p = static_cast<uint8_t*>(s->buffer);
      for (uint64_t off = 0; off < spec.block_size; off += kSector) {
        Stamp(p + off, seed, (s->req.offset + off) / kSector);
      }
    }
    s->start_ns = NowNs();
    device->Submit(&s->req);
  }

  static void Done(IoRequest* r, const absl::Status& status) {
    Slot* s = static_cast<Slot*>(r->user);
    Runner* run = s->runner;
    uint64_t now = NowNs();
    bool measuring = !run->prefill && now >= run->measure_from_ns;
    if (!status.ok()) {
      run->done_errors++;
      // A failed prefill write leaves a block unverifiable: count it.
      if (measuring || run->prefill) s->stats.errors++;
      std::lock_guard<std::mutex> l(run->error_mu);
      if (run->first_error.empty()) {
        run->first_error = absl::StrCat(IoOpName(r->op), " at ", r->offset,
                                        ": ", status.message());
      }
    } else {
      if (r->op == IoOp::kRead && run->spec.verify) {
        auto* p = static_cast<const uint8_t*>(s->buffer);
        for (uint64_t off = 0; off < r->length; off += kSector) {
          if (!Check(p + off, run->seed, (r->offset + off) / kSector)) {
            s->stats.verify_failures++;
            std::lock_guard<std::mutex> l(run->error_mu);
            if (run->first_error.empty()) {
              run->first_error =
                  absl::StrCat("verify failed at byte ", r->offset + off);
            }
            break;
          }
        }
      }
      run->done_ios++;
      run->done_bytes += r->length;
      if (measuring) {
        s->stats.ios++;
        (r->op == IoOp::kRead ? s->stats.reads : s->stats.writes)++;
        s->stats.bytes += r->length;
        s->stats.latency.Add(now - s->start_ns);
      }
    }
    run->Issue(s);
  }
};

}  // namespace

std::string PatternName(Pattern p) {
  switch (p) {
    case Pattern::kRead:
      return "read";
    case Pattern::kWrite:
      return "write";
    case Pattern::kRandRead:
      return "randread";
    case Pattern::kRandWrite:
      return "randwrite";
    case Pattern::kRandRw:
      return "randrw";
  }
  return "?";
}

bool PatternWrites(Pattern p) {
  return p == Pattern::kWrite || p == Pattern::kRandWrite ||
         p == Pattern::kRandRw;
}

absl::StatusOr<WorkloadSpec> ParseWorkload(const std::string& text) {
  WorkloadSpec spec;
  spec.text = text;
  std::vector<std::string> parts = absl::StrSplit(text, ':');
  auto bad = [&](std::string why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "workload '", text, "': ", why,
        "; expected PATTERN:BLOCK:qdN[:rwmixread=N], e.g. randread:4k:qd32 "
        "(patterns: read, write, randread, randwrite, randrw)"));
  };
  if (parts.size() < 3) return bad("too few fields");
  const std::string& p = parts[0];
  if (p == "read")
    spec.pattern = Pattern::kRead;
  else if (p == "write")
    spec.pattern = Pattern::kWrite;
  else if (p == "randread")
    spec.pattern = Pattern::kRandRead;
  else if (p == "randwrite")
    spec.pattern = Pattern::kRandWrite;
  else if (p == "randrw")
    spec.pattern = Pattern::kRandRw;
  else
    return bad(absl::StrCat("unknown pattern '", p, "'"));
  auto bs = ParseSize(parts[1]);
  if (!bs.ok()) return bad(std::string(bs.status().message()));
  if (*bs % 512 != 0 || *bs > (32u << 20))
    return bad("block size must be a multiple of 512, at most 32m");
  spec.block_size = static_cast<uint32_t>(*bs);
  if (parts[2].rfind("qd", 0) != 0 ||
      !absl::SimpleAtoi(parts[2].substr(2), &spec.queue_depth) ||
      spec.queue_depth < 1 || spec.queue_depth > 1024) {
    return bad(
        absl::StrCat("'", parts[2], "' is not a queue depth qd1..qd1024"));
  }
  for (size_t i = 3; i < parts.size(); i++) {
    if (parts[i].rfind("rwmixread=", 0) == 0 &&
        absl::SimpleAtoi(parts[i].substr(10), &spec.read_percent) &&
        spec.read_percent >= 0 && spec.read_percent <= 100) {
      continue;
    }
    return bad(absl::StrCat("unknown field '", parts[i], "'"));
  }
  return spec;
}

void LatencyHistogram::Add(uint64_t ns) {
  double us = ns / 1000.0;
  int b = us <= 1 ? 0 : static_cast<int>(std::log2(us) * 4);
  if (b >= kBuckets) b = kBuckets - 1;
  counts[b]++;
  total++;
  if (ns > max_ns) max_ns = ns;
}

void LatencyHistogram::Merge(const LatencyHistogram& o) {
  for (int i = 0; i < kBuckets; i++) counts[i] += o.counts[i];
  total += o.total;
  max_ns = std::max(max_ns, o.max_ns);
}

double LatencyHistogram::PercentileUs(double p) const {
  if (total == 0) return 0;
  uint64_t want = static_cast<uint64_t>(std::ceil(total * p / 100.0));
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; i++) {
    seen += counts[i];
    if (seen >= want)
      return std::min(std::pow(2.0, (i + 1) / 4.0), max_ns / 1000.0);
  }
  return max_ns / 1000.0;
}

absl::StatusOr<WorkloadResult> RunWorkload(
    BlockDevice* device, const WorkloadSpec& spec,
    std::function<void(const Progress&)> progress) {
  const DeviceGeometry& g = device->geometry();
  if (spec.block_size % g.block_size != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("block size ", spec.block_size,
                     " is not a multiple of the device's ", g.block_size));
  }
  uint64_t ws = spec.working_set_bytes
                    ? std::min(spec.working_set_bytes, g.size_bytes)
                    : g.size_bytes;
  Runner run;
  run.device = device;
  run.spec = spec;
  run.blocks = ws / spec.block_size;
  if (run.blocks == 0)
    return absl::InvalidArgumentError("working set smaller than one block");
  run.seed = NowNs() | 1;
  for (int i = 0; i < spec.queue_depth; i++) {
    auto s = std::make_unique<Slot>();
    s->runner = &run;
    s->buffer = aligned_alloc(4096, (spec.block_size + 4095) / 4096 * 4096);
    std::memset(s->buffer, 0, spec.block_size);
    s->rng = run.seed ^ (0x9E3779B97F4A7C15ull * (i + 1));
    s->req.done = &Runner::Done;
    s->req.user = s.get();
    run.slots.push_back(std::move(s));
  }
  auto run_phase = [&](absl::Duration duration, bool report) {
    const uint64_t start = NowNs();
    run.deadline_ns =
        duration == absl::InfiniteDuration()
            ? UINT64_MAX
            : start + static_cast<uint64_t>(absl::ToInt64Nanoseconds(duration));
    run.stop = false;
    run.inflight = static_cast<int>(run.slots.size());
    for (auto& s : run.slots) run.Issue(s.get());
    std::unique_lock<std::mutex> lock(run.mu);
    while (run.inflight.load() > 0) {
      if (!run.prefill && NowNs() >= run.deadline_ns) run.stop = true;
      run.cv.wait_for(lock, std::chrono::milliseconds(200));
      if (report && progress) {
        progress({(NowNs() - start) / 1e9, run.done_ios.load(),
                  run.done_bytes.load(), run.done_errors.load()});
      }
    }
  };
  if (spec.verify) {
    run.prefill = true;
    run_phase(absl::InfiniteDuration(), false);
    run.prefill = false;
    run.done_ios = run.done_bytes = 0;
  }
  run.cursor = 0;
  const double cpu0 = CpuSeconds();
  const uint64_t t0 = NowNs();
  run.measure_from_ns =
      t0 + static_cast<uint64_t>(absl::ToInt64Nanoseconds(spec.ramp));
  run_phase(spec.duration + spec.ramp, true);
  WorkloadResult result;
  result.seconds =
      (NowNs() - std::max(t0, std::min(run.measure_from_ns, NowNs()))) / 1e9;
  result.cpu_seconds = CpuSeconds() - cpu0;
  for (auto& s : run.slots) {
    result.ios += s->stats.ios;
    result.reads += s->stats.reads;
    result.writes += s->stats.writes;
    result.bytes += s->stats.bytes;
    result.errors += s->stats.errors;
    result.verify_failures += s->stats.verify_failures;
    result.latency.Merge(s->stats.latency);
    free(s->buffer);
  }
  result.first_error = run.first_error;
  return result;
}

}  // namespace mpio::bench
