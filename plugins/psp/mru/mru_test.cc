// psp_mru.so through the real ABI: stays put, moves only on failure, never
// fails back, ALUA tiers, options and describe().
#include <doctest/doctest.h>

#include <string>

#include "plugins/psp/common/psp_test_harness.h"

namespace mpio_psp_test {
namespace {

const mpio_plugin* Mru() {
  static PspLibrary lib(PspLibrary::BuildPath("psp_mru.so"));
  REQUIRE(lib.plugin() != nullptr);
  return lib.plugin();
}

TEST_CASE("mru: stays on its path, fails over, never fails back") {
  PspInstance psp(Mru(), "");
  CHECK(psp.Describe() == "{current=none}");
  FakeDevice dev(psp);
  for (int i = 0; i < 3; ++i) dev.AddPath();
  CHECK(Pattern(dev, 3) == "000");
  CHECK(psp.Describe() == "{current=p0}");
  dev.SetUsable(0, false);
  CHECK(Pattern(dev, 2) == "11");
  dev.SetUsable(0, true);
  CHECK(Pattern(dev, 3) == "111");  // no failback
  CHECK(psp.Describe() == "{current=p1}");
  dev.SetUsable(1, false);
  CHECK(Pattern(dev, 2) == "22");  // the next index after 1, not 0
  dev.SetUsable(1, true);
  dev.SetUsable(2, false);
  CHECK(Pattern(dev, 2) == "00");  // wraps around
  dev.SetUsable(0, false);
  dev.SetUsable(1, false);
  CHECK(dev.Peek() == -1);
  dev.SetUsable(2, true);
  CHECK(Pattern(dev, 1) == "2");
}

TEST_CASE("mru: optimized paths first, standby never") {
  PspInstance psp(Mru(), "");
  FakeDevice dev(psp);
  dev.AddPath(MPIO_ALUA_ACTIVE_NON_OPTIMIZED);
  dev.AddPath(MPIO_ALUA_UNAVAILABLE);
  dev.AddPath(MPIO_ALUA_ACTIVE_OPTIMIZED);
  CHECK(Pattern(dev, 2) == "22");
  dev.SetUsable(2, false);
  CHECK(Pattern(dev, 2) == "00");  // ANO only when no AO is usable
  dev.SetAlua(0, MPIO_ALUA_OFFLINE);
  CHECK(dev.Peek() == -1);
}

TEST_CASE("mru: takes no options") {
  std::string err;
  CHECK(TryCreate(Mru(), "rank=1", &err) == nullptr);
  CHECK(err.find("valid keys: (none)") != std::string::npos);
  void* blank = TryCreate(Mru(), " ; ", &err);
  CHECK(blank != nullptr);
  if (blank != nullptr) Mru()->destroy(blank);
}

}  // namespace
}  // namespace mpio_psp_test
