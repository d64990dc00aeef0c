// REPORT TARGET PORT GROUPS parameter data parser (SPC-4 6.36), both the
// length-only header and the extended header (format type 001b).
//
// Pure function, any thread. Data cut short by the allocation length is not
// an error: complete descriptors are returned, `truncated` is set and
// `needed_alloc_len` says how much to ask for. A descriptor that runs past
// RETURN DATA LENGTH is malformed: InvalidArgument naming the descriptor.
#ifndef MPIO_ENGINE_SCSI_RTPG_H_
#define MPIO_ENGINE_SCSI_RTPG_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"

namespace mpio::scsi {

// Asymmetric access states (SPC-4 table 166); the same values as
// enum mpio_alua_state in the plugin ABI.
inline constexpr uint8_t kAluaActiveOptimized = 0x0;
inline constexpr uint8_t kAluaActiveNonOptimized = 0x1;
inline constexpr uint8_t kAluaStandby = 0x2;
inline constexpr uint8_t kAluaUnavailable = 0x3;
inline constexpr uint8_t kAluaLbaDependent = 0x4;
inline constexpr uint8_t kAluaOffline = 0xE;
inline constexpr uint8_t kAluaTransitioning = 0xF;

struct PortGroup {
  uint8_t asymmetric_access_state = 0;  // bits 3:0 of byte 0
  bool pref = false;
  // Supported states (byte 1).
  bool t_sup = false;    // transitioning
  bool o_sup = false;    // offline
  bool lbd_sup = false;  // LBA dependent
  bool u_sup = false;    // unavailable
  bool s_sup = false;    // standby
  bool an_sup = false;   // active/non-optimized
  bool ao_sup = false;   // active/optimized
  uint16_t target_port_group = 0;
  uint8_t status_code = 0;  // 0 none, 1 changed by STPG, 2 implicit change
  uint8_t vendor_specific = 0;
  std::vector<uint16_t> relative_port_ids;
};

struct PortGroups {
  bool extended = false;                 // extended header was returned
  uint8_t implicit_transition_time = 0;  // seconds, 0 = not reported
  std::vector<PortGroup> groups;
  bool truncated = false;
  uint32_t needed_alloc_len = 0;  // 4 + RETURN DATA LENGTH
};

absl::StatusOr<PortGroups> ParseReportTargetPortGroups(
    std::span<const uint8_t> data);

// "active/optimized", "active/non-optimized", "standby", "unavailable",
// "lba-dependent", "offline", "transitioning", "reserved".
const char* AluaStateName(uint8_t state);
// ESXi's short names: "AO", "ANO", "STBY", "UNAV", "LBD", "OFFL", "TRAN".
const char* AluaStateShortName(uint8_t state);

}  // namespace mpio::scsi

#endif  // MPIO_ENGINE_SCSI_RTPG_H_
