// Vital product data page parsers (SPC-4 7.8, SBC-3 6.6) and the LUN
// identity derived from them.
//
// Pure functions, any thread; results own their bytes. Each parser checks
// the page code and that PAGE LENGTH fits in the bytes received (a page cut
// short by a small allocation length is an error: re-read with the length
// the header asks for, see VpdPageLength). Malformed input returns
// InvalidArgument naming the field.
#ifndef MPIO_ENGINE_SCSI_VPD_H_
#define MPIO_ENGINE_SCSI_VPD_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mpio::scsi {

inline constexpr uint8_t kVpdSupportedPages = 0x00;
inline constexpr uint8_t kVpdUnitSerial = 0x80;
inline constexpr uint8_t kVpdDeviceIdentification = 0x83;
inline constexpr uint8_t kVpdBlockLimits = 0xB0;
inline constexpr uint8_t kVpdLogicalBlockProvisioning = 0xB2;

// Total size of a VPD page (4-byte header + PAGE LENGTH) from its first 4
// bytes: the allocation length that reads all of it.
absl::StatusOr<uint32_t> VpdPageLength(std::span<const uint8_t> data);

absl::StatusOr<std::vector<uint8_t>> ParseSupportedVpdPages(
    std::span<const uint8_t> data);

// Serial number with leading and trailing blanks removed.
absl::StatusOr<std::string> ParseUnitSerial(std::span<const uint8_t> data);

// Designator types (SPC-4 table 459), associations (table 458).
enum DesignatorType : uint8_t {
  kDesignatorVendorSpecific = 0x0,
  kDesignatorT10VendorId = 0x1,
  kDesignatorEui64 = 0x2,
  kDesignatorNaa = 0x3,
  kDesignatorRelativeTargetPort = 0x4,
  kDesignatorTargetPortGroup = 0x5,
  kDesignatorLogicalUnitGroup = 0x6,
  kDesignatorMd5 = 0x7,
  kDesignatorScsiName = 0x8,
};
enum DesignatorAssociation : uint8_t {
  kAssociationLun = 0x0,
  kAssociationTargetPort = 0x1,
  kAssociationTargetDevice = 0x2,
};

struct Designator {
  uint8_t association = 0;  // byte 1 bits 5:4
  uint8_t type = 0;         // byte 1 bits 3:0
  uint8_t code_set = 0;     // byte 0 bits 3:0: 1 binary, 2 ASCII, 3 UTF-8
  bool piv = false;         // byte 1 bit 7: protocol_id is valid
  uint8_t protocol_id = 0;  // byte 0 bits 7:4 (5 = iSCSI)
  std::vector<uint8_t> id;

  bool operator==(const Designator&) const = default;
};

absl::StatusOr<std::vector<Designator>> ParseDeviceIdentification(
    std::span<const uint8_t> data);

// The LU's identity in ESXi's spelling, from association-0 designators,
// best first: NAA registered extended (6) > NAA registered (5) > other NAA >
// EUI-64 > SCSI name string > T10 vendor id. "naa.<hex>", "eui.<hex>",
// "name.<string>", "t10.<ascii, blanks as _>". "" when there is none.
std::string LunIdentity(std::span<const Designator> designators);

// TARGET PORT GROUP (type 5) and RELATIVE TARGET PORT (type 4) designators
// of the target port (association 1) the command came through.
std::optional<uint16_t> TargetPortGroup(
    std::span<const Designator> designators);
std::optional<uint16_t> RelativeTargetPortId(
    std::span<const Designator> designators);

// Block limits (0xB0). Fields the page is too short to carry read as 0,
// which SBC-3 defines as "not reported" (older targets send 0x0C bytes).
struct BlockLimits {
  uint16_t optimal_transfer_length_granularity = 0;  // blocks
  uint32_t max_transfer_length = 0;                  // blocks
  uint32_t optimal_transfer_length = 0;              // blocks
  uint32_t max_unmap_lba_count = 0;
  uint32_t max_unmap_block_descriptor_count = 0;
  uint32_t optimal_unmap_granularity = 0;  // "unmap granularity", blocks
  bool unmap_granularity_alignment_valid = false;
  uint32_t unmap_granularity_alignment = 0;
  uint64_t max_write_same_length = 0;  // blocks
};
absl::StatusOr<BlockLimits> ParseBlockLimits(std::span<const uint8_t> data);

// Logical block provisioning (0xB2).
struct LogicalBlockProvisioning {
  uint8_t threshold_exponent = 0;
  bool lbpu = false;     // UNMAP supported
  bool lbpws = false;    // WRITE SAME(16) with UNMAP supported
  bool lbpws10 = false;  // WRITE SAME(10) with UNMAP supported
  uint8_t lbprz = 0;     // bits 4:2; nonzero: unmapped blocks read as zero
  bool anc_sup = false;
  bool dp = false;
  uint8_t provisioning_type = 0;  // 0 full, 1 resource, 2 thin
};
absl::StatusOr<LogicalBlockProvisioning> ParseLogicalBlockProvisioning(
    std::span<const uint8_t> data);

}  // namespace mpio::scsi

#endif  // MPIO_ENGINE_SCSI_VPD_H_
