// VMW_SATP_ALUA: arrays with Asymmetric Logical Unit Access (SPC-4 5.15).
//
// claim: only LUNs whose INQUIRY reports TPGS != 0. Kept strict on purpose:
// a claim rule that names this SATP for a TPGS=0 LUN falls back to the next
// rule / default_aa with the reason shown (claim rules never hide a device).
// Some targets (istgt) answer REPORT TARGET PORT GROUPS while reporting
// TPGS=0: a claim rule with satp_options `tpgs=forced` makes the engine's
// claim rules (engine/claim/claim_rules.h) claim as if TPGS were 1, and
// reaches create() as the option `tpgs=forced`. In that mode a path whose
// RTPG is refused as unsupported (ILLEGAL REQUEST) is reported as not ALUA
// (all paths active, what default_aa would do) instead of "not understood",
// and describe() says so (rtpg=unsupported).
//
// probe: REPORT TARGET PORT GROUPS (extended header) on every path; the
// path's group is found by its TPG designator, else by its relative target
// port id, else it is the only group. The last reply's group states are
// kept in the instance (for activate and describe) with the implicit
// transition time.
//
// classify: ALUA codes first, then the common table:
//   04/0A transitioning       RETRY_DELAY 1 s, retries to cover the implicit
//                             transition time (60 s when not reported)
//   04/0B standby,            REPROBE: the port group's state decides
//   04/0C unavailable           whether the path carries I/O (a TUR on a
//                               standby port succeeds, so FAIL_PATH would
//                               flap)
//   UA 2A/06 state changed,   REPROBE
//   UA 2A/07 implicit failed
//
// activate: SET TARGET PORT GROUPS (make the TPG active/optimized) when
// explicit_allow=1 and the array supports explicit ALUA. The engine passes
// the INQUIRY TPGS as option `tpgs=N` (claim-time data does not reach
// create()); without it explicit support is "unknown" and STPG is tried. With
// followover=1 we do not fight an implicit transition: when another group is
// active/optimized because the array moved it (status code 2), no STPG.
//
// Instances are touched only from their device's reactor; no globals are
// mutable; every callback catches so no exception crosses the C ABI.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "engine/include/mpio/plugin.h"
#include "engine/scsi/cdb.h"
#include "engine/scsi/rtpg.h"
#include "engine/scsi/sense.h"
#include "plugins/satp/common/descriptors.h"
#include "plugins/satp/common/options.h"
#include "plugins/satp/common/sense_table.h"

namespace mpio_satp {
namespace {

namespace scsi = mpio::scsi;

constexpr uint32_t kRtpgAllocLen = 4096;
constexpr uint32_t kTransitionDelayMs = 1000;
constexpr uint32_t kDefaultTransitionBudgetS = 60;

struct KnownGroup {
  uint16_t tpg;
  uint8_t state;
  uint8_t status_code;
  bool pref;
};

struct Alua {
  RetryPolicy retry;
  bool explicit_allow = true;
  bool followover = true;
  int tpgs = -1;        // INQUIRY TPGS from the `tpgs` option; -1 unknown
  bool forced = false;  // tpgs=forced: ALUA although TPGS=0
  bool rtpg_unsupported = false;  // forced, and RTPG was refused
  uint8_t implicit_transition_time = 0;
  std::vector<KnownGroup> groups;  // from the last good RTPG
};

const char* OnOff(bool b) { return b ? "on" : "off"; }

void* Create(const char* options, char* err, size_t err_cap) {
  try {
    std::vector<opts::Option> parsed;
    if (!opts::ParseOptions(options,
                            {"explicit_allow", "followover", "tpgs", "retries",
                             "busy_delay_ms"},
                            &parsed, err, err_cap)) {
      return nullptr;
    }
    auto a = std::make_unique<Alua>();
    for (const auto& o : parsed) {
      bool used = false;
      if (!ApplyRetryOption(o, &a->retry, &used, err, err_cap)) return nullptr;
      if (used) continue;
      if (o.key == "explicit_allow") {
        if (!opts::ParseBool(o, &a->explicit_allow, err, err_cap)) {
          return nullptr;
        }
      } else if (o.key == "followover") {
        if (!opts::ParseBool(o, &a->followover, err, err_cap)) {
          return nullptr;
        }
      } else if (o.key == "tpgs" && absl::EqualsIgnoreCase(o.value, "forced")) {
        a->forced = true;  // explicit support unknown: tpgs stays -1
      } else if (o.key == "tpgs") {
        uint64_t v = 0;
        if (!opts::ParseUint(o, 0, 3, &v, err, err_cap)) return nullptr;
        a->tpgs = static_cast<int>(v);
      }
    }
    return a.release();
  } catch (...) {
    opts::WriteError(err, err_cap, "out of memory");
    return nullptr;
  }
}

void Destroy(void* instance) { delete static_cast<Alua*>(instance); }

size_t Describe(void* instance, char* buf, size_t cap) {
  try {
    const auto* a = static_cast<const Alua*>(instance);
    auto support = [&](int bit) -> std::string {
      return a->tpgs < 0 ? "unknown" : OnOff((a->tpgs & bit) != 0);
    };
    std::string text = absl::StrFormat(
        "{implicit_support=%s,explicit_support=%s,explicit_allow=%s,"
        "alua_followover=%s,retries=%d%s%s",
        support(1), support(2), OnOff(a->explicit_allow), OnOff(a->followover),
        a->retry.retries, a->forced ? ",tpgs=forced" : "",
        a->rtpg_unsupported ? ",rtpg=unsupported" : "");
    for (const auto& g : a->groups) {
      absl::StrAppendFormat(&text, ",{TPG_id=%d,TPG_state=%s}", g.tpg,
                            scsi::AluaStateShortName(g.state));
    }
    text += "}";
    return opts::WriteText(text, buf, cap);
  } catch (...) {
    return opts::WriteText("", buf, cap);
  }
}

int Claim(const mpio_lun_info* lun, char* why, size_t why_cap) {
  if (lun == nullptr) {
    opts::WriteText("no LUN data", why, why_cap);
    return 0;
  }
  if (lun->tpgs == 0) {
    opts::WriteText(
        "TPGS is 0 in INQUIRY: the target does not report ALUA support", why,
        why_cap);
    return 0;
  }
  opts::WriteText("", why, why_cap);
  return 1;
}

void FillCdb(const scsi::Cdb& c, int direction, uint32_t transfer_len,
             mpio_scsi_cdb* out) {
  std::memset(out, 0, sizeof(*out));
  std::memcpy(out->cdb, c.bytes.data(), c.len);
  out->cdb_len = c.len;
  out->data_direction = direction;
  out->transfer_len = transfer_len;
}

int ProbeCommand(void* /*instance*/, mpio_scsi_cdb* out) {
  if (out == nullptr) return 0;
  FillCdb(scsi::ReportTargetPortGroups(kRtpgAllocLen, /*extended=*/true), 1,
          kRtpgAllocLen, out);
  return 1;
}

void Reason(mpio_satp_path_state* out, const std::string& text) {
  std::snprintf(out->reason, sizeof(out->reason), "%s", text.c_str());
}

bool ValidState(uint8_t s) {
  return s <= scsi::kAluaLbaDependent || s == scsi::kAluaOffline ||
         s == scsi::kAluaTransitioning;
}

int ProbeFailed(int scsi_status, std::span<const uint8_t> sense,
                mpio_satp_path_state* out) {
  std::string what = scsi::StatusName(static_cast<uint8_t>(scsi_status));
  // No RTPG support reads as "not ALUA" (all paths equal); anything else
  // (UA after a state change, busy, transitioning) means "not known yet".
  out->alua_state = MPIO_ALUA_TRANSITIONING;
  if (scsi_status == scsi::kStatusCheckCondition) {
    auto s = scsi::ParseSense(sense);
    if (s.ok()) {
      what = scsi::SenseText(*s);
      if (s->key == scsi::kSenseIllegalRequest)
        out->alua_state = MPIO_ALUA_NONE;
    }
  }
  Reason(out, "REPORT TARGET PORT GROUPS failed: " + what);
  return -1;
}

int ProbeResult(void* instance, const mpio_satp_path* path, int scsi_status,
                const uint8_t* data, size_t data_len, const uint8_t* sense,
                size_t sense_len, mpio_satp_path_state* out) {
  if (out == nullptr) return -1;
  try {
    auto* a = static_cast<Alua*>(instance);
    std::memset(out, 0, sizeof(*out));
    out->alua_state = MPIO_ALUA_NONE;
    out->target_port_group = path == nullptr ? -1 : path->target_port_group;
    if (path == nullptr) {
      Reason(out, "no path given");
      return -1;
    }
    if (scsi_status != scsi::kStatusGood) {
      int rc = ProbeFailed(scsi_status,
                           {sense, sense == nullptr ? 0 : sense_len}, out);
      if (a->forced && out->alua_state == MPIO_ALUA_NONE) {
        // Forced on a target without RTPG: fall back to all paths active,
        // saying why, rather than leave the path's state unknown.
        a->rtpg_unsupported = true;
        std::string why = out->reason;
        Reason(out, "tpgs=forced, but " + why + ": not ALUA, path active");
        return 0;
      }
      return rc;
    }
    a->rtpg_unsupported = false;
    auto parsed = scsi::ParseReportTargetPortGroups(
        {data, data == nullptr ? 0 : data_len});
    if (!parsed.ok()) {
      Reason(out,
             "RTPG reply malformed: " + std::string(parsed.status().message()));
      return -1;
    }
    a->implicit_transition_time = parsed->implicit_transition_time;
    a->groups.clear();
    for (const auto& g : parsed->groups) {
      a->groups.push_back({g.target_port_group, g.asymmetric_access_state,
                           g.status_code, g.pref});
    }
    const scsi::PortGroup* mine = nullptr;
    for (const auto& g : parsed->groups) {
      if (path->target_port_group >= 0 &&
          g.target_port_group == path->target_port_group) {
        mine = &g;
        break;
      }
    }
    for (const auto& g : parsed->groups) {
      if (mine != nullptr || path->relative_port_id < 0) break;
      if (std::find(g.relative_port_ids.begin(), g.relative_port_ids.end(),
                    path->relative_port_id) != g.relative_port_ids.end()) {
        mine = &g;
      }
    }
    if (mine == nullptr && parsed->groups.size() == 1 &&
        path->target_port_group < 0 && path->relative_port_id < 0) {
      mine = &parsed->groups[0];
    }
    if (mine == nullptr) {
      std::string ids;
      for (const auto& g : parsed->groups) {
        absl::StrAppendFormat(&ids, "%s%d", ids.empty() ? "" : ",",
                              g.target_port_group);
      }
      Reason(out, absl::StrFormat(
                      "path (TPG %d, relative port %d) is in none of the "
                      "port groups RTPG reported (%s)%s",
                      path->target_port_group, path->relative_port_id,
                      ids.empty() ? "none" : ids,
                      parsed->truncated ? "; reply truncated" : ""));
      return -1;
    }
    if (!ValidState(mine->asymmetric_access_state)) {
      Reason(out, absl::StrFormat("TPG %d reports reserved access state 0x%x",
                                  mine->target_port_group,
                                  mine->asymmetric_access_state));
      return -1;
    }
    out->alua_state = mine->asymmetric_access_state;
    out->target_port_group = mine->target_port_group;
    out->preferred = mine->pref ? 1 : 0;
    Reason(out,
           absl::StrFormat("TPG %d %s%s", mine->target_port_group,
                           scsi::AluaStateName(mine->asymmetric_access_state),
                           mine->pref ? ", preferred" : ""));
    return 0;
  } catch (...) {
    Reason(out, "alua: internal error while parsing RTPG");
    return -1;
  }
}

void Classify(void* instance, int scsi_status, const uint8_t* sense,
              size_t sense_len, const uint8_t* cdb, size_t cdb_len,
              mpio_sense_verdict* out) {
  try {
    const auto* a = static_cast<const Alua*>(instance);
    std::span<const uint8_t> sense_span(sense,
                                        sense == nullptr ? 0 : sense_len);
    if (scsi_status == scsi::kStatusCheckCondition) {
      auto s = scsi::ParseSense(sense_span);
      if (s.ok() && s->asc == 0x04 && s->ascq == 0x0A) {
        uint32_t budget_s = a->implicit_transition_time != 0
                                ? a->implicit_transition_time
                                : kDefaultTransitionBudgetS;
        uint32_t retries = budget_s * 1000 / kTransitionDelayMs;
        SetVerdict(out, MPIO_ACTION_RETRY_DELAY, kTransitionDelayMs,
                   retries == 0 ? 1 : retries, EIO, scsi::SenseText(*s));
        return;
      }
      if (s.ok() && ((s->asc == 0x04 && (s->ascq == 0x0B || s->ascq == 0x0C)) ||
                     (s->key == scsi::kSenseUnitAttention && s->asc == 0x2A &&
                      (s->ascq == 0x06 || s->ascq == 0x07)))) {
        SetVerdict(out, MPIO_ACTION_REPROBE, 0, a->retry.retries, EIO,
                   scsi::SenseText(*s));
        return;
      }
    }
    ClassifyCommon(a->retry, scsi_status, sense_span,
                   {cdb, cdb == nullptr ? 0 : cdb_len}, out);
  } catch (...) {
    SetVerdict(out, MPIO_ACTION_FAIL_IO, 0, 0, EIO,
               "alua: internal error while classifying");
  }
}

int ActivateCommand(void* instance, int32_t target_port_group,
                    mpio_scsi_cdb* out) {
  try {
    const auto* a = static_cast<const Alua*>(instance);
    if (out == nullptr || !a->explicit_allow) return 0;
    if (a->tpgs >= 0 && (a->tpgs & 2) == 0) return 0;
    if (target_port_group < 0 || target_port_group > 0xFFFF) return 0;
    for (const auto& g : a->groups) {
      if (g.tpg == target_port_group && g.state == scsi::kAluaActiveOptimized) {
        return 0;  // already there
      }
      if (a->followover && g.tpg != target_port_group &&
          g.state == scsi::kAluaActiveOptimized && g.status_code == 0x02) {
        return 0;  // the array moved it implicitly: follow, do not fight
      }
    }
    scsi::TpgStateRequest req[] = {
        {static_cast<uint16_t>(target_port_group), scsi::kAluaActiveOptimized}};
    auto params = scsi::SetTargetPortGroupsParameters(req);
    if (!params.ok() || params->size() > sizeof(out->data)) return 0;
    uint32_t n = static_cast<uint32_t>(params->size());
    FillCdb(scsi::SetTargetPortGroups(n), 2, n, out);
    std::memcpy(out->data, params->data(), n);
    return 1;
  } catch (...) {
    return 0;
  }
}

const char* const kAliases[] = {"VMW_SATP_ALUA", nullptr};

const mpio_plugin kPlugin = {
    .abi_version = MPIO_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(mpio_plugin),
    .kind = MPIO_PLUGIN_SATP,
    .name = "alua",
    .aliases = kAliases,
    .summary =
        "Arrays with ALUA (INQUIRY TPGS != 0): path states from "
        "REPORT TARGET PORT GROUPS, explicit activation by STPG",
    .options_help =
        "explicit_allow=0|1 (default 1); followover=0|1 "
        "(default 1); tpgs=0-3 (INQUIRY TPGS, set by the engine) or "
        "tpgs=forced (claim rule option: ALUA although INQUIRY says "
        "TPGS=0, for targets that answer RTPG anyway); "
        "retries=N (0-1000, default 10); busy_delay_ms=N "
        "(0-60000, default 100)",
    .create = Create,
    .destroy = Destroy,
    .describe = Describe,
    .claim = Claim,
    .probe_command = ProbeCommand,
    .probe_result = ProbeResult,
    .classify = Classify,
    .activate_command = ActivateCommand,
};

}  // namespace

const mpio_plugin* AluaDescriptor() { return &kPlugin; }

}  // namespace mpio_satp
