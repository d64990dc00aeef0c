// ClaimRules with the real satp_alua.so / satp_default_aa.so: a rule whose
// SATP refuses the LUN never hides it, and `tpgs=forced` claims a TPGS=0
// LUN with the ALUA SATP.
#include "engine/claim/claim_rules.h"

#include <doctest/doctest.h>

#include <string>

#include "absl/strings/match.h"

namespace mpio {
namespace {

struct Fixture {
  PluginRegistry plugins;
  ClaimRules rules;
  LunInfo lun;
  Fixture() {
    plugins.set_trial_timeout(absl::ZeroDuration());
    for (const char* so : {"satp_alua.so", "satp_default_aa.so"}) {
      absl::Status s =
          plugins.LoadFile(std::string(MPIO_PLUGIN_BUILD_DIR) + "/" + so);
      REQUIRE_MESSAGE(s.ok(), s.message());
    }
    lun.inquiry.vendor = "TrueNAS";
    lun.inquiry.product = "iSCSI Disk";
    lun.identity = "naa.6589cfc000000aaa";
  }
  ClaimRule Rule(int id, std::string satp, std::string options = "") {
    ClaimRule r;
    r.id = id;
    r.vendor = "TrueNAS";
    r.satp = std::move(satp);
    r.satp_options = std::move(options);
    return r;
  }
};

bool Has(const std::vector<std::string>& v, const std::string& part) {
  for (const auto& s : v) {
    if (absl::StrContains(s, part)) return true;
  }
  return false;
}

TEST_CASE("ALUA rule on a TPGS=0 LUN: refused, named, default applies") {
  Fixture f;
  REQUIRE(f.rules.Add(f.Rule(100, "VMW_SATP_ALUA")).ok());
  ClaimDecision d = f.rules.Decide(f.lun, f.plugins);
  CHECK(d.satp == "default_aa");
  CHECK(d.rule_id == -1);
  REQUIRE(d.skipped.size() == 1);
  CHECK(d.skipped[0] ==
        "rule 100: SATP alua refused: TPGS is 0 in INQUIRY: the target does "
        "not report ALUA support");
  auto steps = f.rules.Explain(f.lun, f.plugins);
  CHECK(Has(steps, "rule 100: matched, but SATP alua refused: TPGS is 0"));
  CHECK(Has(steps, "built-in default: default: no ALUA (TPGS=0)"));
}

TEST_CASE("refused rule: the next matching rule wins") {
  Fixture f;
  REQUIRE(f.rules.Add(f.Rule(100, "alua")).ok());
  REQUIRE(f.rules.Add(f.Rule(200, "VMW_SATP_DEFAULT_AA")).ok());
  ClaimDecision d = f.rules.Decide(f.lun, f.plugins);
  CHECK(d.rule_id == 200);
  CHECK(d.satp == "VMW_SATP_DEFAULT_AA");
  CHECK(Has(d.skipped, "rule 100: SATP alua refused"));
}

TEST_CASE("tpgs=forced claims a TPGS=0 LUN with the ALUA SATP, saying so") {
  Fixture f;
  REQUIRE(f.rules.Add(f.Rule(100, "alua", "retries=3;tpgs=forced")).ok());
  ClaimDecision d = f.rules.Decide(f.lun, f.plugins);
  CHECK(d.rule_id == 100);
  CHECK(d.satp == "alua");
  CHECK(d.satp_options == "retries=3;tpgs=forced");
  CHECK(d.skipped.empty());
  CHECK(absl::StrContains(
      d.reason, "tpgs=forced: claimed as ALUA although INQUIRY says TPGS=0"));
  CHECK(Has(f.rules.Explain(f.lun, f.plugins),
            "rule 100: matched, SATP alua accepts (tpgs=forced"));
  // The options reach create() as they are: the SATP accepts them.
  CHECK(f.plugins.Create(MPIO_PLUGIN_SATP, d.satp, d.satp_options).ok());

  SUBCASE("on a LUN that reports ALUA itself, nothing is forced") {
    f.lun.inquiry.tpgs = 1;
    ClaimDecision a = f.rules.Decide(f.lun, f.plugins);
    CHECK(a.satp == "alua");
    CHECK(!absl::StrContains(a.reason, "forced"));
  }
}

TEST_CASE("ForcesTpgs parses the option, in any case, with blanks") {
  CHECK(ClaimRules::ForcesTpgs("tpgs=forced"));
  CHECK(ClaimRules::ForcesTpgs("retries=2, TPGS = Forced ;x=1"));
  CHECK(!ClaimRules::ForcesTpgs(""));
  CHECK(!ClaimRules::ForcesTpgs("tpgs=1"));
  CHECK(!ClaimRules::ForcesTpgs("tpgs_forced=1"));
  CHECK(!ClaimRules::ForcesTpgs("mytpgs=forced"));
}

}  // namespace
}  // namespace mpio
