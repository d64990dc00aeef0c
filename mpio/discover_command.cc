#include "mpio/discover_command.h"

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "mpio/format.h"
#include "mpio/target_options.h"

namespace mpio::cli {
namespace {

struct DiscoverArgs {
  TargetOptions target;
  bool json = false;
};

nlohmann::json DeviceJson(MultipathDevice* d) {
  nlohmann::json j;
  const LunInfo& lun = d->lun();
  j["identity"] = d->identity();
  j["vendor"] = lun.inquiry.vendor;
  j["model"] = lun.inquiry.product;
  j["revision"] = lun.inquiry.revision;
  j["serial"] = lun.serial;
  j["size_bytes"] = d->geometry().size_bytes;
  j["block_size"] = d->geometry().block_size;
  j["tpgs"] = lun.inquiry.tpgs;
  j["satp"] = d->satp() ? d->satp()->name() : "";
  j["psp"] = d->psp() ? d->psp()->name() : "";
  j["psp_config"] = d->psp() ? d->psp()->Describe() : "";
  j["claim"] = d->claim_reason();
  j["paths"] = nlohmann::json::array();
  for (const auto& p : d->paths()) {
    j["paths"].push_back({{"name", p->name()},
                          {"portal", p->session_config().portal},
                          {"target", p->session_config().target_iqn},
                          {"lun", p->session_config().lun},
                          {"state", PathStateName(p->state())}});
  }
  return j;
}

int RunDiscover(const DiscoverArgs& a) {
  auto spec = MakeTargetSpec(a.target);
  if (!spec.ok()) {
    std::cerr << "mpio discover: " << spec.status().message() << "\n";
    return 2;
  }
  auto engine = Engine::Create(MakeEngineOptions(a.target));
  if (!engine.ok()) {
    std::cerr << "mpio discover: " << engine.status().message() << "\n";
    return 1;
  }
  auto report = (*engine)->AddTarget(*spec);
  if (!report.ok()) {
    std::cerr << "mpio discover: " << report.status().message() << "\n";
    return 1;
  }
  int failed_portals = 0;
  for (auto& p : report->portals) failed_portals += p.error.empty() ? 0 : 1;
  if (a.json) {
    nlohmann::json j;
    j["portals"] = nlohmann::json::array();
    for (auto& p : report->portals) {
      j["portals"].push_back(
          {{"portal", p.portal}, {"targets", p.targets}, {"error", p.error}});
    }
    j["devices"] = nlohmann::json::array();
    (*engine)->RunOnReactor([&] {
      for (auto* d : report->devices) j["devices"].push_back(DeviceJson(d));
    });
    j["notes"] = report->notes;
    std::cout << j.dump(2) << "\n";
  } else {
    std::vector<std::vector<std::string>> rows = {
        {"PORTAL", "TARGETS", "STATUS"}};
    for (auto& p : report->portals) {
      std::string targets;
      for (auto& t : p.targets)
        absl::StrAppend(&targets, targets.empty() ? "" : " ", t);
      rows.push_back(
          {p.portal, targets.empty() ? "-" : targets,
           p.error.empty() ? "ok" : absl::StrCat("ERROR: ", p.error)});
    }
    std::cout << Table(rows) << "\n";
    (*engine)->RunOnReactor([&] {
      for (auto* d : report->devices) {
        const LunInfo& lun = d->lun();
        std::cout << "Device " << d->identity() << "\n"
                  << "   Vendor/Model: " << lun.inquiry.vendor << " / "
                  << lun.inquiry.product << " (rev " << lun.inquiry.revision
                  << ")\n"
                  << "   Size: " << HumanBytes(d->geometry().size_bytes) << " ("
                  << d->geometry().size_bytes << " bytes, "
                  << d->geometry().block_size << "-byte blocks)\n"
                  << "   Storage Array Type: "
                  << (d->satp() ? d->satp()->name() : "(none)") << "  "
                  << (d->satp() ? d->satp()->Describe() : "") << "\n"
                  << "   Path Selection Policy: "
                  << (d->psp() ? d->psp()->name() : "built-in") << "  "
                  << (d->psp() ? d->psp()->Describe() : "") << "\n"
                  << "   Claimed by: " << d->claim_reason() << "\n"
                  << "   Paths: " << d->paths().size() << " ("
                  << d->usable_paths() << " usable)\n";
        for (const auto& p : d->paths()) {
          std::cout << "      " << p->name() << "  "
                    << PathStateName(p->state()) << "\n";
        }
        std::cout << "\n";
      }
    });
    if (report->devices.empty()) std::cout << "No devices found.\n";
    for (auto& n : report->notes) std::cout << "note: " << n << "\n";
  }
  (*engine)->Shutdown();
  if (report->devices.empty()) return 1;
  return failed_portals ? 3 : 0;
}

}  // namespace

void AddDiscoverCommand(CLI::App* app) {
  auto args = std::make_shared<DiscoverArgs>();
  auto* cmd = app->add_subcommand("discover",
                                  "Log in over every portal and list targets, "
                                  "LUNs and the multipath devices they form.\n"
                                  "Exit status: 0 all portals answered, 3 some "
                                  "portals failed (the rest are listed), "
                                  "1 no device found, 2 bad arguments.");
  AddTargetOptions(cmd, &args->target);
  cmd->add_flag("--json", args->json, "Machine-readable output");
  cmd->callback([args] { throw CLI::RuntimeError(RunDiscover(*args)); });
}

}  // namespace mpio::cli
