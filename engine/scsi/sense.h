// SCSI status bytes and sense data: parsing (fixed 0x70/0x71 and descriptor
// 0x72/0x73 formats, SPC-4 4.5) and human text ("NOT READY/LOGICAL UNIT IS
// IN PROCESS OF BECOMING READY (04/01)").
//
// Pure functions, any thread; the tables are constant. ParseSense returns
// InvalidArgument when the bytes are not sense data (too short, unknown
// response code); a broken sense descriptor after a valid header only means
// `information` stays empty, because key/ASC/ASCQ are what callers act on.
#ifndef MPIO_ENGINE_SCSI_SENSE_H_
#define MPIO_ENGINE_SCSI_SENSE_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "absl/status/statusor.h"

namespace mpio::scsi {

// SCSI status byte values (SAM-5 table 30).
inline constexpr uint8_t kStatusGood = 0x00;
inline constexpr uint8_t kStatusCheckCondition = 0x02;
inline constexpr uint8_t kStatusConditionMet = 0x04;
inline constexpr uint8_t kStatusBusy = 0x08;
inline constexpr uint8_t kStatusReservationConflict = 0x18;
inline constexpr uint8_t kStatusTaskSetFull = 0x28;
inline constexpr uint8_t kStatusAcaActive = 0x30;
inline constexpr uint8_t kStatusTaskAborted = 0x40;

// Sense keys (SPC-4 table 48).
inline constexpr uint8_t kSenseNoSense = 0x0;
inline constexpr uint8_t kSenseRecoveredError = 0x1;
inline constexpr uint8_t kSenseNotReady = 0x2;
inline constexpr uint8_t kSenseMediumError = 0x3;
inline constexpr uint8_t kSenseHardwareError = 0x4;
inline constexpr uint8_t kSenseIllegalRequest = 0x5;
inline constexpr uint8_t kSenseUnitAttention = 0x6;
inline constexpr uint8_t kSenseDataProtect = 0x7;
inline constexpr uint8_t kSenseBlankCheck = 0x8;
inline constexpr uint8_t kSenseVendorSpecific = 0x9;
inline constexpr uint8_t kSenseCopyAborted = 0xA;
inline constexpr uint8_t kSenseAbortedCommand = 0xB;
inline constexpr uint8_t kSenseVolumeOverflow = 0xD;
inline constexpr uint8_t kSenseMiscompare = 0xE;

struct Sense {
  uint8_t response_code = 0;  // 0x70..0x73
  bool deferred = false;      // 0x71/0x73: about an earlier command
  uint8_t key = 0;
  uint8_t asc = 0;  // 0 when the sense data is too short to carry it
  uint8_t ascq = 0;
  // INFORMATION field (fixed format with VALID set, or the descriptor-format
  // information descriptor with VALID set); usually the failing LBA.
  std::optional<uint64_t> information;
};

absl::StatusOr<Sense> ParseSense(std::span<const uint8_t> data);

// "NOT READY", "UNIT ATTENTION", ...; "RESERVED" for 0xF/0xC.
const char* SenseKeyName(uint8_t key);
// SPC-4 wording for the common ASC/ASCQ pairs; nullptr when not in the table.
const char* AscAscqText(uint8_t asc, uint8_t ascq);
// "<KEY>/<ASC text> (AA/QQ)"; unknown pairs read "ASC AA ASCQ QQ".
// Deferred errors are prefixed "DEFERRED ".
std::string SenseText(const Sense& sense);
// "GOOD", "CHECK CONDITION", "BUSY", ... or "STATUS 0xNN".
std::string StatusName(uint8_t status);

}  // namespace mpio::scsi

#endif  // MPIO_ENGINE_SCSI_SENSE_H_
