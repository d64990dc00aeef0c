// ControlHandler: one control request (a line of JSON) in, one response (a
// line of JSON) out. The transport-free core of the control socket, so the
// request handling is unit-tested and fuzzed without sockets.
//
// Request:  {"cmd":"device.list"} /
// {"cmd":"path.set","path":"...","state":"off"} ... Response:
// {"ok":true,"result":...} or {"ok":false,"error":"what went wrong and
//           what to do"}.
// Commands: ping, device.list, device.set, device.reclaim, path.list,
// path.set, path.fail, rule.list, rule.add, rule.remove, events (see
// control_handler.cc and `mpio VERB --help` for their fields).
//
// Threads: Handle() may be called from any thread except the engine's
// reactor thread, from several threads at once: every read or change of
// devices, paths and rules runs inside Engine::RunOnReactor.
// Ownership: borrows the engine, which must outlive the handler.
// Failure: a bad request changes nothing and gets an error response; a
// request that the engine refuses (e.g. an unknown PSP) leaves the device as
// it was.
#ifndef MPIO_ENGINE_CONTROL_CONTROL_HANDLER_H_
#define MPIO_ENGINE_CONTROL_CONTROL_HANDLER_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/core/engine.h"

namespace mpio::control {

class ControlHandler {
 public:
  explicit ControlHandler(Engine* engine) : engine_(engine) {}

  // One request line (without the newline) -> one response line (without
  // the newline). Never throws.
  std::string Handle(std::string_view line);

  // The parsed form: the "result" on success, else the error.
  absl::StatusOr<nlohmann::json> Dispatch(const nlohmann::json& request);

  // A response line for a request that never reached Handle() (the server
  // uses it for oversized lines).
  static std::string ErrorLine(std::string_view message);

 private:
  Engine* engine_;
};

}  // namespace mpio::control

#endif  // MPIO_ENGINE_CONTROL_CONTROL_HANDLER_H_
