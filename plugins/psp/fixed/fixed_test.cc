// psp_fixed.so through the real ABI: preferred path choice, failover to the
// lowest usable index, failback, ALUA tiers, options and describe().
#include <doctest/doctest.h>

#include <string>

#include "plugins/psp/common/psp_test_harness.h"

namespace mpio_psp_test {
namespace {

const mpio_plugin* Fixed() {
  static PspLibrary lib(PspLibrary::BuildPath("psp_fixed.so"));
  REQUIRE(lib.plugin() != nullptr);
  return lib.plugin();
}

TEST_CASE("fixed: lowest index is preferred by default, with failback") {
  PspInstance psp(Fixed(), "");
  FakeDevice dev(psp);
  for (int i = 0; i < 3; ++i) dev.AddPath();
  CHECK(Pattern(dev, 4) == "0000");
  CHECK(psp.Describe() == "{preferred=p0, current=p0}");
  dev.SetUsable(0, false);
  CHECK(Pattern(dev, 3) == "111");
  CHECK(psp.Describe() == "{preferred=p0, current=p1}");
  dev.SetUsable(1, false);
  CHECK(Pattern(dev, 2) == "22");
  dev.SetUsable(1, true);
  CHECK(Pattern(dev, 2) == "11");  // lowest usable index, not the last one
  dev.SetUsable(0, true);
  CHECK(Pattern(dev, 3) == "000");  // fails back at once
  CHECK(psp.Describe() == "{preferred=p0, current=p0}");
}

TEST_CASE("fixed: the path flagged preferred wins over lower indices") {
  PspInstance psp(Fixed(), "");
  FakeDevice dev(psp);
  dev.AddPath();
  dev.AddPath();
  dev.AddPath(MPIO_ALUA_NONE, /*preferred=*/1);
  CHECK(Pattern(dev, 3) == "222");
  dev.SetUsable(2, false);
  CHECK(Pattern(dev, 2) == "00");
  dev.SetUsable(2, true);
  CHECK(Pattern(dev, 2) == "22");
  CHECK(psp.Describe() == "{preferred=p2, current=p2}");
}

TEST_CASE("fixed: preferred= option names the path and beats the flag") {
  PspInstance psp(Fixed(), "preferred=p1");
  FakeDevice dev(psp);
  dev.AddPath();
  dev.AddPath();
  dev.AddPath(MPIO_ALUA_NONE, 1);
  CHECK(Pattern(dev, 3) == "111");
  dev.SetUsable(1, false);
  CHECK(Pattern(dev, 2) == "00");
  dev.SetUsable(1, true);
  CHECK(Pattern(dev, 2) == "11");
  CHECK(psp.Describe() == "{preferred=p1, current=p1}");

  // A name that matches no path: no preferred path, lowest usable index.
  PspInstance other(Fixed(), "preferred=nosuchpath");
  FakeDevice dev2(other);
  dev2.AddPath();
  dev2.AddPath();
  dev2.SetUsable(0, false);
  CHECK(Pattern(dev2, 2) == "11");
  CHECK(other.Describe() == "{preferred=nosuchpath, current=p1}");
}

TEST_CASE("fixed: ALUA optimized first, never standby-like states") {
  PspInstance psp(Fixed(), "");
  FakeDevice dev(psp);
  dev.AddPath(MPIO_ALUA_ACTIVE_NON_OPTIMIZED);  // preferred by index
  dev.AddPath(MPIO_ALUA_STANDBY);
  dev.AddPath(MPIO_ALUA_ACTIVE_OPTIMIZED);
  CHECK(Pattern(dev, 2) == "22");  // preferred path is ANO, an AO exists
  dev.SetUsable(2, false);
  CHECK(Pattern(dev, 2) == "00");  // now ANO is the best left
  dev.SetAlua(0, MPIO_ALUA_TRANSITIONING);
  CHECK(dev.Peek() == -1);  // standby/transitioning never, though usable
  dev.SetAlua(1, MPIO_ALUA_ACTIVE_OPTIMIZED);
  CHECK(Pattern(dev, 1) == "1");
}

TEST_CASE("fixed: -1 when nothing is usable, and describe before any I/O") {
  PspInstance psp(Fixed(), "");
  CHECK(psp.Describe() == "{preferred=none, current=none}");
  FakeDevice dev(psp);
  dev.AddPath();
  CHECK(psp.Describe() == "{preferred=p0, current=none}");
  dev.SetUsable(0, false);
  CHECK(dev.Peek() == -1);
}

TEST_CASE("fixed: bad options are refused with the valid keys") {
  std::string err;
  CHECK(TryCreate(Fixed(), "iops=1", &err) == nullptr);
  CHECK(err.find("valid keys: preferred") != std::string::npos);
  CHECK(TryCreate(Fixed(), "preferred=", &err) == nullptr);
  CHECK(err.find("needs a path name") != std::string::npos);
  CHECK(TryCreate(Fixed(), "preferred", &err) == nullptr);
  CHECK(err.find("valid keys: preferred") != std::string::npos);
  CHECK(TryCreate(Fixed(), "preferred=a;preferred=b", &err) == nullptr);
  CHECK(err.find("twice") != std::string::npos);
}

}  // namespace
}  // namespace mpio_psp_test
