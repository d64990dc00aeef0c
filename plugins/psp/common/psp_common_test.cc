// Tests of the shared PSP helpers: ALUA access tiers, round-robin order,
// name copies and the no-options parser.
#include <doctest/doctest.h>

#include <initializer_list>
#include <string>

#include "plugins/psp/common/name_buffer.h"
#include "plugins/psp/common/path_access.h"
#include "plugins/psp/common/path_order.h"
#include "plugins/psp/common/psp_glue.h"

namespace mpio_psp {
namespace {

mpio_psp_path MakePath(uint32_t index, int alua, int usable = 1) {
  mpio_psp_path p = {};
  p.index = index;
  p.name = "p";
  p.usable = usable;
  p.alua_state = alua;
  return p;
}

TEST_CASE("TierOf: active states carry I/O, others never, even if usable") {
  CHECK(TierOf(MakePath(0, MPIO_ALUA_ACTIVE_OPTIMIZED)) ==
        AccessTier::kOptimized);
  CHECK(TierOf(MakePath(0, MPIO_ALUA_NONE)) == AccessTier::kOptimized);
  CHECK(TierOf(MakePath(0, MPIO_ALUA_ACTIVE_NON_OPTIMIZED)) ==
        AccessTier::kNonOptimized);
  for (int s : std::initializer_list<int>{
           MPIO_ALUA_STANDBY, MPIO_ALUA_UNAVAILABLE, MPIO_ALUA_OFFLINE,
           MPIO_ALUA_TRANSITIONING, 0x7}) {
    CHECK(TierOf(MakePath(0, s)) == AccessTier::kExcluded);
  }
  CHECK(TierOf(MakePath(0, MPIO_ALUA_NONE, 0)) == AccessTier::kExcluded);
  CHECK(TierOf(MakePath(kMaxPaths, MPIO_ALUA_NONE)) == AccessTier::kExcluded);
}

TEST_CASE("PathAccess: non-optimized only without optimized, unless asked") {
  mpio_psp_path paths[] = {MakePath(0, MPIO_ALUA_ACTIVE_NON_OPTIMIZED),
                           MakePath(1, MPIO_ALUA_ACTIVE_OPTIMIZED),
                           MakePath(2, MPIO_ALUA_STANDBY)};
  PathAccess a = PathAccess::Compute(paths, 3, false);
  CHECK(a.Any());
  CHECK_FALSE(a.Allows(paths[0]));
  CHECK(a.Allows(paths[1]));
  CHECK_FALSE(a.Allows(paths[2]));

  PathAccess with_ano = PathAccess::Compute(paths, 3, true);
  CHECK(with_ano.Allows(paths[0]));
  CHECK(with_ano.Allows(paths[1]));
  CHECK_FALSE(with_ano.Allows(paths[2]));

  paths[1].usable = 0;
  PathAccess fallback = PathAccess::Compute(paths, 3, false);
  CHECK(fallback.Allows(paths[0]));
  CHECK_FALSE(fallback.Allows(paths[1]));

  paths[0].usable = 0;
  CHECK_FALSE(PathAccess::Compute(paths, 3, false).Any());
  CHECK_FALSE(PathAccess::Compute(nullptr, 0, true).Any());
}

TEST_CASE("FindPath finds by engine index, not position") {
  mpio_psp_path paths[] = {MakePath(7, MPIO_ALUA_NONE),
                           MakePath(3, MPIO_ALUA_NONE)};
  CHECK(FindPath(paths, 2, 3) == 1);
  CHECK(FindPath(paths, 2, 7) == 0);
  CHECK(FindPath(paths, 2, 5) == 2);
  CHECK(FindPath(paths, 2, -1) == 2);
}

TEST_CASE("CyclicDistance orders indices after `last`, wrapping") {
  CHECK(CyclicDistance(0, -1) < CyclicDistance(1, -1));
  // After 2: 3 comes first, then 5, then 0, then 2 itself last.
  CHECK(CyclicDistance(3, 2) < CyclicDistance(5, 2));
  CHECK(CyclicDistance(5, 2) < CyclicDistance(0, 2));
  CHECK(CyclicDistance(0, 2) < CyclicDistance(2, 2));
  CHECK(CyclicDistance(2, 2) == UINT32_MAX);
}

TEST_CASE("NameBuffer copies and truncates") {
  NameBuffer b;
  CHECK(b.Empty());
  b.Set("198.18.0.2:3260/iqn.x/lun0");
  CHECK(std::string(b.c_str()) == "198.18.0.2:3260/iqn.x/lun0");
  std::string longname(1000, 'a');
  b.Set(longname.c_str());
  CHECK(std::string(b.c_str()).size() == 255);
  b.Set(nullptr);
  CHECK(b.Empty());
}

TEST_CASE("ParseNoOptions accepts blanks, refuses anything else") {
  char err[128] = "";
  CHECK(ParseNoOptions("x", nullptr, err, sizeof(err)));
  CHECK(ParseNoOptions("x", " ; , ", err, sizeof(err)));
  CHECK_FALSE(ParseNoOptions("x", "iops=1", err, sizeof(err)));
  CHECK(std::string(err).find("valid keys: (none)") != std::string::npos);
  CHECK(std::string(err).find("iops=1") != std::string::npos);
}

}  // namespace
}  // namespace mpio_psp
