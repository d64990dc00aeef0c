// JSON views of devices, paths, claim rules and events for the control
// socket (`mpio device list`, `mpio path list`, ...), plus the inverse for
// claim rules (`mpio rule add`).
//
// These are pure functions over engine objects: they never change anything.
// Threads: the device and path functions read reactor-owned state, so call
// them on the engine's reactor thread (inside Engine::RunOnReactor).
// Secrets: CHAP user names and secrets are never part of any view.
#ifndef MPIO_ENGINE_CONTROL_CONTROL_JSON_H_
#define MPIO_ENGINE_CONTROL_CONTROL_JSON_H_

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "engine/claim/claim_rules.h"
#include "engine/device/multipath_device.h"
#include "engine/path/path.h"

namespace mpio::control {

// "active/optimized", "active/non-optimized", "standby", "unavailable",
// "lba-dependent", "offline", "transitioning", or "n/a" (not ALUA).
const char* AluaStateName(int alua_state);

// "TrueNAS iSCSI Disk (naa.6589...)", as ESXi's "Device Display Name".
std::string DisplayName(const MultipathDevice& device);

// "<device identity>:<path index>": a short stable handle for one path.
std::string PathId(const MultipathDevice& device, const Path& path);

nlohmann::json DeviceToJson(const MultipathDevice& device);
nlohmann::json PathToJson(const MultipathDevice& device, const Path& path);
nlohmann::json RuleToJson(const ClaimRule& rule);

// Reads rule fields from a request object. "id" (positive integer) and
// "satp" are required; unknown fields are refused so a typo ("vnedor") does
// not silently make a rule that matches everything.
absl::StatusOr<ClaimRule> RuleFromJson(const nlohmann::json& request);

// Serializes without throwing: invalid UTF-8 (e.g. odd INQUIRY bytes) is
// replaced, never an exception.
std::string DumpJson(const nlohmann::json& j);

}  // namespace mpio::control

#endif  // MPIO_ENGINE_CONTROL_CONTROL_JSON_H_
