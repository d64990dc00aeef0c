// psp_lqd.so through the real ABI: least queue depth, round-robin ties,
// failover, ALUA, options and describe().
#include <doctest/doctest.h>

#include <string>

#include "plugins/psp/common/psp_test_harness.h"

namespace mpio_psp_test {
namespace {

const mpio_plugin* Lqd() {
  static PspLibrary lib(PspLibrary::BuildPath("psp_lqd.so"));
  REQUIRE(lib.plugin() != nullptr);
  return lib.plugin();
}

TEST_CASE("lqd: equal idle paths alternate") {
  PspInstance psp(Lqd(), "");
  FakeDevice dev(psp);
  dev.AddPath();
  dev.AddPath();
  CHECK(Pattern(dev, 4) == "0101");
  dev.AddPath();
  CHECK(Pattern(dev, 6) == "201201");
  CHECK(psp.Describe() == "{lastPathIndex=1}");
}

TEST_CASE("lqd: picks the least loaded path") {
  PspInstance psp(Lqd(), "");
  FakeDevice dev(psp);
  dev.AddPath();
  dev.AddPath();
  dev.AddPath();
  std::string spread;
  for (int i = 0; i < 6; ++i) spread += std::to_string(dev.Issue());
  CHECK(spread == "012012");  // two each
  dev.CompleteOn(1, 1000);
  dev.CompleteOn(1, 1000);
  // Path 1 is empty now: it takes the next two, then ties resume.
  std::string refill;
  for (int i = 0; i < 3; ++i) refill += std::to_string(dev.Issue());
  CHECK(refill == "112");
  CHECK(dev.path(0).inflight_ios == 2);
  CHECK(dev.path(1).inflight_ios == 2);
  CHECK(dev.path(2).inflight_ios == 3);
  CHECK(dev.Issue() == 0);
}

TEST_CASE("lqd: failover, ALUA tiers and no usable path") {
  PspInstance psp(Lqd(), "");
  FakeDevice dev(psp);
  dev.AddPath(MPIO_ALUA_ACTIVE_OPTIMIZED);
  dev.AddPath(MPIO_ALUA_ACTIVE_NON_OPTIMIZED);
  dev.AddPath(MPIO_ALUA_ACTIVE_OPTIMIZED);
  dev.AddPath(MPIO_ALUA_STANDBY);
  // The ANO path is idle but not used while an AO path is usable.
  std::string p;
  for (int i = 0; i < 4; ++i) p += std::to_string(dev.Issue());
  CHECK(p == "0202");
  dev.SetUsable(0, false);
  dev.SetUsable(2, false);
  CHECK(Pattern(dev, 2) == "11");
  dev.SetUsable(1, false);
  CHECK(dev.Peek() == -1);  // standby is never used
}

TEST_CASE("lqd: takes no options") {
  std::string err;
  CHECK(TryCreate(Lqd(), "iops=1", &err) == nullptr);
  CHECK(err.find("valid keys: (none)") != std::string::npos);
}

}  // namespace
}  // namespace mpio_psp_test
