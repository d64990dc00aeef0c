// Loads the out-of-tree example SATP (examples/plugins/satp_skeleton) like
// the engine would, so the example cannot silently rot against the ABI.
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "plugins/satp/common/loaded_plugin.h"

namespace mpio_satp {
namespace {

TEST_CASE("skeleton SATP loads and works through the ABI") {
  LoadedPlugin lp(SKELETON_SO);
  REQUIRE_MESSAGE(lp.get() != nullptr, lp.error());
  CHECK(lp->abi_version == MPIO_PLUGIN_ABI_VERSION);
  CHECK(lp->struct_size == sizeof(mpio_plugin));
  CHECK(lp->kind == MPIO_PLUGIN_SATP);
  mpio_lun_info lun = {};
  std::strcpy(lun.vendor, "ACME");
  char why[64];
  CHECK(lp->claim(&lun, why, sizeof(why)) == 1);
  std::strcpy(lun.vendor, "IET");
  CHECK(lp->claim(&lun, why, sizeof(why)) == 0);
  CHECK(std::string(why) == "vendor is not ACME");
  char err[128];
  CHECK(lp->create("nope", err, sizeof(err)) == nullptr);
  CHECK(std::string(err).find("valid keys: retries") != std::string::npos);
  void* inst = lp->create("retries=3", err, sizeof(err));
  REQUIRE(inst != nullptr);
  char buf[32];
  lp->describe(inst, buf, sizeof(buf));
  CHECK(std::string(buf) == "{retries=3}");
  const uint8_t ua[18] = {0x70, 0, 0x06, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x29};
  mpio_sense_verdict v;
  lp->classify(inst, 2, ua, sizeof(ua), nullptr, 0, &v);
  CHECK(v.action == MPIO_ACTION_RETRY_SAME);
  CHECK(v.max_retries == 3);
  lp->destroy(inst);
}

}  // namespace
}  // namespace mpio_satp
