// SubmitAndWait: runs one IoRequest on a BlockDevice and blocks the calling
// thread until the device completes it.
//
// FUSE worker threads are synchronous (one request per thread), so the FUSE
// frontend turns the device's asynchronous Submit/done into a blocking call
// here. The waiter lives on the caller's stack: no allocation per I/O.
//
// Threads: any thread except the device's own reactor thread (waiting there
// would stop the reactor that has to complete the request). `done` may run
// inline inside Submit() or later on another thread; both are handled.
// Ownership: `request` and its iovecs belong to the caller; this function
// overwrites request->done and request->user. They are not touched after it
// returns.
// Failure: returns the status the device completed the request with.
#ifndef MPIO_FUSE_IO_WAITER_H_
#define MPIO_FUSE_IO_WAITER_H_

#include "absl/status/status.h"
#include "engine/device/block_device.h"

namespace mpio::fuse {

absl::Status SubmitAndWait(BlockDevice& device, IoRequest& request);

}  // namespace mpio::fuse

#endif  // MPIO_FUSE_IO_WAITER_H_
