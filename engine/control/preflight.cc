#include "engine/control/preflight.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace mpio::preflight {
namespace {

std::string Secs(absl::Duration d) { return absl::FormatDuration(d); }

// Whole seconds, rounded up to a multiple of 5: a value a human would write.
int64_t RoundUpSeconds(absl::Duration d) {
  const double s = std::ceil(absl::ToDoubleSeconds(d) / 5.0) * 5.0;
  return std::max<int64_t>(5, static_cast<int64_t>(s));
}

std::vector<const PathFacts*> Connected(const DeviceFacts& d) {
  std::vector<const PathFacts*> out;
  for (const PathFacts& p : d.paths) {
    if (p.connected) out.push_back(&p);
  }
  return out;
}

std::string Ids(const std::vector<const PathFacts*>& paths) {
  std::vector<std::string> ids;
  for (const PathFacts* p : paths) ids.push_back(p->id);
  return absl::StrJoin(ids, ", ");
}

// "198.18.0.2:3261" -> portal as the CLI and config write it, with a bind.
std::string BoundPortal(const PathFacts& p, const std::string& iface) {
  return absl::StrCat(p.portal, "%", iface);
}

// The portal list of a device with the given binds, as both a command-line
// fragment and a config line, so the fix pastes either way.
std::string BindFix(const std::vector<const PathFacts*>& paths,
                    const std::map<std::string, std::string>& bind) {
  std::vector<std::string> flags, quoted;
  for (const PathFacts* p : paths) {
    auto it = bind.find(p->id);
    const std::string portal =
        it == bind.end() ? p->portal : BoundPortal(*p, it->second);
    flags.push_back(absl::StrCat("--portal ", portal));
    quoted.push_back(absl::StrCat("\"", portal, "\""));
  }
  return absl::StrCat("mpio serve ", absl::StrJoin(flags, " "),
                      " ...  (config: portals = [", absl::StrJoin(quoted, ", "),
                      "])");
}

void Add(std::vector<Finding>* out, Severity s, const char* code,
         const DeviceFacts& d, std::string path, std::string problem,
         std::string fix) {
  out->push_back(Finding{s, code, d.identity, std::move(path),
                         std::move(problem), std::move(fix)});
}

void CheckUnknown(const DeviceFacts& d, std::vector<Finding>* out) {
  for (const PathFacts& p : d.paths) {
    if (p.connected) continue;
    Add(out, Severity::kInfo, "path_unchecked", d, p.id,
        absl::StrCat("path ", p.id, " (", p.portal, ") is ", p.state,
                     " with no session: its network facts (interface, MTU, "
                     "MSS) were not checked"),
        absl::StrCat("`mpio path list --device ", d.identity,
                     "` shows why; run `mpio check` again once it is active"));
  }
}

void CheckSinglePath(const DeviceFacts& d, std::vector<Finding>* out) {
  if (d.paths.size() != 1) return;
  Add(out, Severity::kWarning, "single_path", d, d.paths.front().id,
      absl::StrCat("device ", d.identity,
                   " has one path: a single link, NIC or target port failure "
                   "stops its I/O"),
      "add a second portal on another NIC and subnet: mpio serve --portal "
      "IP1%NIC1 --portal IP2%NIC2 ...  (config: portals = [\"IP1%NIC1\", "
      "\"IP2%NIC2\"])");
}

void CheckSharedInterface(const DeviceFacts& d, std::vector<Finding>* out) {
  std::map<std::string, std::vector<const PathFacts*>> by_iface;
  for (const PathFacts* p : Connected(d)) {
    if (!p->local_interface.empty()) by_iface[p->local_interface].push_back(p);
  }
  const std::vector<const PathFacts*> all = Connected(d);
  for (const auto& [iface, paths] : by_iface) {
    if (paths.size() < 2) continue;
    // Suggest the other NICs on the same subnet when there are any.
    std::vector<std::string> others;
    for (const std::string& s : paths.front()->subnet_interfaces) {
      if (s != iface) others.push_back(s);
    }
    std::map<std::string, std::string> bind;
    for (size_t i = 1; i < paths.size(); i++) {
      bind[paths[i]->id] =
          i - 1 < others.size() ? others[i - 1] : absl::StrCat("NIC", i + 1);
    }
    bind[paths.front()->id] = iface;
    Add(out, Severity::kWarning, "shared_interface", d, Ids(paths),
        absl::StrCat(
            paths.size(), " paths of ", d.identity,
            " leave through the same local interface ", iface, " (",
            paths.front()->local_address,
            "): one NIC, cable or switch port failure takes them all down "
            "(no link redundancy; NICs teamed or bonded behind one interface "
            "count as one)"),
        absl::StrCat("give each path its own NIC (and subnet) and bind it: ",
                     BindFix(all, bind)));
  }
}

void CheckSubnetBinding(const DeviceFacts& d, std::vector<Finding>* out) {
  std::map<std::string, std::vector<const PathFacts*>> by_net;
  for (const PathFacts* p : Connected(d)) {
    if (!p->local_network.empty()) by_net[p->local_network].push_back(p);
  }
  const std::vector<const PathFacts*> all = Connected(d);
  for (const auto& [net, paths] : by_net) {
    if (paths.size() < 2) continue;
    std::vector<const PathFacts*> unbound;
    std::set<std::string> taken;
    for (const PathFacts* p : paths) {
      if (p->bound_interface.empty()) {
        unbound.push_back(p);
      } else {
        taken.insert(p->bound_interface);
      }
    }
    if (unbound.empty()) continue;
    // Hand out the subnet's interfaces not yet bound, one per path.
    std::vector<std::string> free;
    for (const std::string& s : paths.front()->subnet_interfaces) {
      if (!taken.count(s)) free.push_back(s);
    }
    std::map<std::string, std::string> bind;
    for (size_t i = 0; i < unbound.size(); i++) {
      bind[unbound[i]->id] =
          i < free.size() ? free[i] : absl::StrCat("NIC", i + 1);
    }
    Add(out, Severity::kWarning, "same_subnet_unbound", d, Ids(unbound),
        absl::StrCat(
            paths.size(), " paths of ", d.identity, " are on one subnet (", net,
            ") and ", unbound.size() == paths.size() ? "none" : "not all",
            " of them are bound to an interface: the kernel routes by "
            "destination, so unbound paths all take the first route's NIC "
            "whatever NICs the subnet has"),
        absl::StrCat("bind each path to its own interface (SO_BINDTODEVICE) "
                     "with PORTAL%IFACE: ",
                     BindFix(all, bind)));
  }
}

int HeaderBytes(const PathFacts& p) { return p.ipv6 ? 60 : 40; }
// TCP options that every segment carries (timestamps, 12 bytes) plus room
// for the rest: a smaller gap is normal, a bigger one is a smaller MTU
// elsewhere on the path.
constexpr int kOptionSlack = 40;

void CheckMtu(const DeviceFacts& d, std::vector<Finding>* out) {
  const std::vector<const PathFacts*> all = Connected(d);
  bool one_sided = false;
  for (const PathFacts* p : all) {
    if (p->mtu <= 0 || p->mss <= 0) continue;
    if (p->mtu - HeaderBytes(*p) - p->mss <= kOptionSlack) continue;
    one_sided = true;
    const int effective = p->mss + HeaderBytes(*p) + 12;
    Add(out, Severity::kWarning, "mtu_one_sided", d, p->id,
        absl::StrCat("path ", p->id, ": local interface ", p->local_interface,
                     " has MTU ", p->mtu, " but the connection's MSS is ",
                     p->mss, " (fits a ", effective,
                     "-byte MTU): the target or a switch in between uses a "
                     "smaller MTU (jumbo frames on one side only)"),
        absl::StrCat("set MTU ", p->mtu,
                     " on the target's portal interface and every switch "
                     "port on the way, or match this side: ip link set dev ",
                     p->local_interface, " mtu ", effective,
                     "; then `mpio path fail --path ", p->id,
                     "` to reconnect with the new MSS"));
  }
  std::map<int, std::vector<const PathFacts*>> by_mtu;
  std::map<int, std::vector<const PathFacts*>> by_mss;
  for (const PathFacts* p : all) {
    if (p->mtu > 0) by_mtu[p->mtu].push_back(p);
    if (p->mss > 0) by_mss[p->mss].push_back(p);
  }
  auto describe = [](const std::vector<const PathFacts*>& ps) {
    std::vector<std::string> parts;
    for (const PathFacts* p : ps) {
      parts.push_back(absl::StrCat(p->id, " via ", p->local_interface, " MTU ",
                                   p->mtu, " MSS ", p->mss));
    }
    return absl::StrJoin(parts, "; ");
  };
  if (by_mtu.size() > 1) {
    const int top = by_mtu.rbegin()->first;
    std::vector<const PathFacts*> lower;
    std::vector<std::string> cmds;
    std::set<std::string> seen;
    for (const auto& [mtu, ps] : by_mtu) {
      if (mtu == top) continue;
      for (const PathFacts* p : ps) {
        lower.push_back(p);
        if (seen.insert(p->local_interface).second) {
          cmds.push_back(absl::StrCat("ip link set dev ", p->local_interface,
                                      " mtu ", top));
        }
      }
    }
    std::vector<std::string> reconnect;
    for (const PathFacts* p : lower) {
      reconnect.push_back(absl::StrCat("mpio path fail --path ", p->id));
    }
    Add(out, Severity::kWarning, "mtu_mismatch", d, Ids(lower),
        absl::StrCat("the paths of ", d.identity, " have different MTUs (",
                     describe(all),
                     "): round robin spreads I/O evenly, so the path with "
                     "the small frames sets the pace, and one side was "
                     "probably configured for jumbo frames and the other not"),
        absl::StrCat(absl::StrJoin(cmds, "; "),
                     " (the target side and "
                     "switches too, or lower the others to match); then ",
                     absl::StrJoin(reconnect, "; "),
                     " to reconnect with the new MSS"));
  } else if (by_mss.size() > 1 && !one_sided) {
    Add(out, Severity::kWarning, "mss_mismatch", d, Ids(all),
        absl::StrCat("the paths of ", d.identity,
                     " use the same local MTU but different TCP MSS (",
                     describe(all),
                     "): the target ports (or switches) differ in MTU"),
        "give every target portal interface the same MTU as this host's "
        "(e.g. `ip link set dev IFACE mtu 9000` on the target), then `mpio "
        "path fail --path ID` for each path to reconnect");
  }
}

void CheckChap(const DeviceFacts& d, std::vector<Finding>* out) {
  std::vector<const PathFacts*> with, without, mutual, one_way;
  for (const PathFacts& p : d.paths) {
    (p.chap ? with : without).push_back(&p);
    if (p.chap) (p.mutual_chap ? mutual : one_way).push_back(&p);
  }
  if (!with.empty() && !without.empty()) {
    Add(out, Severity::kWarning, "chap_partial", d, Ids(without),
        absl::StrCat("CHAP is configured for ", with.size(), " of ",
                     d.paths.size(), " paths of ", d.identity,
                     " (with: ", Ids(with), "; without: ", Ids(without),
                     "): the unauthenticated paths either fail to log in "
                     "once the target enforces CHAP, or are the weak spot "
                     "while it does not"),
        "give every [[target]] that reaches this device the same CHAP: "
        "chap_user = \"USER\" and chap_secret_file = \"/etc/mpio/chap.secret\" "
        "(or `mpio serve --chap-user USER` with MPIO_CHAP_SECRET for every "
        "--portal)");
  }
  if (!mutual.empty() && !one_way.empty()) {
    Add(out, Severity::kWarning, "chap_partial", d, Ids(one_way),
        absl::StrCat("mutual CHAP is configured for ", mutual.size(), " of ",
                     with.size(), " CHAP paths of ", d.identity,
                     " (one-way only: ", Ids(one_way),
                     "): those paths do not check that the target is the "
                     "real one"),
        "add target_chap_user = \"TARGET-USER\" and target_chap_secret_file = "
        "\"/etc/mpio/target-chap.secret\" to every [[target]] of this device "
        "(or --target-chap-user with MPIO_TARGET_CHAP_SECRET)");
  }
}

void CheckClaim(const DeviceFacts& d, std::vector<Finding>* out) {
  for (const RefusedRule& r : d.refused_rules) {
    const bool builtin = r.rule_id < 0;
    Add(out, Severity::kWarning, "claim_rule_refused", d, "",
        absl::StrCat(
            builtin ? std::string("the built-in default")
                    : absl::StrCat("claim rule ", r.rule_id),
            " matched ", d.identity, " but was not applied: ", r.reason,
            "; the device runs SATP ",
            d.satp.empty() ? std::string("(built-in)") : d.satp, " instead"),
        builtin
            ? absl::StrCat("load the missing plugin (mpio serve --plugin-dir "
                           "DIR), see `mpio rule explain --device ",
                           d.identity, "`")
            : absl::StrCat("mpio rule remove --id ", r.rule_id,
                           " (or re-add it with an SATP the device supports, "
                           "e.g. -s VMW_SATP_DEFAULT_AA); see `mpio rule "
                           "explain --device ",
                           d.identity, "`"));
  }
}

void CheckTimers(const DeviceFacts& d, std::vector<Finding>* out) {
  const TimerFacts& t = d.timers;
  const FailoverBudget b = ComputeFailoverBudget(t);
  const std::string all_paths = d.paths.size() == 1 ? d.paths.front().id : "";
  if (t.no_path_retry == absl::ZeroDuration()) {
    const bool single = d.paths.size() <= 1;
    Add(out, single ? Severity::kError : Severity::kInfo, "no_path_retry_fail",
        d, all_paths,
        single ? absl::StrCat(
                     "no_path_retry = fail with a single path: any blip of "
                     "that path (a target restart, a link flap) fails I/O "
                     "with EIO at once, with no path to move it to")
               : absl::StrCat("no_path_retry = fail: when all ", d.paths.size(),
                              " paths are down at once, I/O fails with EIO "
                              "at once instead of waiting for one to return"),
        absl::StrCat("[engine] no_path_retry = \"",
                     RoundUpSeconds(b.recovery_worst * 2),
                     "s\" (or mpio serve --no-path-retry ",
                     RoundUpSeconds(b.recovery_worst * 2), ")"));
  } else if (t.no_path_retry != absl::InfiniteDuration()) {
    const std::string breakdown =
        absl::StrCat("reconnect backoff up to ", Secs(t.reconnect_max * 1.2),
                     " + login up to ", Secs(t.login_timeout), " + probation ",
                     Secs(t.probation));
    const std::string fix = absl::StrCat(
        "[engine] no_path_retry = \"", RoundUpSeconds(b.recovery_worst * 1.5),
        "s\" (or mpio serve --no-path-retry ",
        RoundUpSeconds(b.recovery_worst * 1.5),
        "); or shorten the way back: reconnect_max = \"2s\", probation = "
        "\"1s\"");
    if (b.recovery_best > t.no_path_retry) {
      Add(out, Severity::kError, "apd_budget", d, all_paths,
          absl::StrCat("no_path_retry ", Secs(t.no_path_retry),
                       " is shorter than even the quickest way back of a path "
                       "(first reconnect ",
                       Secs(t.reconnect_min * 0.8), " + probation ",
                       Secs(t.probation), " = ", Secs(b.recovery_best),
                       "): when all paths drop, even for an instant, queued "
                       "I/O fails with EIO before any path can carry it"),
          fix);
    } else if (b.recovery_worst > t.no_path_retry) {
      Add(out, Severity::kWarning, "apd_budget", d, all_paths,
          absl::StrCat(
              "no_path_retry ", Secs(t.no_path_retry),
              " is shorter than the worst-case way back of a path (", breakdown,
              " = ", Secs(b.recovery_worst),
              "): after an all-paths-down outage, queued I/O can fail with "
              "EIO although the network is back; and an I/O caught on a "
              "black-holed path waits another ",
              Secs(b.detection), " for detection before it is queued"),
          fix);
    }
  }
  if (b.detection > kDetectionBudget) {
    Add(out, Severity::kWarning, "slow_detection", d, all_paths,
        absl::StrCat(
            "a black-holed path (packets dropped, no reset) is noticed only "
            "after ",
            Secs(b.detection), " (NOP-Out every ", Secs(t.nop_interval),
            ", dead after ", t.nop_max_outstanding, " unanswered; ACK stall ",
            Secs(t.ack_stall), "; command timeout ", Secs(t.command_timeout),
            "): its I/O stalls that long before it moves, more than the ",
            Secs(kDetectionBudget), " budget"),
        "[engine] nop_interval = \"500ms\", nop_max_outstanding = 6, "
        "ack_stall = \"1200ms\" (the defaults: about 1.8 s)");
  }
}

}  // namespace

const char* SeverityName(Severity s) {
  switch (s) {
    case Severity::kInfo:
      return "info";
    case Severity::kWarning:
      return "warning";
    case Severity::kError:
      return "error";
  }
  return "info";
}

FailoverBudget ComputeFailoverBudget(const TimerFacts& t) {
  FailoverBudget b;
  // The session's tick runs every detector; each check happens on a tick.
  // NOP: one NOP per interval, dead once more than max are unanswered.
  const absl::Duration nop =
      t.nop_interval * (t.nop_max_outstanding + 1) + t.tick;
  // ACK stall: the next NOP (at most one interval away) puts bytes in
  // flight, which then go unacknowledged for ack_stall.
  const absl::Duration ack = t.ack_stall + t.nop_interval + t.tick;
  const absl::Duration cmd = t.command_timeout + t.tick;
  b.detection = std::min({nop, ack, cmd});
  // Path.cc: backoff is reconnect_min * 2^n capped at reconnect_max, +-20 %
  // jitter; a login attempt that started just before the network healed can
  // take login_timeout; a path that was up before passes probation.
  b.recovery_worst = t.reconnect_max * 1.2 + t.login_timeout + t.probation;
  b.recovery_best = t.reconnect_min * 0.8 + t.probation;
  return b;
}

bool IsProblem(const Finding& f) { return f.severity != Severity::kInfo; }

std::vector<Finding> Check(const std::vector<DeviceFacts>& devices) {
  std::vector<Finding> out;
  for (const DeviceFacts& d : devices) {
    CheckUnknown(d, &out);
    CheckSinglePath(d, &out);
    CheckSharedInterface(d, &out);
    CheckSubnetBinding(d, &out);
    CheckMtu(d, &out);
    CheckChap(d, &out);
    CheckClaim(d, &out);
    CheckTimers(d, &out);
  }
  return out;
}

}  // namespace mpio::preflight
