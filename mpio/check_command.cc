#include "mpio/check_command.h"

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "mpio/control_client.h"
#include "mpio/format.h"
#include "mpio/json_fields.h"

namespace mpio::cli {
namespace {

using nlohmann::json;

constexpr int kExitClean = 0;
constexpr int kExitFindings = 1;
constexpr int kExitDaemon = 3;

std::string Secs(double s) {
  if (s < 0) return "queue";
  if (s == 0) return "fail";
  return s < 1 ? absl::StrFormat("%.0fms", s * 1000)
               : absl::StrFormat("%gs", s);
}

void PrintDeviceFacts(const json& d) {
  std::cout << Str(d, "identity") << "  (SATP " << Str(d, "satp") << ")\n";
  std::vector<std::vector<std::string>> rows = {
      {"  PATH", "PORTAL", "STATE", "IFACE", "LOCAL", "NETWORK", "MTU", "MSS",
       "BOUND", "CHAP"}};
  for (const json& p : Array(Field(d, "paths"))) {
    const bool up = Bool(p, "connected");
    auto known = [up](std::string s) { return up && !s.empty() ? s : "-"; };
    rows.push_back(
        {"  " + Str(p, "id"), Str(p, "portal"), Str(p, "state"),
         known(Str(p, "local_interface")), known(Str(p, "local_address")),
         known(Str(p, "local_network")),
         up && Int(p, "mtu") ? absl::StrCat(Int(p, "mtu")) : "-",
         up && Int(p, "mss") ? absl::StrCat(Int(p, "mss")) : "-",
         Str(p, "bound_interface").empty() ? "-" : Str(p, "bound_interface"),
         Bool(p, "chap") ? (Bool(p, "mutual_chap") ? "mutual" : "yes") : "no"});
  }
  std::cout << Table(rows);
  const json& t = d.contains("timers_s") ? d["timers_s"] : json::object();
  std::cout << "  timers: NOP every " << Secs(Float(t, "nop_interval"))
            << " (dead after " << Int(t, "nop_max_outstanding")
            << " unanswered), ACK stall " << Secs(Float(t, "ack_stall"))
            << ", login " << Secs(Float(t, "login_timeout")) << ", reconnect "
            << Secs(Float(t, "reconnect_min")) << ".."
            << Secs(Float(t, "reconnect_max")) << ", probation "
            << Secs(Float(t, "probation")) << ", no_path_retry "
            << Secs(Float(t, "no_path_retry")) << "\n"
            << "  a black-holed path is detected within "
            << Secs(Float(t, "detection_worst"))
            << "; a dead path carries I/O again "
            << Secs(Float(t, "recovery_best")) << " to "
            << Secs(Float(t, "recovery_worst")) << " after the network heals\n";
}

void PrintFinding(const json& f) {
  std::string sev = absl::AsciiStrToUpper(Str(f, "severity"));
  std::cout << sev << "  " << Str(f, "code") << "  device " << Str(f, "device");
  if (!Str(f, "path").empty()) std::cout << "  path " << Str(f, "path");
  std::cout << "\n  problem: " << Str(f, "problem")
            << "\n  fix:     " << Str(f, "fix") << "\n\n";
}

int Run(const std::string& control, bool as_json) {
  auto r = CallControl(ResolveControlSocket(control), json{{"cmd", "check"}});
  if (!r.ok()) {
    std::cerr << "mpio check: " << r.status().message() << "\n";
    if (r.status().code() == absl::StatusCode::kUnavailable) {
      std::cerr << "mpio check: daemon not running: start `mpio serve "
                   "--portal ... --control PATH` first, or point --control / "
                   "$MPIO_CONTROL at its socket\n";
    }
    return kExitDaemon;
  }
  const json& findings = Array(Field(*r, "findings"));
  const json& devices = Array(Field(*r, "devices"));
  const int64_t problems = Int(*r, "errors") + Int(*r, "warnings");
  const int rc = devices.empty() || problems > 0 ? kExitFindings : kExitClean;
  if (as_json) {
    std::cout << r->dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return rc;
  }
  if (devices.empty()) {
    std::cout << "No multipath devices: nothing to check (did the daemon log "
                 "in? see `mpio events` and its log).\n";
    return rc;
  }
  size_t paths = 0;
  for (const json& d : devices) {
    PrintDeviceFacts(d);
    paths += Array(Field(d, "paths")).size();
  }
  std::cout << "\n";
  for (const json& f : findings) PrintFinding(f);
  if (findings.empty()) {
    std::cout << "No findings: " << devices.size() << " device(s), " << paths
              << " path(s) checked.\n";
  } else {
    std::cout << Int(*r, "errors") << " error(s), " << Int(*r, "warnings")
              << " warning(s), " << Int(*r, "infos") << " note(s) for "
              << devices.size() << " device(s), " << paths << " path(s)"
              << (problems
                      ? ": apply the fixes above and run `mpio check` again.\n"
                      : ".\n");
  }
  return rc;
}

}  // namespace

void AddCheckCommand(CLI::App* app) {
  struct Args {
    std::string control;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app->add_subcommand(
      "check",
      "Preflight lint of the running daemon's setup, each finding with its "
      "fix: paths leaving through one local interface (no link redundancy), "
      "paths with different MTU/MSS (jumbo frames on one side only), paths "
      "on one subnet without interface binding (PORTAL%IFACE), CHAP on some "
      "paths only, claim rules whose SATP refused the device, and timers "
      "whose worst-case failover does not fit no_path_retry (or "
      "no_path_retry = fail with a single path).\n"
      "Exit status: 0 clean (info notes only), 1 a warning or error was "
      "found (or there is no device to check), 2 bad arguments, 3 the "
      "daemon could not be reached or refused.");
  cmd->add_option("--control", a->control,
                  "Control socket of the daemon (default: $MPIO_CONTROL, else "
                  "/run/mpio/control.sock)");
  cmd->add_flag("--json", a->json,
                "Machine-readable output: findings (severity, code, device, "
                "path, problem, fix) and the facts they were drawn from");
  cmd->callback([a] { throw CLI::RuntimeError(Run(a->control, a->json)); });
}

}  // namespace mpio::cli
