#include "engine/control/control_handler.h"

#include <algorithm>
#include <exception>
#include <initializer_list>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/control/control_json.h"
#include "engine/control/preflight_gather.h"

namespace mpio::control {
namespace {

using nlohmann::json;

constexpr const char* kCommands =
    "ping, device.list, device.set, device.reclaim, path.list, path.set, "
    "path.fail, rule.list, "
    "rule.add, rule.remove, rule.explain, events, check";

// Refuses fields the command does not know: a misspelt option must not be
// silently ignored (e.g. "prefered" would otherwise do nothing).
absl::Status CheckFields(const json& req,
                         std::initializer_list<const char*> allowed) {
  for (const auto& [key, value] : req.items()) {
    if (key == "cmd") continue;
    bool known = false;
    for (const char* a : allowed) known = known || key == a;
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown field '", key, "' for ", req["cmd"].get<std::string>(),
          allowed.size()
              ? absl::StrCat(" (known: ", absl::StrJoin(allowed, ", "), ")")
              : std::string(" (it takes none)")));
    }
  }
  return absl::OkStatus();
}

// Optional string field: absent/null -> nullopt-like (false), wrong type ->
// error.
absl::StatusOr<bool> GetString(const json& req, const char* key,
                               std::string* out) {
  auto it = req.find(key);
  if (it == req.end() || it->is_null()) return false;
  if (!it->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("field \"", key, "\" must be a string"));
  }
  *out = it->get<std::string>();
  return true;
}

absl::StatusOr<std::string> RequireString(const json& req, const char* key,
                                          const char* what) {
  std::string v;
  auto got = GetString(req, key, &v);
  if (!got.ok()) return got.status();
  if (!*got || v.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("missing \"", key, "\": ", what));
  }
  return v;
}

absl::Status NoDevice(const std::string& name) {
  return absl::NotFoundError(
      absl::StrCat("no device '", name,
                   "': run `mpio device list` to see device names (a unique "
                   "prefix or the index also works)"));
}

// On the reactor: the device a request names, or every device when it
// names none.
absl::StatusOr<std::vector<MultipathDevice*>> NamedOrAll(
    Engine* engine, bool named, const std::string& name) {
  if (!named) return engine->devices();
  MultipathDevice* d = engine->FindDevice(name);
  if (d == nullptr) return NoDevice(name);
  return std::vector<MultipathDevice*>{d};
}

struct PathRef {
  MultipathDevice* device = nullptr;
  Path* path = nullptr;
};

// Reactor thread. A path is named by its full name, its portal (when only
// one path uses that portal), or "<device>:<index>".
absl::StatusOr<PathRef> ResolvePath(Engine* engine, const std::string& key) {
  std::vector<PathRef> by_portal;
  for (MultipathDevice* d : engine->devices()) {
    for (const auto& p : d->paths()) {
      if (!p) continue;
      if (p->name() == key) return PathRef{d, p.get()};
      if (p->session_config().portal == key) by_portal.push_back({d, p.get()});
    }
  }
  if (by_portal.size() == 1) return by_portal.front();
  if (by_portal.size() > 1) {
    std::vector<std::string> ids;
    for (auto& r : by_portal) ids.push_back(PathId(*r.device, *r.path));
    return absl::InvalidArgumentError(absl::StrCat(
        "portal ", key, " carries ", by_portal.size(),
        " paths (one per LUN): name one of them: ", absl::StrJoin(ids, ", ")));
  }
  const size_t colon = key.rfind(':');
  uint32_t index = 0;
  if (colon != std::string::npos && colon > 0 &&
      absl::SimpleAtoi(key.substr(colon + 1), &index)) {
    if (MultipathDevice* d = engine->FindDevice(key.substr(0, colon))) {
      for (const auto& p : d->paths()) {
        if (p && p->index() == index) return PathRef{d, p.get()};
      }
      return absl::NotFoundError(
          absl::StrCat("device ", d->identity(), " has no path ", index,
                       ": run `mpio path list --device ", d->identity(), "`"));
    }
  }
  return absl::NotFoundError(
      absl::StrCat("no path '", key,
                   "': run `mpio path list` to see paths (name one by its "
                   "NAME, its PORTAL or DEVICE:INDEX)"));
}

absl::StatusOr<json> DeviceList(Engine* engine, const json& req) {
  if (auto s = CheckFields(req, {}); !s.ok()) return s;
  json out = json::array();
  engine->RunOnReactor([&] {
    for (MultipathDevice* d : engine->devices())
      out.push_back(DeviceToJson(*d));
  });
  return out;
}

absl::StatusOr<json> PathList(Engine* engine, const json& req) {
  if (auto s = CheckFields(req, {"device"}); !s.ok()) return s;
  std::string device;
  auto has_device = GetString(req, "device", &device);
  if (!has_device.ok()) return has_device.status();
  absl::StatusOr<json> out = json::array();
  engine->RunOnReactor([&] {
    auto devices = NamedOrAll(engine, *has_device, device);
    if (!devices.ok()) {
      out = devices.status();
      return;
    }
    for (MultipathDevice* d : *devices) {
      for (const auto& p : d->paths()) {
        if (p) out->push_back(PathToJson(*d, *p));
      }
    }
  });
  return out;
}

absl::StatusOr<json> PathSet(Engine* engine, const json& req) {
  if (auto s = CheckFields(req, {"path", "state"}); !s.ok()) return s;
  auto key = RequireString(req, "path", "which path (see `mpio path list`)");
  if (!key.ok()) return key.status();
  auto state = RequireString(req, "state", "\"on\" or \"off\"");
  if (!state.ok()) return state.status();
  const std::string st = absl::AsciiStrToLower(*state);
  bool on;
  if (st == "on" || st == "active" || st == "enable") {
    on = true;
  } else if (st == "off" || st == "disabled" || st == "disable") {
    on = false;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("path state '", *state, "' is not \"on\" or \"off\""));
  }
  absl::StatusOr<json> out;
  engine->RunOnReactor([&] {
    auto ref = ResolvePath(engine, *key);
    if (!ref.ok()) {
      out = ref.status();
      return;
    }
    if (!on && ref->path->state() != PathState::kDisabled &&
        ref->device->usable_paths() == 1 && ref->path->usable()) {
      // Allowed (like esxcli), but the operator should know I/O now queues.
      ref->device->AddEvent(
          absl::StrCat("operator disabled the last working path ",
                       ref->path->name(), ": I/O will queue"));
    }
    // The device records the state change (and this reason) as an event.
    ref->path->SetEnabled(
        on, on ? "enabled by the operator" : "disabled by the operator");
    out = PathToJson(*ref->device, *ref->path);
  });
  return out;
}

absl::StatusOr<json> PathFail(Engine* engine, const json& req) {
  if (auto s = CheckFields(req, {"path"}); !s.ok()) return s;
  auto key = RequireString(req, "path", "which path (see `mpio path list`)");
  if (!key.ok()) return key.status();
  absl::StatusOr<json> out;
  engine->RunOnReactor([&] {
    auto ref = ResolvePath(engine, *key);
    if (!ref.ok()) {
      out = ref.status();
      return;
    }
    if (ref->path->session() == nullptr) {
      out = absl::FailedPreconditionError(absl::StrCat(
          "path ", ref->path->name(), " is ", PathStateName(ref->path->state()),
          " and has no session to fail (", ref->path->last_reason(), ")"));
      return;
    }
    ref->path->FailNow("failed by the operator (failover drill)");
    out = PathToJson(*ref->device, *ref->path);
  });
  return out;
}

absl::StatusOr<json> DeviceSet(Engine* engine, const json& req) {
  if (auto s = CheckFields(req, {"device", "psp", "psp_options", "preferred"});
      !s.ok())
    return s;
  auto name =
      RequireString(req, "device", "which device (see `mpio device list`)");
  if (!name.ok()) return name.status();
  std::string psp, psp_options, preferred;
  auto has_psp = GetString(req, "psp", &psp);
  if (!has_psp.ok()) return has_psp.status();
  auto has_options = GetString(req, "psp_options", &psp_options);
  if (!has_options.ok()) return has_options.status();
  auto has_preferred = GetString(req, "preferred", &preferred);
  if (!has_preferred.ok()) return has_preferred.status();
  if (!*has_psp && !*has_options && !*has_preferred) {
    return absl::InvalidArgumentError(
        "device.set changes nothing: give \"psp\", \"psp_options\" or "
        "\"preferred\"");
  }
  absl::StatusOr<json> out;
  engine->RunOnReactor([&] {
    MultipathDevice* d = engine->FindDevice(*name);
    if (d == nullptr) {
      out = NoDevice(*name);
      return;
    }
    // Validate the preferred path before touching the PSP, so a typo does
    // not leave the device half changed.
    if (*has_preferred && !preferred.empty() &&
        d->FindPath(preferred) == nullptr) {
      out = absl::NotFoundError(
          absl::StrCat("device ", d->identity(), " has no path '", preferred,
                       "': use a path name, portal or index from `mpio "
                       "path list --device ",
                       d->identity(), "`"));
      return;
    }
    if (*has_psp || *has_options) {
      std::string which = psp;
      if (which.empty()) {
        if (d->psp() == nullptr) {
          out = absl::FailedPreconditionError(
              absl::StrCat("device ", d->identity(),
                           " runs the built-in round robin, which takes no "
                           "options: give \"psp\" too"));
          return;
        }
        which = d->psp()->name();
      }
      if (absl::Status s = engine->SetPsp(d, which, psp_options); !s.ok()) {
        out = absl::Status(s.code(), absl::StrCat("device ", d->identity(),
                                                  ": cannot set PSP ", which,
                                                  ": ", s.message()));
        return;
      }
    }
    if (*has_preferred) {
      if (absl::Status s = d->SetPreferred(preferred); !s.ok()) {
        out = s;
        return;
      }
    }
    out = DeviceToJson(*d);
  });
  return out;
}

absl::StatusOr<json> DeviceReclaim(Engine* engine, const json& req) {
  if (auto s = CheckFields(req, {"device"}); !s.ok()) return s;
  auto name =
      RequireString(req, "device", "which device (see `mpio device list`)");
  if (!name.ok()) return name.status();
  absl::StatusOr<json> out;
  engine->RunOnReactor([&] {
    MultipathDevice* d = engine->FindDevice(*name);
    if (d == nullptr) {
      out = NoDevice(*name);
      return;
    }
    absl::Status s = engine->Reclaim(d);
    json j = DeviceToJson(*d);
    // The device is claimed either way (claim rules never hide a device); a
    // non-OK status only means a fallback was taken, which the caller sees.
    if (!s.ok()) j["warning"] = std::string(s.message());
    out = std::move(j);
  });
  return out;
}

absl::StatusOr<json> RuleList(Engine* engine, const json& req) {
  if (auto s = CheckFields(req, {}); !s.ok()) return s;
  json out = json::array();
  engine->RunOnReactor([&] {
    for (const ClaimRule& r : engine->rules().rules())
      out.push_back(RuleToJson(r));
  });
  return out;
}

std::string LoadedNames(const PluginRegistry& plugins, mpio_plugin_kind kind) {
  std::vector<std::string> names;
  for (const auto& p : plugins.plugins()) {
    if (p->ops.kind == static_cast<uint32_t>(kind) && p->ops.name)
      names.push_back(p->ops.name);
  }
  return names.empty() ? "none" : absl::StrJoin(names, ", ");
}

absl::StatusOr<json> RuleAdd(Engine* engine, const json& req) {
  auto rule = RuleFromJson(req);
  if (!rule.ok()) return rule.status();
  absl::StatusOr<json> out;
  engine->RunOnReactor([&] {
    std::vector<std::string> warnings;
    const PluginRegistry& plugins = engine->plugins();
    if (plugins.Find(MPIO_PLUGIN_SATP, rule->satp) == nullptr) {
      warnings.push_back(
          absl::StrCat("SATP ", rule->satp,
                       " is not loaded, so this rule is skipped until it is "
                       "(loaded SATPs: ",
                       LoadedNames(plugins, MPIO_PLUGIN_SATP), ")"));
    }
    if (!rule->psp.empty() &&
        plugins.Find(MPIO_PLUGIN_PSP, rule->psp) == nullptr) {
      warnings.push_back(absl::StrCat(
          "PSP ", rule->psp,
          " is not loaded: devices this rule claims fall back to the "
          "default PSP (loaded PSPs: ",
          LoadedNames(plugins, MPIO_PLUGIN_PSP), ")"));
    }
    json j = RuleToJson(*rule);
    if (absl::Status s = engine->rules().Add(*std::move(rule)); !s.ok()) {
      out = s;
      return;
    }
    warnings.push_back(
        "existing devices keep their plugins until `mpio device reclaim "
        "--device D`");
    j["notes"] = warnings;
    out = std::move(j);
  });
  return out;
}

absl::StatusOr<json> RuleExplain(Engine* engine, const json& req) {
  if (auto s = CheckFields(req, {"device"}); !s.ok()) return s;
  auto name =
      RequireString(req, "device", "which device (see `mpio device list`)");
  if (!name.ok()) return name.status();
  absl::StatusOr<json> out;
  engine->RunOnReactor([&] {
    MultipathDevice* d = engine->FindDevice(*name);
    if (d == nullptr) {
      out = NoDevice(*name);
      return;
    }
    out = json{{"device", d->identity()},
               {"vendor", d->lun().inquiry.vendor},
               {"model", d->lun().inquiry.product},
               {"tpgs", d->lun().inquiry.tpgs},
               {"steps", engine->rules().Explain(d->lun(), engine->plugins())},
               {"current", d->claim_reason()}};
  });
  return out;
}

absl::StatusOr<json> RuleRemove(Engine* engine, const json& req) {
  if (auto s = CheckFields(req, {"id"}); !s.ok()) return s;
  auto id = req.find("id");
  if (id == req.end() || !id->is_number_integer()) {
    return absl::InvalidArgumentError(
        "missing \"id\": the rule number (see `mpio rule list`)");
  }
  const int64_t n = id->get<int64_t>();
  if (n <= 0 || n > 1000000000) {
    return absl::NotFoundError(
        absl::StrCat("no claim rule ", n, ": see `mpio rule list`"));
  }
  absl::StatusOr<json> out;
  engine->RunOnReactor([&] {
    absl::Status s = engine->rules().Remove(static_cast<int>(n));
    if (!s.ok()) {
      out = absl::Status(s.code(),
                         absl::StrCat(s.message(), ": see `mpio rule list`"));
      return;
    }
    out = json{{"removed", n}};
  });
  return out;
}

// Preflight lint of the running setup (`mpio check`).
absl::StatusOr<json> Check(Engine* engine, const json& req) {
  if (auto s = CheckFields(req, {}); !s.ok()) return s;
  json out;
  engine->RunOnReactor([&] { out = RunPreflight(engine); });
  return out;
}

absl::StatusOr<json> Events(Engine* engine, const json& req) {
  if (auto s = CheckFields(req, {"device", "since_ns"}); !s.ok()) return s;
  std::string device;
  auto has_device = GetString(req, "device", &device);
  if (!has_device.ok()) return has_device.status();
  uint64_t since = 0;
  if (auto it = req.find("since_ns"); it != req.end() && !it->is_null()) {
    if (!it->is_number_unsigned() &&
        !(it->is_number_integer() && it->get<int64_t>() >= 0)) {
      return absl::InvalidArgumentError(
          "\"since_ns\" must be a non-negative integer (a \"now_ns\" from an "
          "earlier answer)");
    }
    since = it->get<uint64_t>();
  }
  absl::StatusOr<json> out;
  engine->RunOnReactor([&] {
    auto devices = NamedOrAll(engine, *has_device, device);
    if (!devices.ok()) {
      out = devices.status();
      return;
    }
    struct Row {
      uint64_t time_ns;
      const MultipathDevice* device;
      const std::string* text;
    };
    std::vector<Row> rows;
    for (MultipathDevice* d : *devices) {
      for (const DeviceEvent& e : d->events()) {
        if (e.time_ns > since) rows.push_back({e.time_ns, d, &e.text});
      }
    }
    std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
      return a.time_ns < b.time_ns;
    });
    // Event times are monotonic nanoseconds; show wall-clock time too.
    const uint64_t now_ns = Reactor::NowNs();
    const absl::Time now = absl::Now();
    json list = json::array();
    for (const Row& r : rows) {
      const absl::Time when =
          now - absl::Nanoseconds(static_cast<int64_t>(now_ns - r.time_ns));
      list.push_back({{"time_ns", r.time_ns},
                      {"time", absl::FormatTime("%Y-%m-%d %H:%M:%E3S", when,
                                                absl::LocalTimeZone())},
                      {"device", r.device->identity()},
                      {"text", *r.text}});
    }
    out = json{{"now_ns", now_ns}, {"events", std::move(list)}};
  });
  return out;
}

}  // namespace

std::string ControlHandler::ErrorLine(std::string_view message) {
  return DumpJson(json{{"ok", false}, {"error", std::string(message)}});
}

absl::StatusOr<json> ControlHandler::Dispatch(const json& req) {
  if (!req.is_object()) {
    return absl::InvalidArgumentError(
        "a request must be a JSON object like {\"cmd\":\"device.list\"}");
  }
  auto cmd_it = req.find("cmd");
  if (cmd_it == req.end() || !cmd_it->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("missing \"cmd\" (one of: ", kCommands, ")"));
  }
  const std::string cmd = cmd_it->get<std::string>();
  if (cmd == "ping") return json{{"pong", true}};
  if (cmd == "device.list") return DeviceList(engine_, req);
  if (cmd == "device.set") return DeviceSet(engine_, req);
  if (cmd == "device.reclaim") return DeviceReclaim(engine_, req);
  if (cmd == "path.list") return PathList(engine_, req);
  if (cmd == "path.set") return PathSet(engine_, req);
  if (cmd == "path.fail") return PathFail(engine_, req);
  if (cmd == "rule.list") return RuleList(engine_, req);
  if (cmd == "rule.add") return RuleAdd(engine_, req);
  if (cmd == "rule.remove") return RuleRemove(engine_, req);
  if (cmd == "rule.explain") return RuleExplain(engine_, req);
  if (cmd == "events") return Events(engine_, req);
  if (cmd == "check") return Check(engine_, req);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown command '", cmd, "' (known: ", kCommands, ")"));
}

std::string ControlHandler::Handle(std::string_view line) {
  // nlohmann::json is the one dependency here that throws; this is the edge.
  try {
    json req = json::parse(line.begin(), line.end(), nullptr,
                           /*allow_exceptions=*/false);
    if (req.is_discarded()) {
      return ErrorLine(
          "malformed JSON: send one JSON object per line, e.g. "
          "{\"cmd\":\"device.list\"}");
    }
    absl::StatusOr<json> result = Dispatch(req);
    if (!result.ok()) return ErrorLine(std::string(result.status().message()));
    return DumpJson(json{{"ok", true}, {"result", *std::move(result)}});
  } catch (const std::exception& e) {
    return ErrorLine(
        absl::StrCat("internal error handling the request: ", e.what()));
  }
}

}  // namespace mpio::control
