#include "engine/scsi/capacity.h"

#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "engine/scsi/bytes.h"

namespace mpio::scsi {

absl::StatusOr<Capacity> ParseReadCapacity16(std::span<const uint8_t> data) {
  if (data.size() < 16) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "READ CAPACITY(16) data is %d bytes; needs 16", data.size()));
  }
  Capacity c;
  c.last_lba = internal::Be64(data, 0);
  c.block_size = internal::Be32(data, 8);
  c.prot_en = (data[12] & 0x01) != 0;
  c.p_type = (data[12] >> 1) & 0x7;
  c.lb_per_pb_exponent = data[13] & 0x0F;
  c.lbpme = (data[14] & 0x80) != 0;
  c.lbprz = (data[14] & 0x40) != 0;
  c.lowest_aligned_lba = internal::Be16(data, 14) & 0x3FFF;
  if (c.block_size == 0) {
    return absl::InvalidArgumentError(
        "READ CAPACITY(16): LOGICAL BLOCK LENGTH is 0");
  }
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  if (c.last_lba == kMax || c.blocks() > kMax / c.block_size) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "READ CAPACITY(16): RETURNED LOGICAL BLOCK ADDRESS 0x%x with %d-byte "
        "blocks exceeds 2^64 bytes",
        c.last_lba, c.block_size));
  }
  return c;
}

}  // namespace mpio::scsi
