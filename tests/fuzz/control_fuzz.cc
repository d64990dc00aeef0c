// Fuzzes the control socket's request handling (JSON parse + dispatch) over
// an engine with no targets: any bytes must give exactly one well-formed
// JSON response line, never a crash, hang or exception.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "engine/control/control_handler.h"

namespace {

mpio::Engine* TheEngine() {
  static mpio::Engine* engine = [] {
    mpio::EngineOptions o;
    o.plugin_dirs = {"/nonexistent/mpio-control-fuzz"};
    auto e = mpio::Engine::Create(o);
    if (!e.ok()) abort();
    return e->release();  // lives for the whole run
  }();
  return engine;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mpio::Engine* engine = TheEngine();
  mpio::control::ControlHandler handler(engine);
  const std::string out = handler.Handle(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (out.find('\n') != std::string::npos) abort();
  nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("ok") ||
      !j["ok"].is_boolean())
    abort();
  if (j["ok"] == false && !(j.contains("error") && j["error"].is_string()))
    abort();
  // Rules added by one input must not pile up across the run.
  engine->RunOnReactor([engine] {
    while (!engine->rules().rules().empty()) {
      (void)engine->rules().Remove(engine->rules().rules().front().id);
    }
  });
  return 0;
}
