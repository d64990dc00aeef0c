#include "engine/scsi/sense.h"

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "engine/scsi/bytes.h"

namespace mpio::scsi {
namespace {

struct AscEntry {
  uint8_t asc;
  uint8_t ascq;
  const char* text;
};

// SPC-4 Annex D wording, the pairs an initiator meets in practice.
constexpr AscEntry kAscTable[] = {
    {0x00, 0x00, "NO ADDITIONAL SENSE INFORMATION"},
    {0x00, 0x16, "OPERATION IN PROGRESS"},
    {0x04, 0x00, "LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE"},
    {0x04, 0x01, "LOGICAL UNIT IS IN PROCESS OF BECOMING READY"},
    {0x04, 0x02, "LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED"},
    {0x04, 0x03, "LOGICAL UNIT NOT READY, MANUAL INTERVENTION REQUIRED"},
    {0x04, 0x04, "LOGICAL UNIT NOT READY, FORMAT IN PROGRESS"},
    {0x04, 0x05, "LOGICAL UNIT NOT READY, REBUILD IN PROGRESS"},
    {0x04, 0x06, "LOGICAL UNIT NOT READY, RECALCULATION IN PROGRESS"},
    {0x04, 0x07, "LOGICAL UNIT NOT READY, OPERATION IN PROGRESS"},
    {0x04, 0x08, "LOGICAL UNIT NOT READY, LONG WRITE IN PROGRESS"},
    {0x04, 0x09, "LOGICAL UNIT NOT READY, SELF-TEST IN PROGRESS"},
    {0x04, 0x0A,
     "LOGICAL UNIT NOT ACCESSIBLE, ASYMMETRIC ACCESS STATE TRANSITION"},
    {0x04, 0x0B, "LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN STANDBY STATE"},
    {0x04, 0x0C,
     "LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN UNAVAILABLE STATE"},
    {0x04, 0x10, "LOGICAL UNIT NOT READY, AUXILIARY MEMORY NOT ACCESSIBLE"},
    {0x04, 0x11, "LOGICAL UNIT NOT READY, NOTIFY (ENABLE SPINUP) REQUIRED"},
    {0x05, 0x00, "LOGICAL UNIT DOES NOT RESPOND TO SELECTION"},
    {0x08, 0x00, "LOGICAL UNIT COMMUNICATION FAILURE"},
    {0x08, 0x01, "LOGICAL UNIT COMMUNICATION TIME-OUT"},
    {0x08, 0x02, "LOGICAL UNIT COMMUNICATION PARITY ERROR"},
    {0x08, 0x03, "LOGICAL UNIT COMMUNICATION CRC ERROR (ULTRA-DMA/32)"},
    {0x0C, 0x00, "WRITE ERROR"},
    {0x0C, 0x02, "WRITE ERROR - AUTO REALLOCATION FAILED"},
    {0x0E, 0x01, "INFORMATION UNIT TOO SHORT"},
    {0x0E, 0x02, "INFORMATION UNIT TOO LONG"},
    {0x0E, 0x03, "INVALID FIELD IN COMMAND INFORMATION UNIT"},
    {0x10, 0x01, "LOGICAL BLOCK GUARD CHECK FAILED"},
    {0x10, 0x02, "LOGICAL BLOCK APPLICATION TAG CHECK FAILED"},
    {0x10, 0x03, "LOGICAL BLOCK REFERENCE TAG CHECK FAILED"},
    {0x11, 0x00, "UNRECOVERED READ ERROR"},
    {0x14, 0x01, "RECORD NOT FOUND"},
    {0x1A, 0x00, "PARAMETER LIST LENGTH ERROR"},
    {0x1D, 0x00, "MISCOMPARE DURING VERIFY OPERATION"},
    {0x20, 0x00, "INVALID COMMAND OPERATION CODE"},
    {0x20, 0x02, "ACCESS DENIED - NO ACCESS RIGHTS"},
    {0x21, 0x00, "LOGICAL BLOCK ADDRESS OUT OF RANGE"},
    {0x24, 0x00, "INVALID FIELD IN CDB"},
    {0x25, 0x00, "LOGICAL UNIT NOT SUPPORTED"},
    {0x26, 0x00, "INVALID FIELD IN PARAMETER LIST"},
    {0x26, 0x01, "PARAMETER NOT SUPPORTED"},
    {0x26, 0x02, "PARAMETER VALUE INVALID"},
    {0x27, 0x00, "WRITE PROTECTED"},
    {0x27, 0x01, "HARDWARE WRITE PROTECTED"},
    {0x27, 0x02, "LOGICAL UNIT SOFTWARE WRITE PROTECTED"},
    {0x27, 0x07, "SPACE ALLOCATION FAILED WRITE PROTECT"},
    {0x28, 0x00, "NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED"},
    {0x29, 0x00, "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED"},
    {0x29, 0x01, "POWER ON OCCURRED"},
    {0x29, 0x02, "SCSI BUS RESET OCCURRED"},
    {0x29, 0x03, "BUS DEVICE RESET FUNCTION OCCURRED"},
    {0x29, 0x04, "DEVICE INTERNAL RESET"},
    {0x29, 0x05, "TRANSCEIVER MODE CHANGED TO SINGLE-ENDED"},
    {0x29, 0x06, "TRANSCEIVER MODE CHANGED TO LVD"},
    {0x29, 0x07, "I_T NEXUS LOSS OCCURRED"},
    {0x2A, 0x00, "PARAMETERS CHANGED"},
    {0x2A, 0x01, "MODE PARAMETERS CHANGED"},
    {0x2A, 0x02, "LOG PARAMETERS CHANGED"},
    {0x2A, 0x03, "RESERVATIONS PREEMPTED"},
    {0x2A, 0x04, "RESERVATIONS RELEASED"},
    {0x2A, 0x05, "REGISTRATIONS PREEMPTED"},
    {0x2A, 0x06, "ASYMMETRIC ACCESS STATE CHANGED"},
    {0x2A, 0x07, "IMPLICIT ASYMMETRIC ACCESS STATE TRANSITION FAILED"},
    {0x2A, 0x08, "PRIORITY CHANGED"},
    {0x2A, 0x09, "CAPACITY DATA HAS CHANGED"},
    {0x2C, 0x00, "COMMAND SEQUENCE ERROR"},
    {0x2F, 0x00, "COMMANDS CLEARED BY ANOTHER INITIATOR"},
    {0x31, 0x00, "MEDIUM FORMAT CORRUPTED"},
    {0x38, 0x07, "THIN PROVISIONING SOFT THRESHOLD REACHED"},
    {0x3A, 0x00, "MEDIUM NOT PRESENT"},
    {0x3E, 0x00, "LOGICAL UNIT HAS NOT SELF-CONFIGURED YET"},
    {0x3E, 0x01, "LOGICAL UNIT FAILURE"},
    {0x3E, 0x02, "TIMEOUT ON LOGICAL UNIT"},
    {0x3F, 0x00, "TARGET OPERATING CONDITIONS HAVE CHANGED"},
    {0x3F, 0x01, "MICROCODE HAS BEEN CHANGED"},
    {0x3F, 0x03, "INQUIRY DATA HAS CHANGED"},
    {0x3F, 0x0E, "REPORTED LUNS DATA HAS CHANGED"},
    {0x44, 0x00, "INTERNAL TARGET FAILURE"},
    {0x47, 0x00, "SCSI PARITY ERROR"},
    {0x47, 0x03, "INFORMATION UNIT iuCRC ERROR DETECTED"},
    {0x48, 0x00, "INITIATOR DETECTED ERROR MESSAGE RECEIVED"},
    {0x49, 0x00, "INVALID MESSAGE ERROR"},
    {0x4B, 0x00, "DATA PHASE ERROR"},
    {0x4C, 0x00, "LOGICAL UNIT FAILED SELF-CONFIGURATION"},
    {0x55, 0x03, "INSUFFICIENT RESOURCES"},
    {0x55, 0x04, "INSUFFICIENT REGISTRATION RESOURCES"},
    {0x5D, 0x00, "FAILURE PREDICTION THRESHOLD EXCEEDED"},
};

constexpr const char* kKeyNames[16] = {
    "NO SENSE",       "RECOVERED ERROR", "NOT READY",      "MEDIUM ERROR",
    "HARDWARE ERROR", "ILLEGAL REQUEST", "UNIT ATTENTION", "DATA PROTECT",
    "BLANK CHECK",    "VENDOR SPECIFIC", "COPY ABORTED",   "ABORTED COMMAND",
    "RESERVED",       "VOLUME OVERFLOW", "MISCOMPARE",     "RESERVED",
};

// Walks the descriptors of descriptor-format sense for the information
// descriptor (type 0x00). Stops quietly at the first descriptor that runs
// past the data: the header fields stay usable.
std::optional<uint64_t> DescriptorInformation(std::span<const uint8_t> d) {
  size_t off = 8;
  while (off + 2 <= d.size()) {
    uint8_t type = d[off];
    size_t len = 2 + static_cast<size_t>(d[off + 1]);
    if (off + len > d.size()) break;
    if (type == 0x00 && len >= 12 && (d[off + 2] & 0x80) != 0) {
      return internal::Be64(d, off + 4);
    }
    off += len;
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<Sense> ParseSense(std::span<const uint8_t> data) {
  if (data.empty()) {
    return absl::InvalidArgumentError("sense data is empty");
  }
  Sense s;
  s.response_code = data[0] & 0x7F;
  switch (s.response_code) {
    case 0x70:
    case 0x71: {
      if (data.size() < 3) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "fixed-format sense data is %d bytes; SENSE KEY needs 3",
            data.size()));
      }
      s.deferred = s.response_code == 0x71;
      s.key = data[2] & 0x0F;
      // ADDITIONAL SENSE LENGTH (byte 7) bounds what follows; trust the
      // smaller of it and what arrived.
      size_t end = data.size();
      if (data.size() >= 8 && 8u + data[7] < end) end = 8u + data[7];
      if (end >= 14) {
        s.asc = data[12];
        s.ascq = data[13];
      }
      if ((data[0] & 0x80) != 0 && data.size() >= 7) {
        s.information = internal::Be32(data, 3);
      }
      return s;
    }
    case 0x72:
    case 0x73: {
      if (data.size() < 4) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "descriptor-format sense data is %d bytes; SENSE KEY/ASC/ASCQ "
            "need 4",
            data.size()));
      }
      s.deferred = s.response_code == 0x73;
      s.key = data[1] & 0x0F;
      s.asc = data[2];
      s.ascq = data[3];
      if (data.size() >= 8) {
        size_t end = data.size();
        if (8u + data[7] < end) end = 8u + data[7];
        s.information = DescriptorInformation(data.first(end));
      }
      return s;
    }
    default:
      return absl::InvalidArgumentError(absl::StrFormat(
          "sense RESPONSE CODE 0x%02x is not 0x70-0x73", s.response_code));
  }
}

const char* SenseKeyName(uint8_t key) { return kKeyNames[key & 0x0F]; }

const char* AscAscqText(uint8_t asc, uint8_t ascq) {
  for (const auto& e : kAscTable) {
    if (e.asc == asc && e.ascq == ascq) return e.text;
  }
  return nullptr;
}

std::string SenseText(const Sense& sense) {
  const char* text = AscAscqText(sense.asc, sense.ascq);
  std::string what = text != nullptr ? std::string(text)
                                     : absl::StrFormat("ASC %02X ASCQ %02X",
                                                       sense.asc, sense.ascq);
  return absl::StrFormat("%s%s/%s (%02X/%02X)",
                         sense.deferred ? "DEFERRED " : "",
                         SenseKeyName(sense.key), what, sense.asc, sense.ascq);
}

std::string StatusName(uint8_t status) {
  switch (status) {
    case kStatusGood:
      return "GOOD";
    case kStatusCheckCondition:
      return "CHECK CONDITION";
    case kStatusConditionMet:
      return "CONDITION MET";
    case kStatusBusy:
      return "BUSY";
    case kStatusReservationConflict:
      return "RESERVATION CONFLICT";
    case kStatusTaskSetFull:
      return "TASK SET FULL";
    case kStatusAcaActive:
      return "ACA ACTIVE";
    case kStatusTaskAborted:
      return "TASK ABORTED";
    default:
      return absl::StrFormat("STATUS 0x%02X", status);
  }
}

}  // namespace mpio::scsi
