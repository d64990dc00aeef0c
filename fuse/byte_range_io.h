// ByteRangeIo: file-style I/O (any offset, any length) on top of a
// BlockDevice, whose requests must be whole blocks.
//
// The whole blocks of a request go to the device straight from and into the
// caller's buffer (zero copy). A partial block at either edge is read into a
// small bounce block and, for writes, patched and written back in the same
// device request as the aligned middle, under StripedBlockLock so that a
// concurrent write to the same block is not lost. File-size rules match a
// fixed-size file: reads stop at the end (short read, 0 at or past it);
// writes starting at or past the end fail with ResourceExhausted (ENOSPC)
// and writes crossing it are cut short.
//
// Threads: all methods are thread-safe and block until the device answers,
// so call them from worker threads, never from the device's reactor.
// Ownership: the device is borrowed and must outlive this object.
// Failure: device errors are returned unchanged (ErrnoFromStatus maps them);
// a failed write may have written any part of its range, like a failed write
// to a disk.
#ifndef MPIO_FUSE_BYTE_RANGE_IO_H_
#define MPIO_FUSE_BYTE_RANGE_IO_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/device/block_device.h"
#include "fuse/block_lock.h"

namespace mpio::fuse {

class ByteRangeIo {
 public:
  explicit ByteRangeIo(BlockDevice* device);

  // Bytes exposed: the device size rounded down to whole blocks.
  uint64_t size() const { return size_; }
  uint32_t block_size() const { return block_size_; }
  BlockDevice* device() const { return device_; }

  // Returns the bytes read: fewer than `length` only at the end of the device.
  absl::StatusOr<size_t> Read(uint64_t offset, void* buffer, size_t length);
  // Returns the bytes written. `fua`: the data is durable on return.
  absl::StatusOr<size_t> Write(uint64_t offset, const void* buffer,
                               size_t length, bool fua);
  // Makes [offset, offset+length) read back as zeroes; the part past the end
  // is ignored. `may_unmap`: the device may deallocate the whole blocks.
  absl::Status Zero(uint64_t offset, uint64_t length, bool may_unmap);
  // Makes every completed write durable (SYNCHRONIZE CACHE).
  absl::Status Flush();

 private:
  absl::Status ReadBlock(uint64_t block, uint8_t* into);

  BlockDevice* device_;
  uint32_t block_size_;
  uint64_t size_;
  bool read_only_;
  StripedBlockLock lock_;
};

}  // namespace mpio::fuse

#endif  // MPIO_FUSE_BYTE_RANGE_IO_H_
