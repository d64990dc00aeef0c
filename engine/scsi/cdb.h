// CDB builders: the SCSI commands mpio sends, as bytes (SPC-4, SBC-3).
//
// Pure functions, no I/O, callable from any thread. A Cdb is a value: the
// caller owns it and copies it into whatever the transport wants (libiscsi
// task, mpio_scsi_cdb). Builders never fail except the parameter-list
// builders whose input can exceed what the wire format can carry; those
// return InvalidArgument and build nothing.
#ifndef MPIO_ENGINE_SCSI_CDB_H_
#define MPIO_ENGINE_SCSI_CDB_H_

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"

namespace mpio::scsi {

// Operation codes used by mpio.
inline constexpr uint8_t kOpTestUnitReady = 0x00;
inline constexpr uint8_t kOpInquiry = 0x12;
inline constexpr uint8_t kOpUnmap = 0x42;
inline constexpr uint8_t kOpPersistentReserveIn = 0x5E;
inline constexpr uint8_t kOpPersistentReserveOut = 0x5F;
inline constexpr uint8_t kOpRead16 = 0x88;
inline constexpr uint8_t kOpWrite16 = 0x8A;
inline constexpr uint8_t kOpSynchronizeCache16 = 0x91;
inline constexpr uint8_t kOpWriteSame16 = 0x93;
inline constexpr uint8_t kOpServiceActionIn16 = 0x9E;  // READ CAPACITY(16)
inline constexpr uint8_t kOpReportLuns = 0xA0;
inline constexpr uint8_t kOpMaintenanceIn = 0xA3;   // REPORT TARGET PORT GROUPS
inline constexpr uint8_t kOpMaintenanceOut = 0xA4;  // SET TARGET PORT GROUPS

struct Cdb {
  std::array<uint8_t, 16> bytes{};  // bytes past `len` are zero
  uint8_t len = 0;

  std::span<const uint8_t> span() const { return {bytes.data(), len}; }
};

Cdb TestUnitReady();
// Standard INQUIRY when !evpd (page must then be 0), VPD page otherwise.
Cdb Inquiry(bool evpd, uint8_t page, uint16_t alloc_len);
// select_report 0: all LUNs except well-known ones (SPC-4 table 286).
Cdb ReportLuns(uint32_t alloc_len, uint8_t select_report = 0);
Cdb ReadCapacity16(uint32_t alloc_len = 32);
Cdb Read16(uint64_t lba, uint32_t blocks, bool fua = false);
Cdb Write16(uint64_t lba, uint32_t blocks, bool fua = false);
// blocks == 0 means "from lba to the end of the medium" (SBC-3).
Cdb SynchronizeCache16(uint64_t lba, uint32_t blocks);
// One block of Data-Out is replicated over `blocks`; unmap=true lets the
// target deallocate instead (thin provisioning).
Cdb WriteSame16(uint64_t lba, uint32_t blocks, bool unmap);
Cdb Unmap(uint16_t param_len);

struct UnmapRange {
  uint64_t lba;
  uint32_t blocks;
};
// UNMAP parameter list: 8-byte header + 16 bytes per range. Fails for no
// ranges or more than 4095 (the 16-bit UNMAP DATA LENGTH limit).
absl::StatusOr<std::vector<uint8_t>> UnmapParameterList(
    std::span<const UnmapRange> ranges);

// MAINTENANCE IN / REPORT TARGET PORT GROUPS. extended=true asks for the
// extended header (format 001b) that carries the implicit transition time.
Cdb ReportTargetPortGroups(uint32_t alloc_len, bool extended = true);
// MAINTENANCE OUT / SET TARGET PORT GROUPS.
Cdb SetTargetPortGroups(uint32_t param_len);

struct TpgStateRequest {
  uint16_t target_port_group;
  uint8_t asymmetric_access_state;  // 0 AO, 1 ANO, 2 standby, 3 unavailable
};
// STPG parameter data: 4 reserved bytes + 4 bytes per request. Fails for no
// requests, a state above 0x3 (only those may be requested, SPC-4 6.35) or
// more than 1000 requests.
absl::StatusOr<std::vector<uint8_t>> SetTargetPortGroupsParameters(
    std::span<const TpgStateRequest> requests);

enum class PrInAction : uint8_t {
  kReadKeys = 0x00,
  kReadReservation = 0x01,
};
Cdb PersistentReserveIn(PrInAction action, uint16_t alloc_len);

enum class PrOutAction : uint8_t {
  kRegister = 0x00,
  kReserve = 0x01,
  kRelease = 0x02,
  kClear = 0x03,
  kPreempt = 0x04,
  kPreemptAndAbort = 0x05,
  kRegisterAndIgnore = 0x06,
};

// Persistent reservation types (SPC-4 table 212). kNone for service actions
// that ignore the type (REGISTER, CLEAR).
enum class PrType : uint8_t {
  kNone = 0x0,
  kWriteExclusive = 0x1,
  kExclusiveAccess = 0x3,
  kWriteExclusiveRegistrantsOnly = 0x5,
  kExclusiveAccessRegistrantsOnly = 0x6,
  kWriteExclusiveAllRegistrants = 0x7,
  kExclusiveAccessAllRegistrants = 0x8,
};

// Scope is always LU_SCOPE (0). param_len is 24 for the basic parameter list.
Cdb PersistentReserveOut(PrOutAction action, PrType type,
                         uint32_t param_len = 24);
// The 24-byte basic PR OUT parameter list: reservation key, service action
// reservation key, APTPL (persist through power loss).
std::array<uint8_t, 24> PrOutParameterList(uint64_t key, uint64_t sa_key,
                                           bool aptpl = false);

}  // namespace mpio::scsi

#endif  // MPIO_ENGINE_SCSI_CDB_H_
