#include "engine/device/block_device.h"

#include <cerrno>

namespace mpio {

const char* IoOpName(IoOp op) {
  switch (op) {
    case IoOp::kRead:
      return "read";
    case IoOp::kWrite:
      return "write";
    case IoOp::kFlush:
      return "flush";
    case IoOp::kDiscard:
      return "discard";
    case IoOp::kWriteZeroes:
      return "write-zeroes";
  }
  return "unknown";
}

// The one mapping from Status to errno. Codes are used for their documented
// meaning (absl/status/status.h); the device layer picks the code so that
// this table gives what a filesystem expects.
int ErrnoFromStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 0;
    case absl::StatusCode::kInvalidArgument:
      return EINVAL;
    case absl::StatusCode::kOutOfRange:
      return EINVAL;
    case absl::StatusCode::kResourceExhausted:
      return ENOSPC;
    case absl::StatusCode::kPermissionDenied:
      return EROFS;
    case absl::StatusCode::kUnimplemented:
      return EOPNOTSUPP;
    case absl::StatusCode::kNotFound:
      return ENODEV;
    case absl::StatusCode::kAborted:
      return EIO;
    case absl::StatusCode::kDeadlineExceeded:
      return ETIMEDOUT;
    case absl::StatusCode::kCancelled:
      return ECANCELED;
    case absl::StatusCode::kFailedPrecondition:
      return EIO;
    case absl::StatusCode::kUnavailable:
      return EIO;
    case absl::StatusCode::kDataLoss:
      return EIO;
    default:
      return EIO;
  }
}

}  // namespace mpio
