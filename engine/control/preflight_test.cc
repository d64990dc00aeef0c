#include "engine/control/preflight.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

namespace mpio::preflight {
namespace {

// Two paths as the lab builds them: each its own veth and /30, MTU 1500,
// unbound (which is fine: one subnet per path), no CHAP, default timers.
PathFacts LabPath(int i) {
  PathFacts p;
  p.id = "naa.6001:" + std::to_string(i);
  p.portal = "198.18.0." + std::to_string(4 * i + 2) + ":3261";
  p.state = "active";
  p.connected = true;
  p.local_interface = "mpl0p" + std::to_string(i + 1);
  p.local_address = "198.18.0." + std::to_string(4 * i + 1);
  p.prefix_len = 30;
  p.local_network = "198.18.0." + std::to_string(4 * i) + "/30";
  p.subnet_interfaces = {p.local_interface};
  p.mtu = 1500;
  p.mss = 1448;
  return p;
}

DeviceFacts Clean() {
  DeviceFacts d;
  d.identity = "naa.6001";
  d.satp = "default_aa";
  d.paths = {LabPath(0), LabPath(1)};
  return d;
}

std::vector<Finding> Only(const std::vector<Finding>& all,
                          const std::string& code) {
  std::vector<Finding> out;
  std::copy_if(all.begin(), all.end(), std::back_inserter(out),
               [&](const Finding& f) { return f.code == code; });
  return out;
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_CASE("a clean two-path setup has no findings") {
  const auto f = Check({Clean()});
  for (const auto& x : f) INFO(x.code << ": " << x.problem);
  CHECK(f.empty());
}

TEST_CASE("two paths through one interface: shared_interface with a bind fix") {
  DeviceFacts d = Clean();
  // Both leave through eth0 although the host has eth1 on that subnet too.
  for (auto& p : d.paths) {
    p.local_interface = "eth0";
    p.local_address = "198.18.0.1";
    p.local_network = "198.18.0.0/24";
    p.prefix_len = 24;
    p.subnet_interfaces = {"eth0", "eth1"};
  }
  const auto all = Check({d});
  const auto f = Only(all, "shared_interface");
  REQUIRE(f.size() == 1);
  CHECK(f[0].severity == Severity::kWarning);
  CHECK(f[0].device == "naa.6001");
  CHECK(Has(f[0].path, "naa.6001:0"));
  CHECK(Has(f[0].path, "naa.6001:1"));
  CHECK(Has(f[0].problem, "eth0"));
  CHECK(Has(f[0].fix, "--portal 198.18.0.2:3261%eth0"));
  CHECK(Has(f[0].fix, "--portal 198.18.0.6:3261%eth1"));
  CHECK(IsProblem(f[0]));
  // Same subnet, unbound: the binding rule fires too, with the same NICs.
  const auto s = Only(all, "same_subnet_unbound");
  REQUIRE(s.size() == 1);
  CHECK(Has(s[0].problem, "198.18.0.0/24"));
  CHECK(Has(s[0].fix, "%eth0"));
  CHECK(Has(s[0].fix, "%eth1"));
}

TEST_CASE("one subnet: bound paths are fine, an unbound one is named") {
  DeviceFacts d = Clean();
  d.paths[0].local_interface = "eth1";
  d.paths[1].local_interface = "eth2";
  for (auto& p : d.paths) {
    p.local_network = "10.0.0.0/24";
    p.subnet_interfaces = {"eth1", "eth2"};
  }
  d.paths[0].bound_interface = "eth1";
  d.paths[1].bound_interface = "eth2";
  CHECK(Only(Check({d}), "same_subnet_unbound").empty());

  d.paths[1].bound_interface.clear();
  const auto f = Only(Check({d}), "same_subnet_unbound");
  REQUIRE(f.size() == 1);
  CHECK(f[0].path == "naa.6001:1");
  CHECK(Has(f[0].problem, "not all"));
  // eth1 is taken by path 0: path 1 gets eth2.
  CHECK(Has(f[0].fix, "198.18.0.6:3261%eth2"));
  CHECK(Has(f[0].fix, "portals = ["));
}

TEST_CASE("different MTUs on the paths: mtu_mismatch names the low one") {
  DeviceFacts d = Clean();
  d.paths[0].mtu = 1400;
  d.paths[0].mss = 1348;
  const auto all = Check({d});
  const auto f = Only(all, "mtu_mismatch");
  REQUIRE(f.size() == 1);
  CHECK(f[0].severity == Severity::kWarning);
  CHECK(f[0].path == "naa.6001:0");
  CHECK(Has(f[0].problem, "MTU 1400"));
  CHECK(Has(f[0].problem, "MTU 1500"));
  CHECK(Has(f[0].fix, "ip link set dev mpl0p1 mtu 1500"));
  CHECK(Has(f[0].fix, "mpio path fail --path naa.6001:0"));
  // A consistent MTU/MSS pair on each path is not "one-sided".
  CHECK(Only(all, "mtu_one_sided").empty());
}

TEST_CASE("jumbo frames on this side only: MSS far below the MTU") {
  DeviceFacts d = Clean();
  for (auto& p : d.paths) p.mtu = 9000;  // both local ends jumbo...
  d.paths[1].mss = 1448;                 // ...path 1's peer is not
  d.paths[0].mss = 8948;
  const auto all = Check({d});
  const auto f = Only(all, "mtu_one_sided");
  REQUIRE(f.size() == 1);
  CHECK(f[0].path == "naa.6001:1");
  CHECK(Has(f[0].problem, "MTU 9000"));
  CHECK(Has(f[0].problem, "1500-byte MTU"));
  CHECK(Has(f[0].fix, "ip link set dev mpl0p2 mtu 1500"));
  CHECK(Only(all, "mtu_mismatch").empty());
  CHECK(Only(all, "mss_mismatch").empty());  // already explained
}

TEST_CASE("same MTU, different MSS: the target ports differ") {
  DeviceFacts d = Clean();
  d.paths[1].mss = 1420;  // within the option slack: not one-sided
  const auto f = Only(Check({d}), "mss_mismatch");
  REQUIRE(f.size() == 1);
  CHECK(Has(f[0].problem, "MSS 1420"));
  CHECK(Has(f[0].fix, "mtu"));
}

TEST_CASE("CHAP on some paths only") {
  DeviceFacts d = Clean();
  d.paths[0].chap = true;
  auto f = Only(Check({d}), "chap_partial");
  REQUIRE(f.size() == 1);
  CHECK(f[0].severity == Severity::kWarning);
  CHECK(f[0].path == "naa.6001:1");
  CHECK(Has(f[0].problem, "1 of 2"));
  CHECK(Has(f[0].fix, "chap_user"));

  d.paths[1].chap = true;
  CHECK(Only(Check({d}), "chap_partial").empty());
  d.paths[1].mutual_chap = true;  // mutual on one path only
  f = Only(Check({d}), "chap_partial");
  REQUIRE(f.size() == 1);
  CHECK(f[0].path == "naa.6001:0");
  CHECK(Has(f[0].problem, "mutual"));
  CHECK(Has(f[0].fix, "target_chap_user"));
}

TEST_CASE("a refused claim rule is a warning naming the rule and its fix") {
  DeviceFacts d = Clean();
  d.refused_rules = {{100, "SATP alua refused: TPGS is 0"}};
  const auto f = Only(Check({d}), "claim_rule_refused");
  REQUIRE(f.size() == 1);
  CHECK(f[0].severity == Severity::kWarning);
  CHECK(Has(f[0].problem, "claim rule 100"));
  CHECK(Has(f[0].problem, "TPGS is 0"));
  CHECK(Has(f[0].problem, "default_aa"));
  CHECK(Has(f[0].fix, "mpio rule remove --id 100"));
  CHECK(Has(f[0].fix, "mpio rule explain --device naa.6001"));

  d.refused_rules = {{-1, "default ALUA: SATP alua is not loaded"}};
  const auto g = Only(Check({d}), "claim_rule_refused");
  REQUIRE(g.size() == 1);
  CHECK(Has(g[0].fix, "--plugin-dir"));
}

TEST_CASE("failover arithmetic of the default timers") {
  const FailoverBudget b = ComputeFailoverBudget(TimerFacts{});
  // ACK stall 1.2 s + one NOP interval 0.5 s + a tick 0.1 s beats the NOP
  // count (7 x 0.5 s + 0.1 s) and the command timeout.
  CHECK(b.detection == absl::Milliseconds(1800));
  CHECK(b.recovery_worst == absl::Seconds(6 + 5 + 2));
  CHECK(b.recovery_best == absl::Milliseconds(200 + 2000));
  CHECK(b.detection <= kDetectionBudget);
}

TEST_CASE("no_path_retry shorter than the way back: warning, then error") {
  DeviceFacts d = Clean();
  d.timers.no_path_retry = absl::Seconds(5);  // < 13 s worst case
  auto f = Only(Check({d}), "apd_budget");
  REQUIRE(f.size() == 1);
  CHECK(f[0].severity == Severity::kWarning);
  CHECK(Has(f[0].problem, "13s"));
  CHECK(Has(f[0].fix, "no_path_retry = \"20s\""));
  CHECK(Has(f[0].fix, "--no-path-retry 20"));

  d.timers.no_path_retry = absl::Seconds(1);  // < 2.2 s best case
  f = Only(Check({d}), "apd_budget");
  REQUIRE(f.size() == 1);
  CHECK(f[0].severity == Severity::kError);
  CHECK(Has(f[0].problem, "2.2s"));

  // Long timers make a 30 s budget too short as well.
  d.timers = TimerFacts{};
  d.timers.reconnect_max = absl::Seconds(30);
  CHECK(Only(Check({d}), "apd_budget").size() == 1);
  // "queue" never expires.
  d.timers.no_path_retry = absl::InfiniteDuration();
  CHECK(Only(Check({d}), "apd_budget").empty());
}

TEST_CASE("slow black-hole detection exceeds the 2 s budget") {
  DeviceFacts d = Clean();
  d.timers.ack_stall = absl::Seconds(10);
  d.timers.nop_interval = absl::Seconds(2);
  const auto f = Only(Check({d}), "slow_detection");
  REQUIRE(f.size() == 1);
  CHECK(f[0].severity == Severity::kWarning);
  // min(NOP 7 x 2 s, ACK 10 + 2 s, command 30 s) + tick = 12.1 s.
  CHECK(Has(f[0].problem, "12.1s"));
  CHECK(Has(f[0].fix, "nop_interval"));
}

TEST_CASE("no_path_retry = fail: error with one path, info with two") {
  DeviceFacts d = Clean();
  d.timers.no_path_retry = absl::ZeroDuration();
  auto f = Only(Check({d}), "no_path_retry_fail");
  REQUIRE(f.size() == 1);
  CHECK(f[0].severity == Severity::kInfo);
  CHECK_FALSE(IsProblem(f[0]));

  d.paths.pop_back();
  const auto all = Check({d});
  f = Only(all, "no_path_retry_fail");
  REQUIRE(f.size() == 1);
  CHECK(f[0].severity == Severity::kError);
  CHECK(f[0].path == "naa.6001:0");
  CHECK(Has(f[0].fix, "no_path_retry = \""));
  CHECK(Only(all, "single_path").size() == 1);
}

TEST_CASE("a path without a session is reported as unchecked, not judged") {
  DeviceFacts d = Clean();
  d.paths[1] = PathFacts{};
  d.paths[1].id = "naa.6001:1";
  d.paths[1].portal = "198.18.0.6:3261";
  d.paths[1].state = "dead";
  const auto all = Check({d});
  REQUIRE(all.size() == 1);
  CHECK(all[0].code == "path_unchecked");
  CHECK(all[0].severity == Severity::kInfo);
  CHECK(Has(all[0].problem, "dead"));
}

TEST_CASE("findings of several devices are kept apart") {
  DeviceFacts a = Clean();
  DeviceFacts b = Clean();
  b.identity = "naa.6002";
  b.paths[0].mtu = 9000;
  b.paths[0].mss = 8948;
  const auto all = Check({a, b});
  REQUIRE(all.size() == 1);
  CHECK(all[0].device == "naa.6002");
  CHECK(all[0].code == "mtu_mismatch");
  CHECK(Has(all[0].fix, "ip link set dev mpl0p2 mtu 9000"));
}

TEST_CASE("severity names") {
  CHECK(std::string(SeverityName(Severity::kInfo)) == "info");
  CHECK(std::string(SeverityName(Severity::kWarning)) == "warning");
  CHECK(std::string(SeverityName(Severity::kError)) == "error");
}

}  // namespace
}  // namespace mpio::preflight
