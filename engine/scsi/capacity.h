// READ CAPACITY(16) parameter data parser (SBC-3 5.16.2).
//
// Pure function, any thread. Malformed input (short data, zero block size,
// a size that does not fit in 64 bits) returns InvalidArgument.
#ifndef MPIO_ENGINE_SCSI_CAPACITY_H_
#define MPIO_ENGINE_SCSI_CAPACITY_H_

#include <cstdint>
#include <span>

#include "absl/status/statusor.h"

namespace mpio::scsi {

struct Capacity {
  uint64_t last_lba = 0;
  uint32_t block_size = 0;  // LOGICAL BLOCK LENGTH IN BYTES
  bool prot_en = false;
  uint8_t p_type = 0;
  uint8_t lb_per_pb_exponent = 0;  // physical block = block_size << this
  bool lbpme = false;  // thin provisioned: UNMAP/WRITE SAME unmap may work
  bool lbprz = false;  // unmapped blocks read as zero
  uint16_t lowest_aligned_lba = 0;

  uint64_t blocks() const { return last_lba + 1; }
  uint64_t size_bytes() const { return blocks() * block_size; }
};

// Needs the first 16 bytes (through LOWEST ALIGNED LBA).
absl::StatusOr<Capacity> ParseReadCapacity16(std::span<const uint8_t> data);

}  // namespace mpio::scsi

#endif  // MPIO_ENGINE_SCSI_CAPACITY_H_
