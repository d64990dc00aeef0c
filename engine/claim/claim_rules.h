// ClaimRules: which SATP and PSP drive a device, like ESXi's
// `esxcli storage nmp satp rule add -V vendor -M model -s SATP -P PSP -O opts`.
//
// Rules are matched in ascending rule number; vendor/model are
// case-insensitive shell globs ("TrueNAS", "iSCSI*"), empty matches anything.
// A matching rule whose SATP refuses the device (e.g. ALUA on a target that
// reports TPGS=0) never hides it: the refusal is recorded and matching goes
// on to the next rule, and finally to the built-in defaults.
//
// One claim option is the rules' own: satp_options `tpgs=forced` (ESXi has
// tpgs_on/tpgs_off; this is "ALUA even though INQUIRY says TPGS=0", for
// targets such as istgt that answer REPORT TARGET PORT GROUPS anyway). Such
// a rule asks its SATP's claim() as if INQUIRY reported TPGS=1 (implicit),
// and the option reaches the SATP's create() unchanged (the alua SATP then
// treats a path whose RTPG is refused as not ALUA, all paths active). The
// decision's reason says the TPGS was forced.
// Threads: not thread-safe; the engine guards it.
#ifndef MPIO_ENGINE_CLAIM_CLAIM_RULES_H_
#define MPIO_ENGINE_CLAIM_CLAIM_RULES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/claim/plugin_registry.h"
#include "engine/path/lun_probe.h"

namespace mpio {

struct ClaimRule {
  int id = 0;
  std::string vendor, model, identity;  // globs; empty = any
  std::string transport = "iscsi";
  std::string satp, satp_options;
  std::string psp, psp_options;  // empty: the SATP's default PSP
  std::string description;
};

struct ClaimDecision {
  std::string satp, satp_options, psp, psp_options;
  int rule_id = -1;    // -1: built-in default
  std::string reason;  // "rule 100 (vendor TrueNAS)" / "default: ..."
  std::vector<std::string> skipped;  // why earlier matches did not apply
};

class ClaimRules {
 public:
  absl::Status Add(ClaimRule rule);
  absl::Status Remove(int id);
  const std::vector<ClaimRule>& rules() const { return rules_; }

  // Picks SATP and PSP for a LUN, asking each candidate SATP's claim().
  ClaimDecision Decide(const LunInfo& lun, const PluginRegistry& plugins) const;
  // Every rule in order, with what it did for this LUN: "matched, SATP x
  // accepts: chosen", "skipped: vendor 'TrueNAS' does not match 'Pure*'",
  // "matched, but SATP alua refused: TPGS is 0 ...", then the default.
  std::vector<std::string> Explain(const LunInfo& lun,
                                   const PluginRegistry& plugins) const;
  bool Matches(const ClaimRule& rule, const LunInfo& lun) const;
  // True when `satp_options` holds tpgs=forced (keys and value in any case).
  static bool ForcesTpgs(const std::string& satp_options);

  // Defaults when no rule applies: ALUA arrays get the ALUA SATP; all others
  // the active/active one. Both use round robin with iops=1, what array
  // vendors (TrueNAS, Pure, NetApp) tell ESXi users to set instead of
  // ESXi's FIXED/MRU, which leaves all but one link idle.
  static constexpr const char* kDefaultPsp = "rr";
  static constexpr const char* kDefaultPspOptions = "policy=iops;iops=1";

 private:
  std::vector<ClaimRule> rules_;  // sorted by id
};

}  // namespace mpio

#endif  // MPIO_ENGINE_CLAIM_CLAIM_RULES_H_
