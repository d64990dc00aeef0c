#include "engine/control/control_json.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "mpio/plugin.h"

namespace mpio::control {

const char* AluaStateName(int alua_state) {
  switch (alua_state) {
    case MPIO_ALUA_ACTIVE_OPTIMIZED:
      return "active/optimized";
    case MPIO_ALUA_ACTIVE_NON_OPTIMIZED:
      return "active/non-optimized";
    case MPIO_ALUA_STANDBY:
      return "standby";
    case MPIO_ALUA_UNAVAILABLE:
      return "unavailable";
    case MPIO_ALUA_LBA_DEPENDENT:
      return "lba-dependent";
    case MPIO_ALUA_OFFLINE:
      return "offline";
    case MPIO_ALUA_TRANSITIONING:
      return "transitioning";
    default:
      return "n/a";
  }
}

std::string DisplayName(const MultipathDevice& device) {
  const auto& inq = device.lun().inquiry;
  std::string name = inq.vendor;
  if (!inq.product.empty())
    absl::StrAppend(&name, name.empty() ? "" : " ", inq.product);
  if (name.empty()) return device.identity();
  return absl::StrCat(name, " (", device.identity(), ")");
}

std::string PathId(const MultipathDevice& device, const Path& path) {
  return absl::StrCat(device.identity(), ":", path.index());
}

nlohmann::json DeviceToJson(const MultipathDevice& device) {
  const LunInfo& lun = device.lun();
  nlohmann::json j;
  j["display_name"] = DisplayName(device);
  j["identity"] = device.identity();
  j["vendor"] = lun.inquiry.vendor;
  j["model"] = lun.inquiry.product;
  j["revision"] = lun.inquiry.revision;
  j["serial"] = lun.serial;
  j["size_bytes"] = device.geometry().size_bytes;
  j["block_size"] = device.geometry().block_size;
  j["tpgs"] = lun.inquiry.tpgs;
  const PluginInstance* satp = device.satp();
  const PluginInstance* psp = device.psp();
  // Without plugins the device still works on the engine's built-ins; say so
  // instead of showing an empty name.
  j["satp"] = satp ? satp->name() : "(built-in)";
  j["satp_options"] = satp ? satp->options() : "";
  j["satp_config"] = satp ? satp->Describe() : "{}";
  j["psp"] = psp ? psp->name() : "(built-in round robin)";
  j["psp_options"] = psp ? psp->options() : "";
  j["psp_config"] = psp ? psp->Describe() : "{}";
  j["claim_reason"] = device.claim_reason();
  nlohmann::json working = nlohmann::json::array();
  size_t all = 0;
  for (const auto& p : device.paths()) {
    if (!p) continue;
    all++;
    if (p->usable()) working.push_back(p->name());
  }
  j["working_paths"] = working;
  j["usable_paths"] = device.usable_paths();
  j["paths"] = all;
  j["queued_no_path"] = device.queued_no_path();
  j["lost"] = device.lost();
  return j;
}

nlohmann::json PathToJson(const MultipathDevice& device, const Path& path) {
  const SessionConfig& sc = path.session_config();
  const PathCounters& c = path.counters();
  nlohmann::json j;
  j["name"] = path.name();
  j["id"] = PathId(device, path);
  j["index"] = path.index();
  j["device"] = device.identity();
  j["portal"] = sc.portal;
  j["target"] = sc.target_iqn;
  j["lun"] = sc.lun;
  j["interface"] = sc.interface;
  j["state"] = PathStateName(path.state());
  j["usable"] = path.usable();
  j["reason"] = path.last_reason();
  j["alua_state"] = AluaStateName(path.alua_state());
  j["tpg"] = path.target_port_group();
  j["preferred"] = path.preferred();
  j["reads"] = c.reads;
  j["writes"] = c.writes;
  j["bytes_read"] = c.bytes_read;
  j["bytes_written"] = c.bytes_written;
  j["errors"] = c.errors;
  j["redriven"] = c.redriven;
  j["failures"] = c.failures;
  j["inflight"] = c.inflight;
  j["completed"] = c.completed;
  j["avg_latency_us"] = c.completed
                            ? static_cast<double>(c.latency_ns_sum) / 1000.0 /
                                  static_cast<double>(c.completed)
                            : 0.0;
  return j;
}

nlohmann::json RuleToJson(const ClaimRule& r) {
  return {{"id", r.id},
          {"vendor", r.vendor},
          {"model", r.model},
          {"identity", r.identity},
          {"transport", r.transport},
          {"satp", r.satp},
          {"satp_options", r.satp_options},
          {"psp", r.psp},
          {"psp_options", r.psp_options},
          {"description", r.description}};
}

absl::StatusOr<ClaimRule> RuleFromJson(const nlohmann::json& req) {
  static const std::set<std::string> kFields = {
      "cmd",      "id",          "vendor",     "model",
      "identity", "transport",   "satp",       "satp_options",
      "psp",      "psp_options", "description"};
  if (!req.is_object())
    return absl::InvalidArgumentError("a rule must be a JSON object");
  for (const auto& [key, value] : req.items()) {
    if (kFields.count(key) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown claim rule field '", key,
                       "' (known: id, vendor, model, identity, transport, "
                       "satp, satp_options, psp, "
                       "psp_options, description)"));
    }
  }
  ClaimRule rule;
  auto id = req.find("id");
  if (id == req.end() || !id->is_number_integer()) {
    return absl::InvalidArgumentError(
        "claim rule needs \"id\": a positive integer rule number");
  }
  const int64_t n = id->get<int64_t>();
  if (n <= 0 || n > 1000000000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "claim rule number ", n, " is out of range (1..1000000000)"));
  }
  rule.id = static_cast<int>(n);
  struct Field {
    const char* key;
    std::string* out;
  };
  for (const Field& f :
       {Field{"vendor", &rule.vendor}, Field{"model", &rule.model},
        Field{"identity", &rule.identity}, Field{"transport", &rule.transport},
        Field{"satp", &rule.satp}, Field{"satp_options", &rule.satp_options},
        Field{"psp", &rule.psp}, Field{"psp_options", &rule.psp_options},
        Field{"description", &rule.description}}) {
    auto it = req.find(f.key);
    if (it == req.end() || it->is_null()) continue;
    if (!it->is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("claim rule field \"", f.key, "\" must be a string"));
    }
    *f.out = it->get<std::string>();
  }
  if (rule.satp.empty()) {
    return absl::InvalidArgumentError(
        "claim rule needs \"satp\": the storage array type plugin, e.g. "
        "default_aa or alua");
  }
  return rule;
}

std::string DumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace mpio::control
