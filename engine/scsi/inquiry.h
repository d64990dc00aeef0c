// Standard INQUIRY data parser (SPC-4 6.6.2).
//
// Pure function, any thread; the result owns copies of the strings. Malformed
// input returns InvalidArgument naming the field and leaves nothing behind.
#ifndef MPIO_ENGINE_SCSI_INQUIRY_H_
#define MPIO_ENGINE_SCSI_INQUIRY_H_

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/statusor.h"

namespace mpio::scsi {

struct StandardInquiry {
  uint8_t peripheral_qualifier = 0;  // byte 0 bits 7:5; 0 = LU connected
  uint8_t device_type = 0;           // byte 0 bits 4:0; 0 = disk
  bool removable = false;            // RMB
  uint8_t version = 0;               // 5 SPC-3, 6 SPC-4
  uint8_t tpgs = 0;  // byte 5 bits 5:4: 0 none, 1 implicit, 2 explicit, 3 both
  bool protect = false;  // PROTECT: T10 PI supported
  std::string vendor;    // T10 vendor id, trailing blanks/NULs removed
  std::string product;
  std::string revision;
};

// Needs the 36 bytes that hold vendor, product and revision; the ADDITIONAL
// LENGTH field must cover them too.
absl::StatusOr<StandardInquiry> ParseStandardInquiry(
    std::span<const uint8_t> data);

// Copies a fixed-width ASCII field, cutting at the first NUL and removing
// trailing blanks (the padding SPC uses); non-printable bytes become '?'.
std::string TrimAsciiField(std::span<const uint8_t> field);

}  // namespace mpio::scsi

#endif  // MPIO_ENGINE_SCSI_INQUIRY_H_
