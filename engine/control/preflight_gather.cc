#include "engine/control/preflight_gather.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/control/control_json.h"
#include "engine/iscsi/socket_facts.h"

namespace mpio::control {
namespace {

using nlohmann::json;

double Seconds(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return -1;  // "queue"
  return absl::ToDoubleSeconds(d);
}

// ClaimDecision::skipped holds "rule 100: SATP alua refused: ..." and
// "default ALUA: ..." (engine/claim/claim_rules.cc).
preflight::RefusedRule ParseSkipped(const std::string& text) {
  preflight::RefusedRule r;
  r.reason = text;
  if (absl::StartsWith(text, "rule ")) {
    const size_t colon = text.find(':');
    int id = 0;
    if (colon != std::string::npos &&
        absl::SimpleAtoi(text.substr(5, colon - 5), &id)) {
      r.rule_id = id;
      r.reason = text.substr(std::min(text.size(), colon + 2));
    }
  }
  return r;
}

preflight::PathFacts PathFactsOf(const MultipathDevice& d, Path& p) {
  preflight::PathFacts f;
  const SessionConfig& sc = p.session_config();
  f.id = PathId(d, p);
  f.portal = sc.portal;
  f.state = PathStateName(p.state());
  f.bound_interface = sc.interface;
  f.chap = !sc.chap_user.empty();
  f.mutual_chap = f.chap && !sc.target_chap_user.empty();
  IscsiSession* s = p.session();
  if (s == nullptr || s->fd() < 0) return f;
  auto sock = ReadSocketFacts(s->fd());
  if (!sock.ok()) return f;
  f.connected = true;
  f.ipv6 = sock->ipv6;
  f.local_address = sock->local_address;
  f.local_interface = sock->interface;
  f.prefix_len = sock->prefix_len;
  f.local_network = sock->network;
  f.subnet_interfaces = sock->subnet_interfaces;
  f.mtu = sock->mtu;
  f.mss = sock->mss;
  // What the kernel says the socket is bound to, not what was asked for.
  f.bound_interface = sock->bound_interface;
  return f;
}

}  // namespace

std::vector<preflight::DeviceFacts> GatherPreflightFacts(Engine* engine) {
  std::vector<preflight::DeviceFacts> out;
  for (MultipathDevice* d : engine->devices()) {
    preflight::DeviceFacts df;
    df.identity = d->identity();
    df.satp = d->satp() ? d->satp()->name() : "";
    const Path* first = nullptr;
    for (const auto& p : d->paths()) {
      if (!p) continue;
      if (first == nullptr) first = p.get();
      df.paths.push_back(PathFactsOf(*d, *p));
    }
    if (first != nullptr) {
      const SessionConfig& sc = first->session_config();
      const PathPolicy& pp = first->policy();
      df.timers.nop_interval = sc.nop_interval;
      df.timers.nop_max_outstanding = sc.nop_max_outstanding;
      df.timers.ack_stall = sc.ack_stall;
      df.timers.command_timeout = sc.command_timeout;
      df.timers.tick = sc.tick;
      df.timers.login_timeout = sc.login_timeout;
      df.timers.reconnect_min = pp.reconnect_min;
      df.timers.reconnect_max = pp.reconnect_max;
      df.timers.probation = pp.probation;
      df.timers.checker_interval = pp.checker_interval;
    }
    df.timers.no_path_retry = d->options().no_path_retry;
    // What the rules decide now: the same refusals a reclaim would meet.
    for (const std::string& s :
         engine->rules().Decide(d->lun(), engine->plugins()).skipped) {
      df.refused_rules.push_back(ParseSkipped(s));
    }
    out.push_back(std::move(df));
  }
  return out;
}

json FindingToJson(const preflight::Finding& f) {
  return {{"severity", preflight::SeverityName(f.severity)},
          {"code", f.code},
          {"device", f.device},
          {"path", f.path},
          {"problem", f.problem},
          {"fix", f.fix}};
}

json FactsToJson(const preflight::DeviceFacts& d) {
  json paths = json::array();
  for (const auto& p : d.paths) {
    paths.push_back({{"id", p.id},
                     {"portal", p.portal},
                     {"state", p.state},
                     {"connected", p.connected},
                     {"local_interface", p.local_interface},
                     {"local_address", p.local_address},
                     {"prefix_len", p.prefix_len},
                     {"local_network", p.local_network},
                     {"subnet_interfaces", p.subnet_interfaces},
                     {"ipv6", p.ipv6},
                     {"mtu", p.mtu},
                     {"mss", p.mss},
                     {"bound_interface", p.bound_interface},
                     {"chap", p.chap},
                     {"mutual_chap", p.mutual_chap}});
  }
  const preflight::TimerFacts& t = d.timers;
  const preflight::FailoverBudget b = preflight::ComputeFailoverBudget(t);
  json refused = json::array();
  for (const auto& r : d.refused_rules)
    refused.push_back({{"rule", r.rule_id}, {"reason", r.reason}});
  return {{"identity", d.identity},
          {"satp", d.satp},
          {"paths", std::move(paths)},
          {"refused_rules", std::move(refused)},
          {"timers_s",
           {{"nop_interval", Seconds(t.nop_interval)},
            {"nop_max_outstanding", t.nop_max_outstanding},
            {"ack_stall", Seconds(t.ack_stall)},
            {"command_timeout", Seconds(t.command_timeout)},
            {"login_timeout", Seconds(t.login_timeout)},
            {"reconnect_min", Seconds(t.reconnect_min)},
            {"reconnect_max", Seconds(t.reconnect_max)},
            {"probation", Seconds(t.probation)},
            {"checker_interval", Seconds(t.checker_interval)},
            {"no_path_retry", Seconds(t.no_path_retry)},
            {"detection_worst", Seconds(b.detection)},
            {"recovery_worst", Seconds(b.recovery_worst)},
            {"recovery_best", Seconds(b.recovery_best)}}}};
}

json RunPreflight(Engine* engine) {
  const std::vector<preflight::DeviceFacts> facts =
      GatherPreflightFacts(engine);
  const std::vector<preflight::Finding> findings = preflight::Check(facts);
  json list = json::array();
  int counts[3] = {0, 0, 0};
  for (const auto& f : findings) {
    counts[static_cast<int>(f.severity)]++;
    list.push_back(FindingToJson(f));
  }
  json devices = json::array();
  for (const auto& d : facts) devices.push_back(FactsToJson(d));
  return {{"findings", std::move(list)},
          {"infos", counts[0]},
          {"warnings", counts[1]},
          {"errors", counts[2]},
          {"devices", std::move(devices)}};
}

}  // namespace mpio::control
