// BlockDevice: what a frontend (NBD, FUSE, bench) sees of a multipath device.
//
// A frontend fills an IoRequest it owns, calls Submit(), and gets exactly one
// call of `done` later. Payload buffers are the frontend's: the engine reads
// and writes them in place (zero copy) and never keeps them past `done`.
//
// Threads: Submit() may be called from any thread. `done` runs on the
// device's reactor thread; a frontend living on another thread posts the
// completion back to its own (see Reactor::Post).
// Failure: errors arrive as absl::Status in `done`; ErrnoFromStatus() gives
// the errno that NBD and FUSE report. Nothing acknowledged with an OK status
// is ever lost: a request is completed only after the array said GOOD.
#ifndef MPIO_ENGINE_DEVICE_BLOCK_DEVICE_H_
#define MPIO_ENGINE_DEVICE_BLOCK_DEVICE_H_

#include <sys/uio.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace mpio {

enum class IoOp : uint8_t {
  kRead,
  kWrite,
  kFlush,        // SYNCHRONIZE CACHE
  kDiscard,      // UNMAP
  kWriteZeroes,  // WRITE SAME(16) of zeroes (with UNMAP when may_unmap)
};

const char* IoOpName(IoOp op);

struct IoRequest;
using IoDoneFn = void (*)(IoRequest* request, const absl::Status& status);

struct IoRequest {
  IoOp op = IoOp::kRead;
  bool fua = false;        // write: Force Unit Access
  bool may_unmap = false;  // write zeroes: the range may be deallocated
  uint64_t offset = 0;     // bytes, a multiple of the block size
  uint64_t length = 0;     // bytes, a multiple of the block size
  // Read/write payload: iovecs covering exactly `length` bytes. The array
  // itself must stay valid and writable until done (libiscsi rewrites
  // entries while it sends).
  struct iovec* iov = nullptr;
  int iovcnt = 0;
  IoDoneFn done = nullptr;
  void* user = nullptr;  // the frontend's own context

  // Engine-private bookkeeping; frontends leave it alone.
  void* engine_private = nullptr;
};

struct DeviceGeometry {
  std::string name;  // display name, e.g. "naa.6000..."
  uint64_t size_bytes = 0;
  uint32_t block_size = 512;
  uint32_t max_transfer_bytes = 1u << 20;  // larger requests are split
  uint32_t optimal_transfer_bytes = 0;     // 0: unknown
  bool supports_unmap = false;
  bool supports_write_zeroes_unmap = false;
  bool read_only = false;
};

class BlockDevice {
 public:
  virtual ~BlockDevice() = default;
  virtual const DeviceGeometry& geometry() const = 0;
  // Validates (range, alignment, op supported) and queues the request. An
  // invalid request completes with InvalidArgument/OutOfRange without
  // reaching any path.
  virtual void Submit(IoRequest* request) = 0;
};

// The one place that maps status codes to errno for NBD and FUSE.
int ErrnoFromStatus(const absl::Status& status);

}  // namespace mpio

#endif  // MPIO_ENGINE_DEVICE_BLOCK_DEVICE_H_
