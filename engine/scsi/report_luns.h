// REPORT LUNS parameter data parser (SPC-4 6.33).
//
// Pure function, any thread. A list cut short by the allocation length is
// not an error: `truncated` is set and `needed_alloc_len` says how much to
// ask for. Malformed input returns InvalidArgument.
#ifndef MPIO_ENGINE_SCSI_REPORT_LUNS_H_
#define MPIO_ENGINE_SCSI_REPORT_LUNS_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"

namespace mpio::scsi {

struct LunList {
  // Peripheral (method 00b, bus 0) and flat (01b) single-level addresses are
  // decoded to the LUN number (0..16383). Other methods are returned the way
  // Linux's scsilun_to_int() packs them (levels swapped into the low bits),
  // which is above 16383 for anything but a plain number.
  std::vector<uint64_t> luns;
  bool truncated = false;
  uint32_t needed_alloc_len = 0;  // 8 + LUN LIST LENGTH
};

absl::StatusOr<LunList> ParseReportLuns(std::span<const uint8_t> data);

// The LUN number of one 8-byte LUN entry, as described above.
uint64_t DecodeLun(std::span<const uint8_t, 8> entry);

}  // namespace mpio::scsi

#endif  // MPIO_ENGINE_SCSI_REPORT_LUNS_H_
