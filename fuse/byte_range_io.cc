#include "fuse/byte_range_io.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "fuse/io_waiter.h"

namespace mpio::fuse {
namespace {

// The block layout of a byte range [start, end): partial edge blocks (if
// any) and the whole blocks between them.
struct Layout {
  uint64_t aligned_start;  // start rounded down to a block
  uint64_t aligned_end;    // end rounded up to a block
  uint64_t first_block;
  uint64_t last_block;
  bool head_partial;  // the first block is only partly covered
  bool tail_partial;  // the last block is only partly covered
};

Layout LayoutOf(uint64_t start, uint64_t end, uint64_t bs) {
  Layout l;
  l.aligned_start = start / bs * bs;
  l.aligned_end = (end + bs - 1) / bs * bs;
  l.first_block = l.aligned_start / bs;
  l.last_block = l.aligned_end / bs - 1;
  l.head_partial = start % bs != 0;
  l.tail_partial = end % bs != 0;
  return l;
}

}  // namespace

ByteRangeIo::ByteRangeIo(BlockDevice* device)
    : device_(device),
      block_size_(std::max<uint32_t>(1, device->geometry().block_size)),
      size_(device->geometry().size_bytes / block_size_ * block_size_),
      read_only_(device->geometry().read_only),
      lock_(block_size_) {}

absl::Status ByteRangeIo::ReadBlock(uint64_t block, uint8_t* into) {
  struct iovec iov = {into, block_size_};
  IoRequest r;
  r.op = IoOp::kRead;
  r.offset = block * block_size_;
  r.length = block_size_;
  r.iov = &iov;
  r.iovcnt = 1;
  return SubmitAndWait(*device_, r);
}

absl::StatusOr<size_t> ByteRangeIo::Read(uint64_t offset, void* buffer,
                                         size_t length) {
  if (offset >= size_ || length == 0) return 0;
  length = std::min<uint64_t>(length, size_ - offset);
  const uint64_t bs = block_size_;
  const uint64_t end = offset + length;
  const Layout l = LayoutOf(offset, end, bs);
  auto* out = static_cast<uint8_t*>(buffer);

  IoRequest r;
  r.op = IoOp::kRead;
  r.offset = l.aligned_start;
  r.length = l.aligned_end - l.aligned_start;
  struct iovec iov[3];
  int n = 0;
  std::unique_ptr<uint8_t[]> bounce;
  if (!l.head_partial && !l.tail_partial) {
    iov[n++] = {out, length};
  } else if (l.first_block == l.last_block) {
    bounce = std::make_unique<uint8_t[]>(bs);
    iov[n++] = {bounce.get(), bs};
  } else {
    bounce = std::make_unique<uint8_t[]>(2 * bs);
    uint64_t mid_start = l.aligned_start, mid_end = l.aligned_end;
    if (l.head_partial) {
      iov[n++] = {bounce.get(), bs};
      mid_start += bs;
    }
    if (l.tail_partial) mid_end -= bs;
    if (mid_end > mid_start) {
      iov[n++] = {out + (mid_start - offset), mid_end - mid_start};
    }
    if (l.tail_partial) iov[n++] = {bounce.get() + bs, bs};
  }
  r.iov = iov;
  r.iovcnt = n;
  absl::Status status = SubmitAndWait(*device_, r);
  if (!status.ok()) return status;

  if (bounce != nullptr) {
    if (l.first_block == l.last_block) {
      std::memcpy(out, bounce.get() + (offset - l.aligned_start), length);
    } else {
      if (l.head_partial) {
        const uint64_t skip = offset - l.aligned_start;
        std::memcpy(out, bounce.get() + skip, bs - skip);
      }
      if (l.tail_partial) {
        const uint64_t tail_start = l.aligned_end - bs;
        std::memcpy(out + (tail_start - offset), bounce.get() + bs,
                    end - tail_start);
      }
    }
  }
  return length;
}

absl::StatusOr<size_t> ByteRangeIo::Write(uint64_t offset, const void* buffer,
                                          size_t length, bool fua) {
  if (read_only_) {
    return absl::PermissionDeniedError(
        absl::StrCat(device_->geometry().name, " is read-only"));
  }
  if (length == 0) return 0;
  if (offset >= size_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("write at ", offset, " is past the end of ",
                     device_->geometry().name, " (", size_, " bytes)"));
  }
  length = std::min<uint64_t>(length, size_ - offset);
  const uint64_t bs = block_size_;
  const uint64_t end = offset + length;
  const Layout l = LayoutOf(offset, end, bs);
  // The device only reads a write's payload; the iovec type is not const.
  auto* in = static_cast<uint8_t*>(const_cast<void*>(buffer));

  StripedBlockLock::Guard guard =
      lock_.Lock(l.first_block, l.last_block,
                 l.head_partial ? l.first_block : StripedBlockLock::kNoBlock,
                 l.tail_partial ? l.last_block : StripedBlockLock::kNoBlock);

  IoRequest r;
  r.op = IoOp::kWrite;
  r.fua = fua;
  r.offset = l.aligned_start;
  r.length = l.aligned_end - l.aligned_start;
  struct iovec iov[3];
  int n = 0;
  std::unique_ptr<uint8_t[]> bounce;
  if (!l.head_partial && !l.tail_partial) {
    iov[n++] = {in, length};
  } else if (l.first_block == l.last_block) {
    bounce = std::make_unique<uint8_t[]>(bs);
    absl::Status status = ReadBlock(l.first_block, bounce.get());
    if (!status.ok()) return status;
    std::memcpy(bounce.get() + (offset - l.aligned_start), in, length);
    iov[n++] = {bounce.get(), bs};
  } else {
    bounce = std::make_unique<uint8_t[]>(2 * bs);
    uint64_t mid_start = l.aligned_start, mid_end = l.aligned_end;
    if (l.head_partial) {
      absl::Status status = ReadBlock(l.first_block, bounce.get());
      if (!status.ok()) return status;
      const uint64_t skip = offset - l.aligned_start;
      std::memcpy(bounce.get() + skip, in, bs - skip);
      iov[n++] = {bounce.get(), bs};
      mid_start += bs;
    }
    if (l.tail_partial) mid_end -= bs;
    if (mid_end > mid_start) {
      iov[n++] = {in + (mid_start - offset), mid_end - mid_start};
    }
    if (l.tail_partial) {
      uint8_t* tail = bounce.get() + bs;
      absl::Status status = ReadBlock(l.last_block, tail);
      if (!status.ok()) return status;
      const uint64_t tail_start = l.aligned_end - bs;
      std::memcpy(tail, in + (tail_start - offset), end - tail_start);
      iov[n++] = {tail, bs};
    }
  }
  r.iov = iov;
  r.iovcnt = n;
  absl::Status status = SubmitAndWait(*device_, r);
  if (!status.ok()) return status;
  return length;
}

absl::Status ByteRangeIo::Zero(uint64_t offset, uint64_t length,
                               bool may_unmap) {
  if (read_only_) {
    return absl::PermissionDeniedError(
        absl::StrCat(device_->geometry().name, " is read-only"));
  }
  if (offset >= size_ || length == 0) return absl::OkStatus();
  length = std::min<uint64_t>(length, size_ - offset);
  const uint64_t bs = block_size_;
  const uint64_t end = offset + length;
  const Layout l = LayoutOf(offset, end, bs);

  StripedBlockLock::Guard guard =
      lock_.Lock(l.first_block, l.last_block,
                 l.head_partial ? l.first_block : StripedBlockLock::kNoBlock,
                 l.tail_partial ? l.last_block : StripedBlockLock::kNoBlock);

  // Partial edge blocks: read, zero the covered bytes, write back.
  auto patch = [&](uint64_t block) -> absl::Status {
    auto data = std::make_unique<uint8_t[]>(bs);
    absl::Status status = ReadBlock(block, data.get());
    if (!status.ok()) return status;
    const uint64_t block_start = block * bs;
    const uint64_t from = std::max(offset, block_start);
    const uint64_t to = std::min(end, block_start + bs);
    std::memset(data.get() + (from - block_start), 0, to - from);
    struct iovec iov = {data.get(), bs};
    IoRequest w;
    w.op = IoOp::kWrite;
    w.offset = block_start;
    w.length = bs;
    w.iov = &iov;
    w.iovcnt = 1;
    return SubmitAndWait(*device_, w);
  };

  uint64_t mid_start = l.aligned_start, mid_end = l.aligned_end;
  if (l.head_partial) {
    absl::Status status = patch(l.first_block);
    if (!status.ok()) return status;
    mid_start += bs;
  }
  if (l.tail_partial && !(l.head_partial && l.first_block == l.last_block)) {
    absl::Status status = patch(l.last_block);
    if (!status.ok()) return status;
  }
  if (l.tail_partial) mid_end -= bs;
  if (mid_end > mid_start) {
    IoRequest z;
    z.op = IoOp::kWriteZeroes;
    z.may_unmap = may_unmap;
    z.offset = mid_start;
    z.length = mid_end - mid_start;
    return SubmitAndWait(*device_, z);
  }
  return absl::OkStatus();
}

absl::Status ByteRangeIo::Flush() {
  IoRequest r;
  r.op = IoOp::kFlush;
  return SubmitAndWait(*device_, r);
}

}  // namespace mpio::fuse
