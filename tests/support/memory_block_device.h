// MemoryBlockDevice: a BlockDevice held in RAM, for frontend unit tests only
// (determinism, no target needed). Every feature is also tested against a
// real target through the real engine under tests/integration.
//
// Threads: Submit() from any thread; completes inline, on the calling
// thread, before Submit() returns (frontends must cope with that anyway: a
// real device completes invalid requests inline too). Thread-safe.
#ifndef MPIO_TESTS_SUPPORT_MEMORY_BLOCK_DEVICE_H_
#define MPIO_TESTS_SUPPORT_MEMORY_BLOCK_DEVICE_H_

#include <atomic>
#include <cstring>
#include <mutex>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/device/block_device.h"

namespace mpio::testing {

class MemoryBlockDevice : public BlockDevice {
 public:
  MemoryBlockDevice(std::string name, uint64_t size_bytes,
                    uint32_t block_size = 512)
      : data_(size_bytes, 0) {
    geometry_.name = std::move(name);
    geometry_.size_bytes = size_bytes;
    geometry_.block_size = block_size;
    geometry_.supports_unmap = true;
    geometry_.supports_write_zeroes_unmap = true;
  }

  const DeviceGeometry& geometry() const override { return geometry_; }

  void Submit(IoRequest* r) override {
    absl::Status status = Execute(r);
    r->done(r, status);
  }

  // Counters for assertions.
  std::atomic<uint64_t> reads{0}, writes{0}, flushes{0}, discards{0}, zeroes{0},
      fua_writes{0};
  // Makes the next `n` requests fail with DataLoss (EIO).
  std::atomic<int> fail_next{0};

  std::vector<uint8_t> Snapshot() {
    std::lock_guard<std::mutex> lock(mu_);
    return data_;
  }

 private:
  absl::Status Execute(IoRequest* r) {
    const uint64_t bs = geometry_.block_size;
    if (fail_next.load() > 0) {
      fail_next--;
      return absl::DataLossError("injected failure");
    }
    if (r->op != IoOp::kFlush &&
        (r->offset % bs != 0 || r->length % bs != 0 ||
         r->offset + r->length > geometry_.size_bytes ||
         r->offset + r->length < r->offset)) {
      return absl::OutOfRangeError(
          absl::StrCat("request ", r->offset, "+", r->length,
                       " outside device or unaligned"));
    }
    std::lock_guard<std::mutex> lock(mu_);
    switch (r->op) {
      case IoOp::kRead:
      case IoOp::kWrite: {
        uint64_t pos = r->offset, left = r->length;
        for (int i = 0; i < r->iovcnt && left > 0; i++) {
          size_t n = std::min<uint64_t>(r->iov[i].iov_len, left);
          if (r->op == IoOp::kRead)
            std::memcpy(r->iov[i].iov_base, &data_[pos], n);
          else
            std::memcpy(&data_[pos], r->iov[i].iov_base, n);
          pos += n;
          left -= n;
        }
        if (left != 0) return absl::InvalidArgumentError("iovecs too short");
        (r->op == IoOp::kRead ? reads : writes)++;
        if (r->fua) fua_writes++;
        return absl::OkStatus();
      }
      case IoOp::kFlush:
        flushes++;
        return absl::OkStatus();
      case IoOp::kDiscard:
        discards++;
        [[fallthrough]];
      case IoOp::kWriteZeroes:
        if (r->op == IoOp::kWriteZeroes) zeroes++;
        std::memset(&data_[r->offset], 0, r->length);
        return absl::OkStatus();
    }
    return absl::InternalError("unknown op");
  }

  DeviceGeometry geometry_;
  std::mutex mu_;
  std::vector<uint8_t> data_;
};

}  // namespace mpio::testing

#endif  // MPIO_TESTS_SUPPORT_MEMORY_BLOCK_DEVICE_H_
