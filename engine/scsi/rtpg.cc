#include "engine/scsi/rtpg.h"

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "engine/scsi/bytes.h"

namespace mpio::scsi {

absl::StatusOr<PortGroups> ParseReportTargetPortGroups(
    std::span<const uint8_t> data) {
  if (data.size() < 4) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "REPORT TARGET PORT GROUPS data is %d bytes; the header needs 4",
        data.size()));
  }
  PortGroups out;
  uint32_t return_len = internal::Be32(data, 0);
  out.needed_alloc_len =
      return_len > 0xFFFFFFFFu - 4 ? 0xFFFFFFFFu : return_len + 4;
  // The parsed region: the declared data, or what arrived if less.
  size_t end = data.size();
  if (static_cast<uint64_t>(return_len) + 4 < end) end = return_len + 4;
  out.truncated = static_cast<uint64_t>(return_len) + 4 > data.size();
  size_t off = 4;
  // In the length-only format byte 4 is the first descriptor's byte 0,
  // whose bits 6:4 are reserved (0); the extended header puts 001b there.
  uint8_t format = end > 4 ? (data[4] >> 4) & 0x7 : 0;
  if (format == 1 && end < 8) {
    if (out.truncated) {  // cut by the allocation length: ask for more
      out.extended = true;
      return out;
    }
    return absl::InvalidArgumentError(absl::StrFormat(
        "REPORT TARGET PORT GROUPS: extended header (FORMAT TYPE 1) cut "
        "short at %d of 8 bytes",
        end));
  }
  if (format == 1) {
    out.extended = true;
    out.implicit_transition_time = data[5];
    off = 8;
  } else if (format != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "REPORT TARGET PORT GROUPS: FORMAT TYPE %d is unknown", format));
  }
  while (off < end) {
    if (end - off < 8) {
      if (out.truncated) break;  // cut by the allocation length
      return absl::InvalidArgumentError(absl::StrFormat(
          "REPORT TARGET PORT GROUPS: descriptor %d at offset %d has %d of "
          "its 8 header bytes within RETURN DATA LENGTH",
          out.groups.size(), off, end - off));
    }
    size_t count = data[off + 7];
    if (end - off - 8 < 4 * count) {
      if (out.truncated) break;
      return absl::InvalidArgumentError(absl::StrFormat(
          "REPORT TARGET PORT GROUPS: descriptor %d (TPG %d) has TARGET PORT "
          "COUNT %d but only %d bytes remain",
          out.groups.size(), internal::Be16(data, off + 2), count,
          end - off - 8));
    }
    PortGroup g;
    g.pref = (data[off] & 0x80) != 0;
    g.asymmetric_access_state = data[off] & 0x0F;
    uint8_t sup = data[off + 1];
    g.t_sup = (sup & 0x80) != 0;
    g.o_sup = (sup & 0x40) != 0;
    g.lbd_sup = (sup & 0x10) != 0;
    g.u_sup = (sup & 0x08) != 0;
    g.s_sup = (sup & 0x04) != 0;
    g.an_sup = (sup & 0x02) != 0;
    g.ao_sup = (sup & 0x01) != 0;
    g.target_port_group = internal::Be16(data, off + 2);
    g.status_code = data[off + 5];
    g.vendor_specific = data[off + 6];
    g.relative_port_ids.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      g.relative_port_ids.push_back(internal::Be16(data, off + 8 + 4 * i + 2));
    }
    out.groups.push_back(std::move(g));
    off += 8 + 4 * count;
  }
  return out;
}

const char* AluaStateName(uint8_t state) {
  switch (state) {
    case kAluaActiveOptimized:
      return "active/optimized";
    case kAluaActiveNonOptimized:
      return "active/non-optimized";
    case kAluaStandby:
      return "standby";
    case kAluaUnavailable:
      return "unavailable";
    case kAluaLbaDependent:
      return "lba-dependent";
    case kAluaOffline:
      return "offline";
    case kAluaTransitioning:
      return "transitioning";
    default:
      return "reserved";
  }
}

const char* AluaStateShortName(uint8_t state) {
  switch (state) {
    case kAluaActiveOptimized:
      return "AO";
    case kAluaActiveNonOptimized:
      return "ANO";
    case kAluaStandby:
      return "STBY";
    case kAluaUnavailable:
      return "UNAV";
    case kAluaLbaDependent:
      return "LBD";
    case kAluaOffline:
      return "OFFL";
    case kAluaTransitioning:
      return "TRAN";
    default:
      return "RSVD";
  }
}

}  // namespace mpio::scsi
