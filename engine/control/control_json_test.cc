#include "engine/control/control_json.h"

#include <doctest/doctest.h>

#include "mpio/plugin.h"

namespace mpio::control {
namespace {

// A device with two unstarted paths on a private reactor: enough to check
// the views without a target.
struct Fixture {
  std::unique_ptr<Reactor> reactor;
  std::unique_ptr<MultipathDevice> device;

  Fixture() {
    auto r = Reactor::Create("json-test");
    REQUIRE(r.ok());
    reactor = std::move(r).value();
    reactor->Start();
    reactor->RunSync([this] {
      LunInfo lun;
      lun.inquiry.vendor = "TrueNAS";
      lun.inquiry.product = "iSCSI Disk";
      lun.inquiry.revision = "0123";
      lun.identity = "naa.6589cfc000000abc";
      lun.serial = "SER1";
      lun.capacity.block_size = 512;
      lun.capacity.last_lba = 2047;
      device = std::make_unique<MultipathDevice>(reactor.get(), lun.identity,
                                                 lun, DeviceOptions{});
      for (uint32_t i = 0; i < 2; i++) {
        SessionConfig sc;
        sc.portal = i == 0 ? "198.18.0.2:3260" : "198.18.0.6:3260";
        sc.target_iqn = "iqn.2026-12.org.mpio:lab";
        sc.lun = 1;
        sc.chap_user = "alice";
        sc.chap_secret = "s3cret-chap-password";
        sc.target_chap_secret = "mutual-s3cret";
        device->AddPath(std::make_unique<Path>(reactor.get(), i, sc,
                                               PathPolicy{}, device.get()));
      }
    });
  }
  ~Fixture() {
    reactor->RunSync([this] { device.reset(); });
    reactor->Stop();
    reactor->Join();
  }
};

TEST_CASE("ALUA states have names; non-ALUA is n/a") {
  CHECK(std::string(AluaStateName(MPIO_ALUA_ACTIVE_OPTIMIZED)) ==
        "active/optimized");
  CHECK(std::string(AluaStateName(MPIO_ALUA_ACTIVE_NON_OPTIMIZED)) ==
        "active/non-optimized");
  CHECK(std::string(AluaStateName(MPIO_ALUA_STANDBY)) == "standby");
  CHECK(std::string(AluaStateName(MPIO_ALUA_TRANSITIONING)) == "transitioning");
  CHECK(std::string(AluaStateName(MPIO_ALUA_NONE)) == "n/a");
}

TEST_CASE("device view: identity, plugins, path counts") {
  Fixture f;
  nlohmann::json j;
  f.reactor->RunSync([&] { j = DeviceToJson(*f.device); });
  CHECK(j["identity"] == "naa.6589cfc000000abc");
  CHECK(j["display_name"] == "TrueNAS iSCSI Disk (naa.6589cfc000000abc)");
  CHECK(j["vendor"] == "TrueNAS");
  CHECK(j["model"] == "iSCSI Disk");
  CHECK(j["revision"] == "0123");
  CHECK(j["size_bytes"] == 2048u * 512u);
  CHECK(j["block_size"] == 512);
  CHECK(j["paths"] == 2);
  CHECK(j["usable_paths"] == 0);  // never connected
  CHECK(j["working_paths"].empty());
  CHECK(j["queued_no_path"] == 0);
  CHECK(j["lost"] == false);
  CHECK(j["satp"] == "(built-in)");
}

TEST_CASE("path view: counters, average latency, and no CHAP secrets") {
  Fixture f;
  nlohmann::json j;
  f.reactor->RunSync([&] {
    Path* p = f.device->paths()[1].get();
    p->RecordCompletion(false, 4096, 100'000);  // 100 us
    p->RecordCompletion(true, 8192, 300'000);   // 300 us
    p->counters().errors = 3;
    p->counters().redriven = 4;
    p->counters().failures = 5;
    p->counters().inflight = 6;
    j = PathToJson(*f.device, *p);
  });
  CHECK(j["name"] == "198.18.0.6:3260/iqn.2026-12.org.mpio:lab/lun1");
  CHECK(j["id"] == "naa.6589cfc000000abc:1");
  CHECK(j["portal"] == "198.18.0.6:3260");
  CHECK(j["target"] == "iqn.2026-12.org.mpio:lab");
  CHECK(j["lun"] == 1);
  CHECK(j["state"] == "connecting");
  CHECK(j["alua_state"] == "n/a");
  CHECK(j["reads"] == 1);
  CHECK(j["writes"] == 1);
  CHECK(j["bytes_read"] == 4096);
  CHECK(j["bytes_written"] == 8192);
  CHECK(j["errors"] == 3);
  CHECK(j["redriven"] == 4);
  CHECK(j["failures"] == 5);
  CHECK(j["inflight"] == 6);
  CHECK(j["avg_latency_us"].get<double>() == doctest::Approx(200.0));
  const std::string text = DumpJson(j);
  CHECK(text.find("s3cret") == std::string::npos);
  CHECK(text.find("alice") == std::string::npos);
}

TEST_CASE("rules round-trip through JSON; bad fields are refused") {
  auto rule = RuleFromJson({{"cmd", "rule.add"},
                            {"id", 100},
                            {"vendor", "TrueNAS"},
                            {"model", "iSCSI*"},
                            {"satp", "default_aa"},
                            {"psp", "rr"},
                            {"psp_options", "policy=iops;iops=1"},
                            {"description", "community TrueNAS"}});
  REQUIRE(rule.ok());
  CHECK(rule->id == 100);
  CHECK(rule->vendor == "TrueNAS");
  CHECK(rule->model == "iSCSI*");
  CHECK(rule->psp_options == "policy=iops;iops=1");
  auto back = RuleFromJson(RuleToJson(*rule));
  REQUIRE(back.ok());
  CHECK(back->description == "community TrueNAS");
  CHECK(back->transport == "iscsi");

  CHECK(!RuleFromJson({{"id", 1}}).ok());                      // no SATP
  CHECK(!RuleFromJson({{"satp", "alua"}}).ok());               // no id
  CHECK(!RuleFromJson({{"id", -5}, {"satp", "alua"}}).ok());   // negative
  CHECK(!RuleFromJson({{"id", 1.5}, {"satp", "alua"}}).ok());  // not an integer
  CHECK(!RuleFromJson({{"id", 1}, {"satp", 7}}).ok());         // not a string
  auto typo = RuleFromJson({{"id", 1}, {"satp", "alua"}, {"vnedor", "X"}});
  REQUIRE(!typo.ok());
  CHECK(std::string(typo.status().message()).find("vnedor") !=
        std::string::npos);
}

TEST_CASE("DumpJson survives invalid UTF-8") {
  nlohmann::json j = {{"vendor", std::string("\xff\xfe bad")}};
  CHECK(DumpJson(j).find("bad") != std::string::npos);
}

}  // namespace
}  // namespace mpio::control
