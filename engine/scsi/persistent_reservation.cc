#include "engine/scsi/persistent_reservation.h"

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "engine/scsi/bytes.h"

namespace mpio::scsi {

absl::StatusOr<PrKeys> ParsePrReadKeys(std::span<const uint8_t> data) {
  if (data.size() < 8) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "PR IN READ KEYS data is %d bytes; the header needs 8", data.size()));
  }
  PrKeys out;
  out.generation = internal::Be32(data, 0);
  uint32_t len = internal::Be32(data, 4);
  if (len % 8 != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "PR IN READ KEYS: ADDITIONAL LENGTH %d is not a multiple of 8", len));
  }
  out.needed_alloc_len = len > 0xFFFFFFFFu - 8 ? 0xFFFFFFFFu : len + 8;
  size_t have = (data.size() - 8) / 8 * 8;
  size_t use = len < have ? len : have;
  out.truncated = use < len;
  out.keys.reserve(use / 8);
  for (size_t off = 8; off < 8 + use; off += 8) {
    out.keys.push_back(internal::Be64(data, off));
  }
  return out;
}

absl::StatusOr<PrReservation> ParsePrReadReservation(
    std::span<const uint8_t> data) {
  if (data.size() < 8) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "PR IN READ RESERVATION data is %d bytes; the header needs 8",
        data.size()));
  }
  PrReservation out;
  out.generation = internal::Be32(data, 0);
  uint32_t len = internal::Be32(data, 4);
  if (len == 0) return out;
  if (len != 16) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "PR IN READ RESERVATION: ADDITIONAL LENGTH %d is neither 0 nor 16",
        len));
  }
  if (data.size() < 24) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "PR IN READ RESERVATION: %d bytes received; the reservation "
        "descriptor needs 24 (use allocation length 24)",
        data.size()));
  }
  out.reserved = true;
  out.key = internal::Be64(data, 8);
  out.scope = data[21] >> 4;
  out.type = data[21] & 0x0F;
  return out;
}

}  // namespace mpio::scsi
