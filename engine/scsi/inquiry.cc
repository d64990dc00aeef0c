#include "engine/scsi/inquiry.h"

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace mpio::scsi {

std::string TrimAsciiField(std::span<const uint8_t> field) {
  std::string out;
  for (uint8_t b : field) {
    if (b == 0) break;
    out.push_back(b >= 0x20 && b < 0x7F ? static_cast<char>(b) : '?');
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

absl::StatusOr<StandardInquiry> ParseStandardInquiry(
    std::span<const uint8_t> data) {
  constexpr size_t kMinLen = 36;
  if (data.size() < kMinLen) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "standard INQUIRY data is %d bytes; vendor/product/revision need %d",
        data.size(), kMinLen));
  }
  // ADDITIONAL LENGTH counts the bytes after byte 4.
  if (data[4] + 5u < kMinLen) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "standard INQUIRY ADDITIONAL LENGTH %d is below 31: the target "
        "returned no vendor/product/revision",
        data[4]));
  }
  StandardInquiry inq;
  inq.peripheral_qualifier = data[0] >> 5;
  inq.device_type = data[0] & 0x1F;
  inq.removable = (data[1] & 0x80) != 0;
  inq.version = data[2];
  inq.tpgs = (data[5] >> 4) & 0x3;
  inq.protect = (data[5] & 0x01) != 0;
  inq.vendor = TrimAsciiField(data.subspan(8, 8));
  inq.product = TrimAsciiField(data.subspan(16, 16));
  inq.revision = TrimAsciiField(data.subspan(32, 4));
  return inq;
}

}  // namespace mpio::scsi
