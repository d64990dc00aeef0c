// The example PSP in examples/plugins/psp_skeleton, built out of tree by the
// psp_skeleton_build test, loaded and driven through the real ABI.
#include <doctest/doctest.h>

#include <string>

#include "mpio/plugin.h"
#include "plugins/psp/common/psp_test_harness.h"

namespace mpio_psp_test {
namespace {

TEST_CASE("skeleton: descriptor, round robin, ALUA, no usable path") {
  PspLibrary lib(SKELETON_SO);
  const mpio_plugin* p = lib.plugin();
  REQUIRE(p != nullptr);
  CHECK(p->abi_version == MPIO_PLUGIN_ABI_VERSION);
  CHECK(p->struct_size == sizeof(mpio_plugin));
  CHECK(p->kind == MPIO_PLUGIN_PSP);
  CHECK(std::string(p->name) == "skeleton");

  std::string err;
  CHECK(TryCreate(p, "x=1", &err) == nullptr);
  CHECK(err.find("valid keys") != std::string::npos);

  PspInstance psp(p, "");
  FakeDevice dev(psp);
  dev.AddPath();
  dev.AddPath();
  dev.AddPath();
  CHECK(Pattern(dev, 6) == "012012");
  dev.SetUsable(1, false);
  CHECK(Pattern(dev, 4) == "0202");
  dev.SetAlua(0, MPIO_ALUA_ACTIVE_NON_OPTIMIZED);
  CHECK(Pattern(dev, 3) == "222");
  dev.SetAlua(2, MPIO_ALUA_STANDBY);
  CHECK(Pattern(dev, 2) == "00");
  dev.SetUsable(0, false);
  CHECK(dev.Peek() == -1);
  CHECK(psp.Describe().find("lastPathIndex=0") != std::string::npos);
}

}  // namespace
}  // namespace mpio_psp_test
