#include "engine/scsi/report_luns.h"

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "engine/scsi/bytes.h"

namespace mpio::scsi {

uint64_t DecodeLun(std::span<const uint8_t, 8> e) {
  bool single_level = e[2] == 0 && e[3] == 0 && e[4] == 0 && e[5] == 0 &&
                      e[6] == 0 && e[7] == 0;
  uint8_t method = e[0] >> 6;
  if (single_level && method == 0 && (e[0] & 0x3F) == 0) return e[1];
  if (single_level && method == 1) return ((e[0] & 0x3Fu) << 8) | e[1];
  uint64_t lun = 0;
  for (size_t i = 0; i < 8; i += 2) {
    lun |= static_cast<uint64_t>((e[i] << 8) | e[i + 1]) << (i * 8);
  }
  return lun;
}

absl::StatusOr<LunList> ParseReportLuns(std::span<const uint8_t> data) {
  if (data.size() < 8) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "REPORT LUNS data is %d bytes; the header needs 8", data.size()));
  }
  uint32_t list_len = internal::Be32(data, 0);
  if (list_len % 8 != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "REPORT LUNS: LUN LIST LENGTH %d is not a multiple of 8", list_len));
  }
  LunList out;
  out.needed_alloc_len =
      list_len > 0xFFFFFFFFu - 8 ? 0xFFFFFFFFu : list_len + 8;
  size_t have = (data.size() - 8) / 8 * 8;
  size_t use = list_len < have ? list_len : have;
  out.truncated = use < list_len;
  out.luns.reserve(use / 8);
  for (size_t off = 8; off < 8 + use; off += 8) {
    out.luns.push_back(DecodeLun(data.subspan(off).first<8>()));
  }
  return out;
}

}  // namespace mpio::scsi
