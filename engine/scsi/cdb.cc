#include "engine/scsi/cdb.h"

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "engine/scsi/bytes.h"

namespace mpio::scsi {
namespace {

using internal::PutBe16;
using internal::PutBe32;
using internal::PutBe64;

Cdb Make(uint8_t len, uint8_t opcode) {
  Cdb c;
  c.len = len;
  c.bytes[0] = opcode;
  return c;
}

// READ/WRITE/SYNC/WRITE SAME (16) share one layout: LBA at 2, count at 10.
Cdb LbaCount16(uint8_t opcode, uint8_t byte1, uint64_t lba, uint32_t blocks) {
  Cdb c = Make(16, opcode);
  c.bytes[1] = byte1;
  PutBe64(&c.bytes[2], lba);
  PutBe32(&c.bytes[10], blocks);
  return c;
}

constexpr uint8_t kFua = 0x08;
constexpr uint8_t kUnmapBit = 0x08;
constexpr uint8_t kSaReadCapacity16 = 0x10;
constexpr uint8_t kSaTargetPortGroups = 0x0A;
constexpr uint8_t kRtpgExtendedFormat = 0x20;  // PARAMETER DATA FORMAT 001b
constexpr size_t kMaxUnmapRanges = (0xFFFF - 6) / 16;  // 4095
constexpr size_t kMaxStpgRequests = 1000;

}  // namespace

Cdb TestUnitReady() { return Make(6, kOpTestUnitReady); }

Cdb Inquiry(bool evpd, uint8_t page, uint16_t alloc_len) {
  Cdb c = Make(6, kOpInquiry);
  c.bytes[1] = evpd ? 0x01 : 0x00;
  c.bytes[2] = page;
  PutBe16(&c.bytes[3], alloc_len);
  return c;
}

Cdb ReportLuns(uint32_t alloc_len, uint8_t select_report) {
  Cdb c = Make(12, kOpReportLuns);
  c.bytes[2] = select_report;
  PutBe32(&c.bytes[6], alloc_len);
  return c;
}

Cdb ReadCapacity16(uint32_t alloc_len) {
  Cdb c = Make(16, kOpServiceActionIn16);
  c.bytes[1] = kSaReadCapacity16;
  PutBe32(&c.bytes[10], alloc_len);
  return c;
}

Cdb Read16(uint64_t lba, uint32_t blocks, bool fua) {
  return LbaCount16(kOpRead16, fua ? kFua : 0, lba, blocks);
}

Cdb Write16(uint64_t lba, uint32_t blocks, bool fua) {
  return LbaCount16(kOpWrite16, fua ? kFua : 0, lba, blocks);
}

Cdb SynchronizeCache16(uint64_t lba, uint32_t blocks) {
  return LbaCount16(kOpSynchronizeCache16, 0, lba, blocks);
}

Cdb WriteSame16(uint64_t lba, uint32_t blocks, bool unmap) {
  return LbaCount16(kOpWriteSame16, unmap ? kUnmapBit : 0, lba, blocks);
}

Cdb Unmap(uint16_t param_len) {
  Cdb c = Make(10, kOpUnmap);
  PutBe16(&c.bytes[7], param_len);
  return c;
}

absl::StatusOr<std::vector<uint8_t>> UnmapParameterList(
    std::span<const UnmapRange> ranges) {
  if (ranges.empty()) {
    return absl::InvalidArgumentError("UNMAP parameter list: no ranges given");
  }
  if (ranges.size() > kMaxUnmapRanges) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "UNMAP parameter list: %d ranges exceed the %d that UNMAP DATA "
        "LENGTH can describe; split the request",
        ranges.size(), kMaxUnmapRanges));
  }
  std::vector<uint8_t> out(8 + 16 * ranges.size(), 0);
  PutBe16(&out[0], static_cast<uint16_t>(out.size() - 2));
  PutBe16(&out[2], static_cast<uint16_t>(16 * ranges.size()));
  for (size_t i = 0; i < ranges.size(); ++i) {
    PutBe64(&out[8 + 16 * i], ranges[i].lba);
    PutBe32(&out[8 + 16 * i + 8], ranges[i].blocks);
  }
  return out;
}

Cdb ReportTargetPortGroups(uint32_t alloc_len, bool extended) {
  Cdb c = Make(12, kOpMaintenanceIn);
  c.bytes[1] = static_cast<uint8_t>(kSaTargetPortGroups |
                                    (extended ? kRtpgExtendedFormat : 0));
  PutBe32(&c.bytes[6], alloc_len);
  return c;
}

Cdb SetTargetPortGroups(uint32_t param_len) {
  Cdb c = Make(12, kOpMaintenanceOut);
  c.bytes[1] = kSaTargetPortGroups;
  PutBe32(&c.bytes[6], param_len);
  return c;
}

absl::StatusOr<std::vector<uint8_t>> SetTargetPortGroupsParameters(
    std::span<const TpgStateRequest> requests) {
  if (requests.empty()) {
    return absl::InvalidArgumentError(
        "SET TARGET PORT GROUPS parameters: no port group given");
  }
  if (requests.size() > kMaxStpgRequests) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "SET TARGET PORT GROUPS parameters: %d port groups, at most %d",
        requests.size(), kMaxStpgRequests));
  }
  std::vector<uint8_t> out(4 + 4 * requests.size(), 0);
  for (size_t i = 0; i < requests.size(); ++i) {
    if (requests[i].asymmetric_access_state > 0x3) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "SET TARGET PORT GROUPS parameters: asymmetric access state 0x%x "
          "for TPG %d cannot be requested (only 0-3)",
          requests[i].asymmetric_access_state, requests[i].target_port_group));
    }
    out[4 + 4 * i] = requests[i].asymmetric_access_state;
    PutBe16(&out[4 + 4 * i + 2], requests[i].target_port_group);
  }
  return out;
}

Cdb PersistentReserveIn(PrInAction action, uint16_t alloc_len) {
  Cdb c = Make(10, kOpPersistentReserveIn);
  c.bytes[1] = static_cast<uint8_t>(action) & 0x1F;
  PutBe16(&c.bytes[7], alloc_len);
  return c;
}

Cdb PersistentReserveOut(PrOutAction action, PrType type, uint32_t param_len) {
  Cdb c = Make(10, kOpPersistentReserveOut);
  c.bytes[1] = static_cast<uint8_t>(action) & 0x1F;
  c.bytes[2] = static_cast<uint8_t>(type) & 0x0F;  // scope 0: LU_SCOPE
  PutBe32(&c.bytes[5], param_len);
  return c;
}

std::array<uint8_t, 24> PrOutParameterList(uint64_t key, uint64_t sa_key,
                                           bool aptpl) {
  std::array<uint8_t, 24> out{};
  PutBe64(&out[0], key);
  PutBe64(&out[8], sa_key);
  out[20] = aptpl ? 0x01 : 0x00;
  return out;
}

}  // namespace mpio::scsi
