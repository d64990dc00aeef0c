#include "engine/control/control_handler.h"

#include <doctest/doctest.h>

#include <string>

namespace mpio::control {
namespace {

using nlohmann::json;

// An engine with no targets and no plugins (so plugin lookups are
// deterministic whatever the build tree holds).
std::unique_ptr<Engine> MakeEngine() {
  EngineOptions o;
  o.plugin_dirs = {"/nonexistent/mpio-control-test"};
  auto e = Engine::Create(o);
  REQUIRE(e.ok());
  return std::move(e).value();
}

json Ask(ControlHandler& h, const std::string& line) {
  const std::string out = h.Handle(line);
  CHECK(out.find('\n') == std::string::npos);  // one response line
  json j = json::parse(out, nullptr, false);
  REQUIRE(!j.is_discarded());
  REQUIRE(j.contains("ok"));
  return j;
}

json Ok(ControlHandler& h, const json& req) {
  json j = Ask(h, req.dump());
  INFO(j.dump());
  REQUIRE(j["ok"] == true);
  return j["result"];
}

std::string Err(ControlHandler& h, const std::string& line) {
  json j = Ask(h, line);
  INFO(j.dump());
  REQUIRE(j["ok"] == false);
  REQUIRE(j["error"].is_string());
  return j["error"].get<std::string>();
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_CASE("lists are empty on an engine with no targets") {
  auto engine = MakeEngine();
  ControlHandler h(engine.get());
  CHECK(Ok(h, {{"cmd", "ping"}})["pong"] == true);
  CHECK(Ok(h, {{"cmd", "device.list"}}) == json::array());
  CHECK(Ok(h, {{"cmd", "path.list"}}) == json::array());
  CHECK(Ok(h, {{"cmd", "rule.list"}}) == json::array());
  json ev = Ok(h, {{"cmd", "events"}});
  CHECK(ev["events"] == json::array());
  CHECK(ev["now_ns"].get<uint64_t>() > 0);
}

TEST_CASE("unknown devices and paths get errors that say what to run") {
  auto engine = MakeEngine();
  ControlHandler h(engine.get());
  CHECK(Has(Err(h, R"({"cmd":"path.list","device":"naa.nope"})"),
            "mpio device list"));
  CHECK(Has(
      Err(h, R"({"cmd":"path.set","path":"198.18.0.2:3260","state":"off"})"),
      "mpio path list"));
  CHECK(Has(Err(h, R"({"cmd":"path.fail","path":"naa.x:0"})"),
            "no path 'naa.x:0'"));
  CHECK(Has(Err(h, R"({"cmd":"device.set","device":"naa.x","psp":"rr"})"),
            "no device 'naa.x'"));
  CHECK(
      Has(Err(h, R"({"cmd":"device.reclaim","device":"0"})"), "no device '0'"));
  CHECK(Has(Err(h, R"({"cmd":"events","device":"naa.x"})"), "no device"));
}

TEST_CASE("bad fields are refused before anything happens") {
  auto engine = MakeEngine();
  ControlHandler h(engine.get());
  CHECK(Has(Err(h, R"({"cmd":"path.set","path":"p","state":"maybe"})"),
            "\"on\" or \"off\""));
  CHECK(Has(Err(h, R"({"cmd":"path.set","state":"on"})"), "missing \"path\""));
  CHECK(Has(Err(h, R"({"cmd":"path.set","path":7,"state":"on"})"),
            "must be a string"));
  CHECK(Has(Err(h, R"({"cmd":"device.set","device":"d"})"), "changes nothing"));
  CHECK(Has(Err(h, R"({"cmd":"device.list","verbose":true})"),
            "unknown field 'verbose'"));
  CHECK(Has(Err(h, R"({"cmd":"device.set","device":"d","prefered":"x"})"),
            "prefered"));
  CHECK(Has(Err(h, R"({"cmd":"events","since_ns":-1})"), "since_ns"));
  CHECK(Has(Err(h, R"({"cmd":"rule.remove"})"), "missing \"id\""));
}

TEST_CASE("malformed requests get an error response") {
  auto engine = MakeEngine();
  ControlHandler h(engine.get());
  CHECK(Has(Err(h, "{\"cmd\":"), "malformed JSON"));
  CHECK(Has(Err(h, "not json at all"), "malformed JSON"));
  CHECK(Has(Err(h, "[1,2,3]"), "JSON object"));
  CHECK(Has(Err(h, "{}"), "missing \"cmd\""));
  CHECK(Has(Err(h, R"({"cmd":42})"), "missing \"cmd\""));
  CHECK(Has(Err(h, R"({"cmd":"device.destroy"})"),
            "unknown command 'device.destroy'"));
  CHECK(Has(Err(h, std::string("{\"cmd\":\"\xff\"}")), "malformed JSON"));
  // Still serving afterwards.
  CHECK(Ok(h, {{"cmd", "ping"}})["pong"] == true);
}

TEST_CASE("claim rules: add, list, remove round trip") {
  auto engine = MakeEngine();
  ControlHandler h(engine.get());
  json added = Ok(h, {{"cmd", "rule.add"},
                      {"id", 100},
                      {"vendor", "TrueNAS"},
                      {"model", "iSCSI*"},
                      {"satp", "VMW_SATP_ALUA"},
                      {"psp", "VMW_PSP_RR"},
                      {"psp_options", "policy=iops;iops=1"},
                      {"description", "TrueNAS recommended"}});
  CHECK(added["id"] == 100);
  // No plugins are loaded here: the rule is accepted but the caller is told.
  CHECK(Has(added["notes"].dump(), "SATP VMW_SATP_ALUA is not loaded"));
  Ok(h, {{"cmd", "rule.add"},
         {"id", 50},
         {"identity", "naa.6000*"},
         {"satp", "default_aa"}});
  CHECK(Has(Err(h, R"({"cmd":"rule.add","id":100,"satp":"default_aa"})"),
            "exists"));
  CHECK(Has(Err(h, R"({"cmd":"rule.add","id":0,"satp":"default_aa"})"),
            "out of range"));

  json list = Ok(h, {{"cmd", "rule.list"}});
  REQUIRE(list.size() == 2);
  CHECK(list[0]["id"] == 50);  // by rule number
  CHECK(list[1]["id"] == 100);
  CHECK(list[1]["vendor"] == "TrueNAS");
  CHECK(list[1]["psp_options"] == "policy=iops;iops=1");
  CHECK(list[1]["description"] == "TrueNAS recommended");

  CHECK(Ok(h, {{"cmd", "rule.remove"}, {"id", 100}})["removed"] == 100);
  CHECK(Has(Err(h, R"({"cmd":"rule.remove","id":100})"), "no claim rule 100"));
  list = Ok(h, {{"cmd", "rule.list"}});
  REQUIRE(list.size() == 1);
  CHECK(list[0]["id"] == 50);
  // The engine sees the same rules.
  size_t n = 0;
  engine->RunOnReactor([&] { n = engine->rules().rules().size(); });
  CHECK(n == 1);
}

}  // namespace
}  // namespace mpio::control
