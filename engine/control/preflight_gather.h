// Preflight gathering: the facts `mpio check` needs, read from a live
// engine (every path's session socket, its config and policy, the device's
// options and claim decision), run through engine/control/preflight.h, and
// rendered as the control socket's answer to {"cmd":"check"}.
//
// Threads: the engine's reactor thread only (inside Engine::RunOnReactor):
// it reads reactor-owned paths and sessions.
// Ownership: borrows the engine; reads sockets, never writes to them.
// Failure: a path whose socket cannot be read is reported as unchecked
// (connected = false), never as an error of the whole check.
// Secrets: CHAP is reported as on/off only.
#ifndef MPIO_ENGINE_CONTROL_PREFLIGHT_GATHER_H_
#define MPIO_ENGINE_CONTROL_PREFLIGHT_GATHER_H_

#include <nlohmann/json.hpp>
#include <vector>

#include "engine/control/preflight.h"
#include "engine/core/engine.h"

namespace mpio::control {

std::vector<preflight::DeviceFacts> GatherPreflightFacts(Engine* engine);

// {"findings":[{severity, code, device, path, problem, fix}...],
//  "errors":N, "warnings":N, "infos":N, "devices":[facts...]}
nlohmann::json RunPreflight(Engine* engine);

nlohmann::json FindingToJson(const preflight::Finding& f);
nlohmann::json FactsToJson(const preflight::DeviceFacts& d);

}  // namespace mpio::control

#endif  // MPIO_ENGINE_CONTROL_PREFLIGHT_GATHER_H_
