#include "mpio/admin_commands.h"

#include <unistd.h>

#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "mpio/control_client.h"
#include "mpio/format.h"
#include "mpio/json_fields.h"

namespace mpio::cli {
namespace {

using nlohmann::json;

constexpr int kExitOk = 0;
constexpr int kExitDaemon = 1;
constexpr int kExitUsage = 2;

constexpr const char* kExitHelp =
    "\nExit status: 0 done, 1 the daemon refused or could not be reached, 2 "
    "bad arguments.";

std::string Dump(const json& j) {
  return j.dump(2, ' ', false, json::error_handler_t::replace);
}

void AddControlOption(CLI::App* cmd, std::string* control) {
  cmd->add_option("--control", *control,
                  "Control socket of the daemon (default: $MPIO_CONTROL, else "
                  "/run/mpio/control.sock)");
}

// One request; prints the error and returns nullopt-like status on failure.
absl::StatusOr<json> Call(const char* verb, const std::string& control,
                          const json& request) {
  auto r = CallControl(ResolveControlSocket(control), request);
  if (!r.ok())
    std::cerr << "mpio " << verb << ": " << r.status().message() << "\n";
  return r;
}

int Usage(const char* verb, const std::string& message) {
  std::cerr << "mpio " << verb << ": " << message << " (see `mpio " << verb
            << " --help`)\n";
  return kExitUsage;
}

// ------------------------------------------------------------ rendering

void PrintDevice(const json& d) {
  std::cout << Str(d, "identity") << "\n"
            << "   Device Display Name: " << Str(d, "display_name") << "\n"
            << "   Vendor: " << Str(d, "vendor")
            << "   Model: " << Str(d, "model")
            << "   Revision: " << Str(d, "revision") << "\n"
            << "   Size: " << HumanBytes(Num(d, "size_bytes")) << " ("
            << Num(d, "size_bytes") << " bytes, " << Num(d, "block_size")
            << "-byte blocks)\n"
            << "   Storage Array Type: " << Str(d, "satp") << "\n"
            << "   Storage Array Type Device Config: " << Str(d, "satp_config")
            << "\n"
            << "   Path Selection Policy: " << Str(d, "psp") << "\n"
            << "   Path Selection Policy Device Config: "
            << Str(d, "psp_config") << "\n"
            << "   Claimed By: " << Str(d, "claim_reason") << "\n";
  std::vector<std::string> working;
  for (const auto& p : Array(Field(d, "working_paths"))) {
    working.push_back(p.is_string() ? p.get<std::string>() : p.dump());
  }
  std::cout << "   Working Paths: "
            << (working.empty() ? "(none)" : absl::StrJoin(working, ", "))
            << "\n"
            << "   Paths: " << Num(d, "paths") << " total, "
            << Num(d, "usable_paths") << " working\n"
            << "   Queued I/Os (no path): " << Num(d, "queued_no_path") << "\n"
            << "   Is Lost: " << (Bool(d, "lost") ? "true" : "false") << "\n";
  if (!Str(d, "warning").empty())
    std::cout << "   Warning: " << Str(d, "warning") << "\n";
}

std::vector<std::string> PathRow(const json& p) {
  const json& tpg_field = Field(p, "tpg");
  const int64_t tpg =
      tpg_field.is_number_integer() ? tpg_field.get<int64_t>() : -1;
  const bool done = Num(p, "completed") > 0;
  return {Str(p, "id"),
          Str(p, "portal"),
          Str(p, "target"),
          Str(p, "lun"),
          Str(p, "state"),
          Str(p, "alua_state"),
          tpg < 0 ? "-" : absl::StrCat(tpg),
          Bool(p, "preferred") ? "*" : "",
          absl::StrCat(Num(p, "reads")),
          absl::StrCat(Num(p, "writes")),
          HumanBytes(Num(p, "bytes_read")),
          HumanBytes(Num(p, "bytes_written")),
          absl::StrCat(Num(p, "errors")),
          absl::StrCat(Num(p, "redriven")),
          absl::StrCat(Num(p, "failures")),
          absl::StrCat(Num(p, "inflight")),
          done ? absl::StrFormat("%.0f us", Float(p, "avg_latency_us")) : "-",
          Str(p, "reason")};
}

const std::vector<std::string> kPathHeader = {
    "ID",     "PORTAL",   "TARGET", "LUN",      "STATE",   "ALUA",
    "TPG",    "PREF",     "READS",  "WRITES",   "READ",    "WRITTEN",
    "ERRORS", "REDRIVEN", "FAILS",  "INFLIGHT", "AVG LAT", "REASON"};

// Grouped by device like `multipath -ll`: a device line, then its paths.
void PrintPaths(const json& devices, const json& paths) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<const json*>> by_device;
  for (const auto& p : Array(paths)) {
    const std::string dev = Str(p, "device");
    if (!by_device.count(dev)) order.push_back(dev);
    by_device[dev].push_back(&p);
  }
  for (const std::string& dev : order) {
    const json* info = nullptr;
    for (const auto& d : Array(devices)) {
      if (Str(d, "identity") == dev) info = &d;
    }
    if (info) {
      std::cout << Str(*info, "identity") << " (" << Str(*info, "vendor") << ","
                << Str(*info, "model")
                << ") size=" << HumanBytes(Num(*info, "size_bytes"))
                << " satp=" << Str(*info, "satp")
                << " psp=" << Str(*info, "psp") << " "
                << Str(*info, "psp_config")
                << " working=" << Num(*info, "usable_paths") << "/"
                << Num(*info, "paths") << (Bool(*info, "lost") ? " LOST" : "")
                << "\n";
    } else {
      std::cout << dev << "\n";
    }
    std::vector<std::vector<std::string>> rows = {kPathHeader};
    for (const json* p : by_device[dev]) rows.push_back(PathRow(*p));
    std::cout << Table(rows) << "\n";
  }
}

void PrintRules(const json& rules) {
  std::vector<std::vector<std::string>> rows = {
      {"RULE", "VENDOR", "MODEL", "IDENTITY", "SATP", "SATP OPTIONS", "PSP",
       "PSP OPTIONS", "DESCRIPTION"}};
  auto any = [](std::string s) { return s.empty() ? std::string("*") : s; };
  for (const auto& r : Array(rules)) {
    rows.push_back({Str(r, "id"), any(Str(r, "vendor")), any(Str(r, "model")),
                    any(Str(r, "identity")), Str(r, "satp"),
                    Str(r, "satp_options"),
                    Str(r, "psp").empty() ? "(SATP default)" : Str(r, "psp"),
                    Str(r, "psp_options"), Str(r, "description")});
  }
  if (rows.size() > 1)
    std::cout << Table(rows);
  else
    std::cout << "No claim rules.\n";
  std::cout << "Devices no rule claims get the built-in default: SATP alua for "
               "arrays that "
               "report ALUA (TPGS), default_aa otherwise; PSP rr with "
               "policy=iops;iops=1.\n";
}

void PrintEvents(const json& events) {
  for (const auto& e : Array(events)) {
    std::cout << Str(e, "time") << "  " << Str(e, "device") << "  "
              << Str(e, "text") << "\n";
  }
  std::cout.flush();
}

// Runs fn and turns its result into CLI11's exit path.
template <typename Fn>
void Exit(Fn fn) {
  int rc = fn();
  throw CLI::RuntimeError(rc);
}

// A verb's answer: the daemon's JSON as it came (--json), or `print`'s
// human form.
int ShowAnswer(const absl::StatusOr<json>& r, bool as_json,
               const std::function<void(const json&)>& print) {
  if (!r.ok()) return kExitDaemon;
  if (as_json) {
    std::cout << Dump(*r) << "\n";
  } else {
    print(*r);
  }
  return kExitOk;
}

void PrintDevices(const json& r) {
  if (Array(r).empty()) std::cout << "No multipath devices.\n";
  for (const auto& d : Array(r)) {
    PrintDevice(d);
    std::cout << "\n";
  }
}

void PrintExplanation(const json& r) {
  std::cout << r.value("device", std::string()) << "  (vendor "
            << r.value("vendor", std::string()) << ", model "
            << r.value("model", std::string()) << ", TPGS "
            << r.value("tpgs", 0) << ")\n";
  int n = 1;
  for (const auto& step : Array(Field(r, "steps"))) {
    std::cout << "  " << n++ << ". "
              << (step.is_string() ? step.get<std::string>() : Dump(step))
              << "\n";
  }
  std::cout << "  now claimed by: " << r.value("current", std::string())
            << "\n";
}

// ------------------------------------------------------------ verbs

void AddDeviceCommands(CLI::App* app) {
  auto* device = app->add_subcommand(
      "device",
      "Multipath devices of the running daemon: list them, change their path "
      "selection policy, re-apply claim rules.");
  device->require_subcommand(1);

  {
    struct Args {
      std::string control;
      bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = device->add_subcommand(
        "list", std::string("List every multipath device like `esxcli storage "
                            "nmp device list`: "
                            "identity, vendor/model, size, storage array type "
                            "(SATP) and path selection "
                            "policy (PSP) with their config, which claim rule "
                            "won and why others were "
                            "skipped, working paths, queued I/O.") +
                    kExitHelp);
    AddControlOption(cmd, &a->control);
    cmd->add_flag("--json", a->json,
                  "Machine-readable output (the daemon's answer)");
    cmd->callback([a] {
      Exit([&] {
        return ShowAnswer(
            Call("device list", a->control, {{"cmd", "device.list"}}), a->json,
            PrintDevices);
      });
    });
  }
  {
    struct Args {
      std::string control, device, psp, psp_options, preferred;
      bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = device->add_subcommand(
        "set", std::string(
                   "Change a device's path selection policy or preferred path "
                   "while it runs, "
                   "like `esxcli storage nmp device set`.\n"
                   "Examples:\n"
                   "  mpio device set --device naa.6589 --psp rr --psp-options "
                   "'policy=iops;iops=1'\n"
                   "  mpio device set --device 0 --psp fixed --preferred "
                   "198.18.0.2:3260\n"
                   "  mpio device set --device 0 --preferred ''   (clear)") +
                   kExitHelp);
    AddControlOption(cmd, &a->control);
    cmd->add_option("--device", a->device,
                    "Device identity, unique prefix or index")
        ->required();
    auto* psp = cmd->add_option("--psp", a->psp,
                                "Path selection plugin (rr, fixed, mru, ... or "
                                "an ESXi name such as VMW_PSP_RR)");
    auto* opts = cmd->add_option(
        "--psp-options", a->psp_options,
        "PSP options in ESXi's words, e.g. 'policy=iops;iops=1', "
        "'policy=bytes;bytes=1048576', 'policy=latency' (without "
        "--psp: for the current PSP)");
    auto* pref = cmd->add_option(
        "--preferred", a->preferred,
        "Preferred path (name, portal or index; '' clears): FIXED "
        "fails back to it");
    cmd->add_flag("--json", a->json, "Machine-readable output");
    cmd->callback([a, psp, opts, pref] {
      Exit([&] {
        json req = {{"cmd", "device.set"}, {"device", a->device}};
        if (psp->count()) req["psp"] = a->psp;
        if (opts->count()) req["psp_options"] = a->psp_options;
        if (pref->count()) req["preferred"] = a->preferred;
        if (req.size() == 2) {
          return Usage(
              "device set",
              "nothing to change: give --psp, --psp-options or --preferred");
        }
        return ShowAnswer(Call("device set", a->control, req), a->json,
                          PrintDevice);
      });
    });
  }
  {
    struct Args {
      std::string control, device;
      bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = device->add_subcommand(
        "reclaim", std::string("Re-apply the claim rules to a device (after "
                               "`mpio rule add/remove`): it "
                               "gets the SATP and PSP the rules now pick, "
                               "without a restart. A rule whose "
                               "SATP cannot drive the device is skipped, and "
                               "the reason is shown.") +
                       kExitHelp);
    AddControlOption(cmd, &a->control);
    cmd->add_option("--device", a->device,
                    "Device identity, unique prefix or index")
        ->required();
    cmd->add_flag("--json", a->json, "Machine-readable output");
    cmd->callback([a] {
      Exit([&] {
        return ShowAnswer(
            Call("device reclaim", a->control,
                 {{"cmd", "device.reclaim"}, {"device", a->device}}),
            a->json, PrintDevice);
      });
    });
  }
}

void AddPathCommands(CLI::App* app) {
  auto* path = app->add_subcommand(
      "path",
      "Paths (one iSCSI session to one portal for one LUN) of the running "
      "daemon: list "
      "them with counters, switch them off and on, fail one as a drill.");
  path->require_subcommand(1);
  const char* kPathHelp =
      "Path: its full name (PORTAL/TARGET/lunN), its portal (when only one "
      "path uses it), or "
      "DEVICE:INDEX as `mpio path list` shows in the ID column";
  {
    struct Args {
      std::string control, device;
      bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = path->add_subcommand(
        "list", std::string("List paths grouped by device, like `multipath "
                            "-ll`: portal, target, LUN, "
                            "state and why, ALUA state and target port group, "
                            "preferred (*), I/O "
                            "counters, errors, re-driven I/Os, failures, "
                            "in-flight commands and average "
                            "latency.") +
                    kExitHelp);
    AddControlOption(cmd, &a->control);
    cmd->add_option("--device", a->device,
                    "Only this device (identity, unique prefix or index)");
    cmd->add_flag("--json", a->json, "Machine-readable output");
    cmd->callback([a] {
      Exit([&] {
        json req = {{"cmd", "path.list"}};
        if (!a->device.empty()) req["device"] = a->device;
        auto paths = Call("path list", a->control, req);
        if (!paths.ok()) return kExitDaemon;
        if (a->json) {
          std::cout << Dump(*paths) << "\n";
          return kExitOk;
        }
        if (Array(*paths).empty()) {
          std::cout << "No paths.\n";
          return kExitOk;
        }
        auto devices = Call("path list", a->control, {{"cmd", "device.list"}});
        if (!devices.ok()) return kExitDaemon;
        PrintPaths(*devices, *paths);
        return kExitOk;
      });
    });
  }
  {
    struct Args {
      std::string control, path, state;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = path->add_subcommand(
        "set", std::string("Switch a path off (its I/O moves to the other "
                           "paths, it stays down) or "
                           "back on (it reconnects and passes probation "
                           "first), like `esxcli storage "
                           "core path set --state`.\nExample: mpio path set "
                           "--path 198.18.0.2:3260 "
                           "--state off") +
                   kExitHelp);
    AddControlOption(cmd, &a->control);
    cmd->add_option("--path", a->path, kPathHelp)->required();
    cmd->add_option("--state", a->state, "on or off")
        ->required()
        ->check(CLI::IsMember({"on", "off"}));
    cmd->callback([a] {
      Exit([&] {
        auto r =
            Call("path set", a->control,
                 {{"cmd", "path.set"}, {"path", a->path}, {"state", a->state}});
        if (!r.ok()) return kExitDaemon;
        std::cout << "path " << Str(*r, "name") << " (" << Str(*r, "id")
                  << "): " << Str(*r, "state") << " (" << Str(*r, "reason")
                  << ")\n";
        return kExitOk;
      });
    });
  }
  {
    struct Args {
      std::string control, path;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = path->add_subcommand(
        "fail", std::string("Failover drill: drop a path's session now, as if "
                            "its link had died. Its "
                            "in-flight I/O is re-driven on the other paths and "
                            "the path reconnects by "
                            "itself (watch it with `mpio events --follow`).") +
                    kExitHelp);
    AddControlOption(cmd, &a->control);
    cmd->add_option("--path", a->path, kPathHelp)->required();
    cmd->callback([a] {
      Exit([&] {
        auto r = Call("path fail", a->control,
                      {{"cmd", "path.fail"}, {"path", a->path}});
        if (!r.ok()) return kExitDaemon;
        std::cout << "path " << Str(*r, "name") << " (" << Str(*r, "id")
                  << "): failed; now " << Str(*r, "state") << " ("
                  << Str(*r, "reason") << ")\n";
        return kExitOk;
      });
    });
  }
}

// The fields of a claim rule on the command line, in mpio's words and in
// esxcli's letters (-s -V -M -P -O -o -e).
struct RuleArgs {
  std::string control, vendor, model, identity, satp, satp_options, psp,
      psp_options, description;
  int id = 0;
};

void AddRuleMatchOptions(CLI::App* cmd, RuleArgs* a) {
  cmd->add_option("--vendor,-V", a->vendor, "T10 vendor glob, e.g. TrueNAS");
  cmd->add_option("--model,-M", a->model, "Product glob, e.g. 'iSCSI*'");
  cmd->add_option("--identity,-d", a->identity,
                  "Device identity glob, e.g. 'naa.6589cfc*'");
  cmd->add_option("--satp,-s", a->satp,
                  "Storage array type plugin: default_aa, alua, or ESXi names "
                  "(VMW_SATP_DEFAULT_AA, VMW_SATP_ALUA)");
  cmd->add_option("--satp-options,-o", a->satp_options, "Options for the SATP");
  cmd->add_option("--psp,-P", a->psp,
                  "Path selection plugin (default: rr with iops=1)");
  cmd->add_option("--psp-options,-O", a->psp_options,
                  "PSP options, e.g. 'policy=iops;iops=1'");
  cmd->add_option("--description,-e", a->description,
                  "Free text shown by `mpio rule list`");
}

void AddRuleCommands(CLI::App* app) {
  auto* rule = app->add_subcommand("rule",
                                   "Claim rules: which SATP and PSP drive "
                                   "which devices, like `esxcli storage nmp "
                                   "satp rule add`. Rules match in ascending "
                                   "number; the first whose SATP can drive "
                                   "the device wins.");
  rule->require_subcommand(1);
  {
    auto a = std::make_shared<RuleArgs>();
    auto* cmd = rule->add_subcommand(
        "add", std::string("Add a claim rule to the running daemon. Vendor, "
                           "model and identity are "
                           "case-insensitive globs; empty matches anything. "
                           "Existing devices keep "
                           "their plugins until `mpio device "
                           "reclaim`.\nExample: mpio rule add --id "
                           "100 --vendor TrueNAS --model 'iSCSI*' --satp "
                           "VMW_SATP_ALUA --psp VMW_PSP_RR "
                           "--psp-options 'policy=iops;iops=1'") +
                   kExitHelp);
    AddControlOption(cmd, &a->control);
    // esxcli's letters work too, so `esxcli storage nmp satp rule add -s
    // VMW_SATP_ALUA -V TrueNAS -M "iSCSI Disk" -P VMW_PSP_RR -O
    // "policy=iops;iops=1" -e "..."` pastes as `mpio rule add -s ...`.
    cmd->add_option("--id", a->id,
                    "Rule number (1..1000000000); lower numbers match first "
                    "(default: after the last rule)")
        ->check(CLI::Range(1, 1000000000));
    AddRuleMatchOptions(cmd, a.get());
    cmd->callback([a] {
      Exit([&] {
        if (a->satp.empty()) {
          std::cerr << "mpio rule add: --satp/-s is required\n";
          return kExitUsage;
        }
        if (a->id == 0) {
          auto list = Call("rule list", a->control, {{"cmd", "rule.list"}});
          if (!list.ok()) return kExitDaemon;
          int last = 0;
          for (const auto& r : Array(*list))
            last = std::max(last, r.value("id", 0));
          a->id = last == 0 ? 100 : last + 1;
        }
        json req = {{"cmd", "rule.add"}, {"id", a->id}, {"satp", a->satp}};
        if (!a->vendor.empty()) req["vendor"] = a->vendor;
        if (!a->model.empty()) req["model"] = a->model;
        if (!a->identity.empty()) req["identity"] = a->identity;
        if (!a->satp_options.empty()) req["satp_options"] = a->satp_options;
        if (!a->psp.empty()) req["psp"] = a->psp;
        if (!a->psp_options.empty()) req["psp_options"] = a->psp_options;
        if (!a->description.empty()) req["description"] = a->description;
        auto r = Call("rule add", a->control, req);
        if (!r.ok()) return kExitDaemon;
        std::cout << "claim rule " << a->id << " added\n";
        for (const auto& n : Array(Field(*r, "notes"))) {
          std::cout << "note: "
                    << (n.is_string() ? n.get<std::string>() : Dump(n)) << "\n";
        }
        return kExitOk;
      });
    });
  }
  {
    auto a = std::make_shared<RuleArgs>();
    auto* cmd = rule->add_subcommand(
        "remove",
        std::string(
            "Remove a claim rule, by --id or by its fields as esxcli does "
            "(e.g. -s VMW_SATP_ALUA -V TrueNAS). Devices keep their plugins "
            "until `mpio device "
            "reclaim`.") +
            kExitHelp);
    AddControlOption(cmd, &a->control);
    cmd->add_option("--id", a->id, "Rule number (see `mpio rule list`)");
    AddRuleMatchOptions(cmd, a.get());
    cmd->callback([a] {
      Exit([&] {
        std::vector<int> ids;
        if (a->id != 0) {
          ids.push_back(a->id);
        } else {
          // esxcli style: remove the rules whose fields equal the given ones.
          auto list = Call("rule list", a->control, {{"cmd", "rule.list"}});
          if (!list.ok()) return kExitDaemon;
          auto same = [](const json& r, const char* key,
                         const std::string& want) {
            return want.empty() || r.value(key, std::string()) == want;
          };
          for (const auto& r : Array(*list)) {
            if (same(r, "satp", a->satp) && same(r, "vendor", a->vendor) &&
                same(r, "model", a->model) &&
                same(r, "identity", a->identity) && same(r, "psp", a->psp) &&
                same(r, "psp_options", a->psp_options) &&
                same(r, "description", a->description)) {
              ids.push_back(r.value("id", 0));
            }
          }
          if (a->satp.empty() && a->vendor.empty() && a->model.empty() &&
              a->identity.empty() && a->psp.empty() && a->description.empty()) {
            std::cerr << "mpio rule remove: give --id, or the rule's fields "
                         "(-s -V -M ...)\n";
            return kExitUsage;
          }
          if (ids.empty()) {
            std::cerr << "mpio rule remove: no claim rule has those fields "
                         "(see `mpio rule list`)\n";
            return kExitDaemon;
          }
        }
        for (int id : ids) {
          auto r = Call("rule remove", a->control,
                        {{"cmd", "rule.remove"}, {"id", id}});
          if (!r.ok()) return kExitDaemon;
          std::cout << "claim rule " << id << " removed\n";
        }
        return kExitOk;
      });
    });
  }
  {
    struct Args {
      std::string control;
      bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = rule->add_subcommand(
        "list",
        std::string(
            "List the claim rules in match order ('*' matches anything).") +
            kExitHelp);
    AddControlOption(cmd, &a->control);
    cmd->add_flag("--json", a->json, "Machine-readable output");
    cmd->callback([a] {
      Exit([&] {
        return ShowAnswer(Call("rule list", a->control, {{"cmd", "rule.list"}}),
                          a->json, PrintRules);
      });
    });
  }

  {
    struct Args {
      std::string control, device;
      bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = rule->add_subcommand(
        "explain",
        std::string(
            "Show every claim rule considered for a device, in order, and "
            "why it matched, was skipped or was refused, then what a "
            "reclaim would choose.") +
            kExitHelp);
    AddControlOption(cmd, &a->control);
    cmd->add_option("--device", a->device, "Device (see `mpio device list`)")
        ->required();
    cmd->add_flag("--json", a->json, "Machine-readable output");
    cmd->callback([a] {
      Exit([&] {
        return ShowAnswer(
            Call("rule explain", a->control,
                 {{"cmd", "rule.explain"}, {"device", a->device}}),
            a->json, PrintExplanation);
      });
    });
  }
}

void AddEventsCommand(CLI::App* app) {
  struct Args {
    std::string control, device;
    bool follow = false, json = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app->add_subcommand(
      "events", std::string("Show what happened to devices and paths: claims, "
                            "path state changes and "
                            "why, failovers, operator actions. --follow keeps "
                            "printing new events (polls "
                            "every 500 ms) until Ctrl-C.") +
                    kExitHelp);
  AddControlOption(cmd, &a->control);
  cmd->add_option("--device", a->device,
                  "Only this device (identity, unique prefix or index)");
  cmd->add_flag("--follow,-f", a->follow,
                "Keep printing new events until Ctrl-C");
  cmd->add_flag("--json", a->json, "One JSON object per event (JSON lines)");
  cmd->callback([a] {
    Exit([&] {
      uint64_t since = 0;
      for (;;) {
        json req = {{"cmd", "events"}, {"since_ns", since}};
        if (!a->device.empty()) req["device"] = a->device;
        auto r = Call("events", a->control, req);
        if (!r.ok()) return kExitDaemon;
        const json& events = Field(*r, "events");
        if (a->json) {
          for (const auto& e : Array(events)) {
            std::cout << e.dump(-1, ' ', false, json::error_handler_t::replace)
                      << "\n";
          }
          std::cout.flush();
        } else {
          PrintEvents(events);
        }
        // Everything up to now_ns was in this answer (it is built on the
        // engine's reactor in one pass), so asking after it loses nothing.
        since = std::max(since, Num(*r, "now_ns"));
        if (!a->follow) return kExitOk;
        usleep(500 * 1000);
      }
    });
  });
}

}  // namespace

void AddAdminCommands(CLI::App* app) {
  AddDeviceCommands(app);
  AddPathCommands(app);
  AddRuleCommands(app);
  AddEventsCommand(app);
}

}  // namespace mpio::cli
