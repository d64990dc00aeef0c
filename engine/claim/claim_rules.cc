#include "engine/claim/claim_rules.h"

#include <fnmatch.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace mpio {
namespace {

bool GlobMatch(const std::string& pattern, const std::string& text) {
  return pattern.empty() ||
         fnmatch(pattern.c_str(), text.c_str(), FNM_CASEFOLD) == 0;
}

mpio_lun_info ToAbi(const LunInfo& lun) {
  mpio_lun_info info{};
  snprintf(info.vendor, sizeof(info.vendor), "%s", lun.inquiry.vendor.c_str());
  snprintf(info.product, sizeof(info.product), "%s",
           lun.inquiry.product.c_str());
  snprintf(info.revision, sizeof(info.revision), "%s",
           lun.inquiry.revision.c_str());
  info.tpgs = lun.inquiry.tpgs;
  info.inquiry = lun.inquiry_raw.data();
  info.inquiry_len = lun.inquiry_raw.size();
  info.vpd83 = lun.vpd83_raw.data();
  info.vpd83_len = lun.vpd83_raw.size();
  info.transport = "iscsi";
  return info;
}

// The LUN as the rule's SATP sees it at claim(): INQUIRY's TPGS, or 1
// (implicit ALUA) when the rule forces it on a TPGS=0 LUN.
mpio_lun_info ClaimView(const LunInfo& lun, const ClaimRule& rule) {
  mpio_lun_info info = ToAbi(lun);
  if (info.tpgs == 0 && ClaimRules::ForcesTpgs(rule.satp_options))
    info.tpgs = 1;
  return info;
}

std::string ForcedNote(const LunInfo& lun, const ClaimRule& rule) {
  return lun.inquiry.tpgs == 0 && ClaimRules::ForcesTpgs(rule.satp_options)
             ? " (tpgs=forced: claimed as ALUA although INQUIRY says TPGS=0)"
             : "";
}

}  // namespace

bool ClaimRules::ForcesTpgs(const std::string& satp_options) {
  for (absl::string_view item :
       absl::StrSplit(satp_options, absl::ByAnyChar(";,"))) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(kv.first), "tpgs") &&
        absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(kv.second), "forced"))
      return true;
  }
  return false;
}

absl::Status ClaimRules::Add(ClaimRule rule) {
  if (rule.id <= 0)
    return absl::InvalidArgumentError("claim rule number must be positive");
  if (rule.satp.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("claim rule ", rule.id, ": no SATP given"));
  }
  for (const auto& r : rules_) {
    if (r.id == rule.id) {
      return absl::AlreadyExistsError(
          absl::StrCat("claim rule ", rule.id,
                       " exists; remove it first or pick another number"));
    }
  }
  rules_.push_back(std::move(rule));
  std::sort(rules_.begin(), rules_.end(),
            [](auto& a, auto& b) { return a.id < b.id; });
  return absl::OkStatus();
}

absl::Status ClaimRules::Remove(int id) {
  auto it = std::find_if(rules_.begin(), rules_.end(),
                         [&](auto& r) { return r.id == id; });
  if (it == rules_.end())
    return absl::NotFoundError(absl::StrCat("no claim rule ", id));
  rules_.erase(it);
  return absl::OkStatus();
}

bool ClaimRules::Matches(const ClaimRule& r, const LunInfo& lun) const {
  return GlobMatch(r.vendor, lun.inquiry.vendor) &&
         GlobMatch(r.model, lun.inquiry.product) &&
         GlobMatch(r.identity, lun.identity) &&
         (r.transport.empty() || r.transport == "iscsi");
}

ClaimDecision ClaimRules::Decide(const LunInfo& lun,
                                 const PluginRegistry& plugins) const {
  ClaimDecision d;
  auto try_satp = [&](const std::string& satp, const mpio_lun_info& info,
                      std::string* why) {
    const LoadedPlugin* p = plugins.Find(MPIO_PLUGIN_SATP, satp);
    if (p == nullptr) {
      *why = absl::StrCat("SATP ", satp, " is not loaded");
      return false;
    }
    char buf[256] = {0};
    if (p->ops.claim(&info, buf, sizeof(buf)) != 1) {
      *why = absl::StrCat("SATP ", p->ops.name,
                          " refused: ", buf[0] ? buf : "no reason");
      return false;
    }
    return true;
  };
  for (const auto& r : rules_) {
    if (!Matches(r, lun)) continue;
    std::string why;
    if (!try_satp(r.satp, ClaimView(lun, r), &why)) {
      d.skipped.push_back(absl::StrCat("rule ", r.id, ": ", why));
      continue;
    }
    d.satp = r.satp;
    d.satp_options = r.satp_options;
    d.psp = r.psp.empty() ? kDefaultPsp : r.psp;
    d.psp_options = r.psp.empty() ? kDefaultPspOptions : r.psp_options;
    d.rule_id = r.id;
    d.reason = absl::StrCat("rule ", r.id, r.description.empty() ? "" : " (",
                            r.description, r.description.empty() ? "" : ")",
                            ForcedNote(lun, r));
    return d;
  }
  std::string why;
  if (lun.inquiry.tpgs != 0 && try_satp("alua", ToAbi(lun), &why)) {
    d.satp = "alua";
    d.reason = absl::StrCat(
        "default: INQUIRY reports TPGS=", int{lun.inquiry.tpgs}, " (ALUA)");
  } else {
    if (lun.inquiry.tpgs != 0)
      d.skipped.push_back(absl::StrCat("default ALUA: ", why));
    d.satp = "default_aa";
    d.reason = lun.inquiry.tpgs == 0
                   ? "default: no ALUA (TPGS=0), all paths active"
                   : "default: ALUA SATP unavailable, all paths active";
  }
  d.psp = kDefaultPsp;
  d.psp_options = kDefaultPspOptions;
  return d;
}

std::vector<std::string> ClaimRules::Explain(
    const LunInfo& lun, const PluginRegistry& plugins) const {
  std::vector<std::string> out;
  bool chosen = false;
  auto mismatch = [](const char* what, const std::string& pattern,
                     const std::string& value) {
    return absl::StrCat(what, " '", value, "' does not match '", pattern, "'");
  };
  for (const auto& r : rules_) {
    std::string head =
        absl::StrCat("rule ", r.id, r.description.empty() ? "" : " (",
                     r.description, r.description.empty() ? "" : ")", ": ");
    if (!GlobMatch(r.vendor, lun.inquiry.vendor)) {
      out.push_back(head + "skipped: " +
                    mismatch("vendor", r.vendor, lun.inquiry.vendor));
      continue;
    }
    if (!GlobMatch(r.model, lun.inquiry.product)) {
      out.push_back(
          head + "skipped: " + mismatch("model", r.model, lun.inquiry.product));
      continue;
    }
    if (!GlobMatch(r.identity, lun.identity)) {
      out.push_back(
          head + "skipped: " + mismatch("identity", r.identity, lun.identity));
      continue;
    }
    if (!r.transport.empty() && r.transport != "iscsi") {
      out.push_back(head + "skipped: transport " + r.transport +
                    " is not iscsi");
      continue;
    }
    const LoadedPlugin* p = plugins.Find(MPIO_PLUGIN_SATP, r.satp);
    if (p == nullptr) {
      out.push_back(head + "matched, but SATP " + r.satp +
                    " is not loaded: next rule");
      continue;
    }
    char why[256] = {0};
    const mpio_lun_info info = ClaimView(lun, r);
    if (p->ops.claim(&info, why, sizeof(why)) != 1) {
      out.push_back(head + "matched, but SATP " + p->ops.name +
                    " refused: " + why + ": next rule");
      continue;
    }
    out.push_back(
        head + (chosen
                    ? "matched, SATP accepts, but an earlier rule won"
                    : absl::StrCat("matched, SATP ", p->ops.name, " accepts",
                                   ForcedNote(lun, r), ": CHOSEN (PSP ",
                                   r.psp.empty() ? kDefaultPsp : r.psp, ")")));
    chosen = true;
  }
  if (!chosen) {
    ClaimDecision d = Decide(lun, plugins);
    out.push_back(absl::StrCat("built-in default: ", d.reason, ": SATP ",
                               d.satp, ", PSP ", d.psp, " ", d.psp_options,
                               ": CHOSEN"));
  }
  return out;
}

}  // namespace mpio
