// ByteRangeIo over an in-memory device: any offset/length against a byte
// model, end-of-device rules, zeroing, flush, errors, completion on another
// thread, and no lost update when writers patch the same block at once.
#include "fuse/byte_range_io.h"

#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "tests/support/memory_block_device.h"

namespace mpio::fuse {
namespace {

using mpio::testing::MemoryBlockDevice;

// Forwards to a MemoryBlockDevice, records every request, and optionally
// completes from its own thread (as a real device does, on its reactor).
class ForwardingDevice : public BlockDevice {
 public:
  ForwardingDevice(MemoryBlockDevice* inner, bool async)
      : inner_(inner), async_(async) {
    if (async_) worker_ = std::thread([this] { Run(); });
  }
  ~ForwardingDevice() override {
    if (async_) {
      {
        std::lock_guard<std::mutex> l(mu_);
        stop_ = true;
      }
      cv_.notify_all();
      worker_.join();
    }
  }
  const DeviceGeometry& geometry() const override { return inner_->geometry(); }
  void Submit(IoRequest* r) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      log_.push_back(*r);
      first_base_.push_back(r->iovcnt > 0 ? r->iov[0].iov_base : nullptr);
      if (async_) queue_.push_back(r);
    }
    if (async_) {
      cv_.notify_one();
    } else {
      inner_->Submit(r);
    }
  }
  std::vector<IoRequest> log() {
    std::lock_guard<std::mutex> l(mu_);
    return log_;
  }
  // iov[0].iov_base of each logged request, taken at Submit().
  std::vector<void*> first_base() {
    std::lock_guard<std::mutex> l(mu_);
    return first_base_;
  }
  std::atomic<uint64_t> completed_off_caller{0};

 private:
  void Run() {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      IoRequest* r = queue_.front();
      queue_.pop_front();
      l.unlock();
      completed_off_caller++;
      inner_->Submit(r);  // runs r->done on this thread
      l.lock();
    }
  }

  MemoryBlockDevice* inner_;
  bool async_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<IoRequest*> queue_;
  std::vector<IoRequest> log_;
  std::vector<void*> first_base_;
  bool stop_ = false;
  std::thread worker_;
};

std::vector<uint8_t> Pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  std::mt19937 rng(seed);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

TEST_CASE("aligned write and read go to the device as one request each") {
  MemoryBlockDevice mem("m", 1 << 20, 512);
  ForwardingDevice dev(&mem, false);
  ByteRangeIo io(&dev);
  std::vector<uint8_t> data = Pattern(8192, 1);
  auto w = io.Write(4096, data.data(), data.size(), /*fua=*/true);
  REQUIRE(w.ok());
  CHECK(*w == 8192);
  CHECK(mem.writes == 1);
  CHECK(mem.reads == 0);  // no read-modify-write
  CHECK(mem.fua_writes == 1);
  std::vector<IoRequest> log = dev.log();
  REQUIRE(log.size() == 1);
  // Zero copy: the caller's buffer is the payload.
  CHECK(log[0].iovcnt == 1);
  CHECK(dev.first_base()[0] == data.data());
  std::vector<uint8_t> back(8192);
  auto r = io.Read(4096, back.data(), back.size());
  REQUIRE(r.ok());
  CHECK(*r == 8192);
  CHECK(back == data);
  CHECK(mem.reads == 1);
  CHECK(dev.first_base()[1] == back.data());
  std::vector<uint8_t> snap = mem.Snapshot();
  CHECK(std::memcmp(&snap[4096], data.data(), data.size()) == 0);
}

TEST_CASE("random unaligned reads and writes match a byte model") {
  for (bool async : {false, true}) {
    CAPTURE(async);
    constexpr uint64_t kSize = 256 * 1024;
    for (uint32_t bs : {512u, 4096u}) {
      CAPTURE(bs);
      MemoryBlockDevice mem("m", kSize, bs);
      ForwardingDevice dev(&mem, async);
      ByteRangeIo io(&dev);
      std::vector<uint8_t> model(kSize, 0);
      std::mt19937 rng(bs + async);
      for (int i = 0; i < 300; ++i) {
        const uint64_t off = rng() % kSize;
        const size_t len = 1 + rng() % (3 * bs + 7);
        const size_t expect = std::min<uint64_t>(len, kSize - off);
        if (rng() % 2 == 0) {
          std::vector<uint8_t> data = Pattern(len, i);
          auto w = io.Write(off, data.data(), len, false);
          REQUIRE(w.ok());
          REQUIRE(*w == expect);
          std::memcpy(&model[off], data.data(), expect);
        } else {
          std::vector<uint8_t> got(len, 0xEE);
          auto r = io.Read(off, got.data(), len);
          REQUIRE(r.ok());
          REQUIRE(*r == expect);
          REQUIRE(std::memcmp(got.data(), &model[off], expect) == 0);
          // Bytes past a short read are untouched.
          for (size_t j = expect; j < len; ++j) REQUIRE(got[j] == 0xEE);
        }
      }
      CHECK(mem.Snapshot() == model);
      if (async) CHECK(dev.completed_off_caller > 0);
    }
  }
}

TEST_CASE("partial-block write keeps the rest of the block") {
  MemoryBlockDevice mem("m", 64 * 1024, 4096);
  ByteRangeIo io(&mem);
  std::vector<uint8_t> base = Pattern(64 * 1024, 7);
  REQUIRE(io.Write(0, base.data(), base.size(), false).ok());
  const uint64_t writes_before = mem.writes;
  // Spans the tail of block 0, all of block 1 and the head of block 2.
  std::vector<uint8_t> data = Pattern(4096 + 200, 8);
  REQUIRE(io.Write(4000, data.data(), data.size(), false).ok());
  CHECK(mem.writes == writes_before + 1);  // edges and middle in one write
  std::vector<uint8_t> expect = base;
  std::memcpy(&expect[4000], data.data(), data.size());
  CHECK(mem.Snapshot() == expect);
}

TEST_CASE("end of device: short read, EOF, ENOSPC, short write") {
  MemoryBlockDevice mem("m", 8192, 512);
  ByteRangeIo io(&mem);
  CHECK(io.size() == 8192);
  std::vector<uint8_t> buf(1000);
  auto r = io.Read(8000, buf.data(), buf.size());
  REQUIRE(r.ok());
  CHECK(*r == 192);
  r = io.Read(8192, buf.data(), buf.size());
  REQUIRE(r.ok());
  CHECK(*r == 0);
  auto w = io.Write(8192, buf.data(), 10, false);
  REQUIRE(!w.ok());
  CHECK(ErrnoFromStatus(w.status()) == ENOSPC);
  w = io.Write(8100, buf.data(), 500, false);
  REQUIRE(w.ok());
  CHECK(*w == 92);
}

TEST_CASE("zero: whole blocks by write-zeroes, edges patched") {
  MemoryBlockDevice mem("m", 64 * 1024, 4096);
  ForwardingDevice dev(&mem, false);
  ByteRangeIo io(&dev);
  std::vector<uint8_t> base = Pattern(64 * 1024, 3);
  REQUIRE(io.Write(0, base.data(), base.size(), false).ok());
  REQUIRE(io.Zero(1000, 3 * 4096, /*may_unmap=*/true).ok());
  std::vector<uint8_t> expect = base;
  std::memset(&expect[1000], 0, 3 * 4096);
  CHECK(mem.Snapshot() == expect);
  CHECK(mem.zeroes == 1);
  bool saw_unmap = false;
  for (const IoRequest& r : dev.log()) {
    if (r.op == IoOp::kWriteZeroes) {
      saw_unmap = r.may_unmap;
      CHECK(r.offset == 4096);
      CHECK(r.length == 2 * 4096);
    }
  }
  CHECK(saw_unmap);
  // Inside one block: no write-zeroes at all.
  REQUIRE(io.Zero(40000, 10, false).ok());
  std::memset(&expect[40000], 0, 10);
  CHECK(mem.Snapshot() == expect);
  CHECK(mem.zeroes == 1);
  // Past the end: clipped.
  REQUIRE(io.Zero(60000, 100000, false).ok());
  std::memset(&expect[60000], 0, expect.size() - 60000);
  CHECK(mem.Snapshot() == expect);
}

TEST_CASE("flush, device errors, read-only devices") {
  MemoryBlockDevice mem("m", 8192, 512);
  ByteRangeIo io(&mem);
  REQUIRE(io.Flush().ok());
  CHECK(mem.flushes == 1);
  mem.fail_next = 1;
  std::vector<uint8_t> buf(100);
  auto r = io.Read(0, buf.data(), buf.size());
  REQUIRE(!r.ok());
  CHECK(ErrnoFromStatus(r.status()) == EIO);
  // A failed read-modify-write read leaves the data alone.
  mem.fail_next = 1;
  auto w = io.Write(10, buf.data(), buf.size(), false);
  REQUIRE(!w.ok());
  CHECK(mem.writes == 0);

  class ReadOnly : public MemoryBlockDevice {
   public:
    ReadOnly() : MemoryBlockDevice("ro", 4096) {}
    const DeviceGeometry& geometry() const override { return g_; }
    DeviceGeometry g_ = [] {
      DeviceGeometry g;
      g.name = "ro";
      g.size_bytes = 4096;
      g.read_only = true;
      return g;
    }();
  } ro;
  ByteRangeIo rio(&ro);
  w = rio.Write(0, buf.data(), 10, false);
  REQUIRE(!w.ok());
  CHECK(ErrnoFromStatus(w.status()) == EROFS);
}

TEST_CASE("concurrent patchers of one block lose no update") {
  for (bool async : {false, true}) {
    CAPTURE(async);
    MemoryBlockDevice mem("m", 64 * 1024, 4096);
    ForwardingDevice dev(&mem, async);
    ByteRangeIo io(&dev);
    constexpr int kThreads = 8;
    const int kRounds = async ? 300 : 2000;
    std::atomic<int> mismatches{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        // Thread t owns bytes [100*t, 100*t+3) of block 0.
        for (int i = 1; i <= kRounds; ++i) {
          uint8_t v[3] = {static_cast<uint8_t>(i), static_cast<uint8_t>(t),
                          static_cast<uint8_t>(i >> 8)};
          if (!io.Write(100 * t, v, 3, false).ok()) mismatches++;
          uint8_t back[3];
          if (!io.Read(100 * t, back, 3).ok() || std::memcmp(v, back, 3) != 0)
            mismatches++;
        }
      });
    }
    // A writer straddling blocks 0 and 1 (patches both edges).
    threads.emplace_back([&] {
      for (int i = 1; i <= kRounds; ++i) {
        std::vector<uint8_t> v(10, static_cast<uint8_t>(i));
        if (!io.Write(4090, v.data(), v.size(), false).ok()) mismatches++;
      }
    });
    // A whole-block writer on block 2 racing with a patcher of the same
    // block: the whole-block writes must never be rolled back.
    threads.emplace_back([&] {
      std::vector<uint8_t> block(4096);
      for (int i = 1; i <= kRounds; ++i) {
        std::memset(block.data(), i & 0xff, block.size());
        if (!io.Write(8192, block.data(), block.size(), false).ok())
          mismatches++;
      }
    });
    threads.emplace_back([&] {
      for (int i = 1; i <= kRounds; ++i) {
        uint8_t v = 0xA5;
        if (!io.Write(8192 + 17, &v, 1, false).ok()) mismatches++;
      }
    });
    for (auto& th : threads) th.join();
    CHECK(mismatches == 0);
    std::vector<uint8_t> snap = mem.Snapshot();
    for (int t = 0; t < kThreads; ++t) {
      CHECK(snap[100 * t] == static_cast<uint8_t>(kRounds));
      CHECK(snap[100 * t + 1] == t);
      CHECK(snap[100 * t + 2] == static_cast<uint8_t>(kRounds >> 8));
    }
    // Block 2 is the full-block writer's last pattern, except perhaps the
    // patched byte; an older pattern would mean a rolled-back write.
    const uint8_t last = kRounds & 0xff;
    int stale = 0;
    for (int i = 0; i < 4096; ++i) {
      if (i == 17) continue;
      if (snap[8192 + i] != last) stale++;
    }
    CHECK(stale == 0);
    for (int i = 4090; i < 4100; ++i) {
      CHECK(snap[i] == static_cast<uint8_t>(kRounds));
    }
  }
}

}  // namespace
}  // namespace mpio::fuse
