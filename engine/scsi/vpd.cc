#include "engine/scsi/vpd.h"

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "engine/base/status_macros.h"
#include "engine/scsi/bytes.h"

namespace mpio::scsi {
namespace {

using internal::Be16;
using internal::Be32;
using internal::Be64;

// The page's payload (after the 4-byte header), checked against the page
// code and against the bytes received.
absl::StatusOr<std::span<const uint8_t>> Payload(std::span<const uint8_t> data,
                                                 uint8_t page) {
  if (data.size() < 4) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "VPD page 0x%02x: %d bytes, the header needs 4", page, data.size()));
  }
  if (data[1] != page) {
    return absl::InvalidArgumentError(
        absl::StrFormat("VPD page 0x%02x: PAGE CODE is 0x%02x", page, data[1]));
  }
  size_t len = Be16(data, 2);
  if (4 + len > data.size()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "VPD page 0x%02x: PAGE LENGTH %d exceeds the %d bytes received; "
        "re-read with allocation length %d",
        page, len, data.size() - 4, 4 + len));
  }
  return data.subspan(4, len);
}

std::string Hex(std::span<const uint8_t> b) {
  std::string out;
  for (uint8_t x : b) absl::StrAppendFormat(&out, "%02x", x);
  return out;
}

// Printable ASCII with blanks and anything unprintable as '_', cut at the
// first NUL, trailing blanks dropped first (ESXi's t10./name. spelling).
std::string Underscored(std::span<const uint8_t> b) {
  std::string s;
  for (uint8_t x : b) {
    if (x == 0) break;
    s.push_back(static_cast<char>(x));
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  for (char& c : s) {
    if (c <= ' ' || c >= 0x7F) c = '_';
  }
  return s;
}

// Rank of a designator as a LUN identity; 0 = not usable.
int Rank(const Designator& d) {
  if (d.association != kAssociationLun || d.id.empty()) return 0;
  switch (d.type) {
    case kDesignatorNaa: {
      uint8_t naa = d.id[0] >> 4;
      if (naa == 6) return 6;
      if (naa == 5) return 5;
      return 4;
    }
    case kDesignatorEui64:
      return 3;
    case kDesignatorScsiName:
      return 2;
    case kDesignatorT10VendorId:
      return 1;
    default:
      return 0;
  }
}

std::optional<uint16_t> PortDesignator(std::span<const Designator> ds,
                                       uint8_t type) {
  for (const auto& d : ds) {
    if (d.association == kAssociationTargetPort && d.type == type &&
        d.id.size() >= 4) {
      return Be16(d.id, 2);
    }
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<uint32_t> VpdPageLength(std::span<const uint8_t> data) {
  if (data.size() < 4) {
    return absl::InvalidArgumentError(
        absl::StrFormat("VPD page: %d bytes, the header needs 4", data.size()));
  }
  return 4u + Be16(data, 2);
}

absl::StatusOr<std::vector<uint8_t>> ParseSupportedVpdPages(
    std::span<const uint8_t> data) {
  ASSIGN_OR_RETURN(auto p, Payload(data, kVpdSupportedPages));
  return std::vector<uint8_t>(p.begin(), p.end());
}

absl::StatusOr<std::string> ParseUnitSerial(std::span<const uint8_t> data) {
  ASSIGN_OR_RETURN(auto p, Payload(data, kVpdUnitSerial));
  std::string s;
  for (uint8_t b : p) {
    if (b == 0) break;
    s.push_back(b >= 0x20 && b < 0x7F ? static_cast<char>(b) : '?');
  }
  size_t first = s.find_first_not_of(' ');
  if (first == std::string::npos) return std::string();
  size_t last = s.find_last_not_of(' ');
  return s.substr(first, last - first + 1);
}

absl::StatusOr<std::vector<Designator>> ParseDeviceIdentification(
    std::span<const uint8_t> data) {
  ASSIGN_OR_RETURN(auto p, Payload(data, kVpdDeviceIdentification));
  std::vector<Designator> out;
  size_t off = 0;
  while (off < p.size()) {
    if (p.size() - off < 4) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "VPD page 0x83: designator %d at offset %d has a header cut short "
          "(%d of 4 bytes)",
          out.size(), off + 4, p.size() - off));
    }
    size_t len = p[off + 3];
    if (len > p.size() - off - 4) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "VPD page 0x83: designator %d at offset %d: DESIGNATOR LENGTH %d "
          "runs past the page end (%d bytes left)",
          out.size(), off + 4, len, p.size() - off - 4));
    }
    Designator d;
    d.protocol_id = p[off] >> 4;
    d.code_set = p[off] & 0x0F;
    d.piv = (p[off + 1] & 0x80) != 0;
    d.association = (p[off + 1] >> 4) & 0x3;
    d.type = p[off + 1] & 0x0F;
    auto id = p.subspan(off + 4, len);
    d.id.assign(id.begin(), id.end());
    out.push_back(std::move(d));
    off += 4 + len;
  }
  return out;
}

std::string LunIdentity(std::span<const Designator> designators) {
  const Designator* best = nullptr;
  int best_rank = 0;
  for (const auto& d : designators) {
    int r = Rank(d);
    if (r > best_rank) {  // strict: the first of equal rank wins
      best = &d;
      best_rank = r;
    }
  }
  if (best == nullptr) return "";
  switch (best->type) {
    case kDesignatorNaa:
      return "naa." + Hex(best->id);
    case kDesignatorEui64:
      return "eui." + Hex(best->id);
    case kDesignatorScsiName:
      return "name." + Underscored(best->id);
    default:
      return "t10." + Underscored(best->id);
  }
}

std::optional<uint16_t> TargetPortGroup(
    std::span<const Designator> designators) {
  return PortDesignator(designators, kDesignatorTargetPortGroup);
}

std::optional<uint16_t> RelativeTargetPortId(
    std::span<const Designator> designators) {
  return PortDesignator(designators, kDesignatorRelativeTargetPort);
}

absl::StatusOr<BlockLimits> ParseBlockLimits(std::span<const uint8_t> data) {
  ASSIGN_OR_RETURN(auto p, Payload(data, kVpdBlockLimits));
  // Offsets below are page offsets (header included), as in SBC-3 table 206.
  std::span<const uint8_t> page = data.first(4 + p.size());
  auto has = [&](size_t off, size_t n) { return off + n <= page.size(); };
  BlockLimits b;
  if (has(6, 2)) b.optimal_transfer_length_granularity = Be16(page, 6);
  if (has(8, 4)) b.max_transfer_length = Be32(page, 8);
  if (has(12, 4)) b.optimal_transfer_length = Be32(page, 12);
  if (has(20, 4)) b.max_unmap_lba_count = Be32(page, 20);
  if (has(24, 4)) b.max_unmap_block_descriptor_count = Be32(page, 24);
  if (has(28, 4)) b.optimal_unmap_granularity = Be32(page, 28);
  if (has(32, 4)) {
    b.unmap_granularity_alignment_valid = (page[32] & 0x80) != 0;
    b.unmap_granularity_alignment = Be32(page, 32) & 0x7FFFFFFF;
  }
  if (has(36, 8)) b.max_write_same_length = Be64(page, 36);
  return b;
}

absl::StatusOr<LogicalBlockProvisioning> ParseLogicalBlockProvisioning(
    std::span<const uint8_t> data) {
  ASSIGN_OR_RETURN(auto p, Payload(data, kVpdLogicalBlockProvisioning));
  if (p.size() < 3) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "VPD page 0xb2: PAGE LENGTH %d is too short for the LBPU/LBPWS and "
        "PROVISIONING TYPE fields (needs 3)",
        p.size()));
  }
  LogicalBlockProvisioning l;
  l.threshold_exponent = p[0];
  l.lbpu = (p[1] & 0x80) != 0;
  l.lbpws = (p[1] & 0x40) != 0;
  l.lbpws10 = (p[1] & 0x20) != 0;
  l.lbprz = (p[1] >> 2) & 0x7;
  l.anc_sup = (p[1] & 0x02) != 0;
  l.dp = (p[1] & 0x01) != 0;
  l.provisioning_type = p[2] & 0x07;
  return l;
}

}  // namespace mpio::scsi
