// PluginRegistry against real, deliberately broken .so files
// (tests/plugins_broken/): each is refused with a message naming the file
// and the reason, and the good plugins in the same folder still load.
#include "engine/claim/plugin_registry.h"

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"

namespace mpio {
namespace {

const std::string kDir = MPIO_BROKEN_PLUGIN_DIR;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

std::string File(const std::string& base) { return kDir + "/" + base + ".so"; }

// The one error of LoadDirectory() that names `base`, or "".
std::string ErrorFor(const std::vector<std::string>& errors,
                     const std::string& base) {
  std::string found;
  for (const auto& e : errors) {
    if (absl::StrContains(e, File(base))) {
      CHECK_MESSAGE(found.empty(), "two errors name ", base);
      found = e;
    }
  }
  return found;
}

struct Loaded {
  PluginRegistry registry;
  std::vector<std::string> errors;
  absl::Duration took;
  Loaded() {
    // Short trial timeout: b_hang_create costs this much per load.
    registry.set_trial_timeout(absl::Milliseconds(500));
    absl::Time start = absl::Now();
    errors = registry.LoadDirectory(kDir);
    took = absl::Now() - start;
  }
};

TEST_CASE("broken plugins are refused, naming file and reason") {
  // Loaded once for every subcase (the hanging plugin costs 500 ms a load).
  static Loaded loaded;
  Loaded& l = loaded;
  for (const auto& e : l.errors) MESSAGE(e);

  SUBCASE("the good ones in the same folder load") {
    const LoadedPlugin* psp = l.registry.Find(MPIO_PLUGIN_PSP, "good_psp");
    REQUIRE(psp != nullptr);
    CHECK(psp->path == File("a_good_psp"));
    const LoadedPlugin* satp = l.registry.Find(MPIO_PLUGIN_SATP, "GOOD_SATP");
    REQUIRE(satp != nullptr);
    CHECK(satp->path == File("a_good_satp"));
    auto inst = l.registry.Create(MPIO_PLUGIN_PSP, "good_psp", "");
    CHECK(inst.ok());
  }
  SUBCASE("exactly the expected set loaded") {
    std::vector<std::string> names;
    for (const auto& p : l.registry.plugins()) names.push_back(p->ops.name);
    std::sort(names.begin(), names.end());
    CHECK(names ==
          std::vector<std::string>{"good_psp", "good_satp", "reject_options"});
    CHECK(l.errors.size() == 8);
  }
  SUBCASE("no entry symbol") {
    std::string e = ErrorFor(l.errors, "b_no_entry");
    CHECK(absl::StrContains(e, "no entry symbol 'mpio_plugin_entry'"));
  }
  SUBCASE("wrong ABI version, both versions named") {
    std::string e = ErrorFor(l.errors, "b_wrong_abi");
    CHECK(absl::StrContains(
        e, absl::StrCat("ABI version ", MPIO_PLUGIN_ABI_VERSION + 41)));
    CHECK(absl::StrContains(
        e, absl::StrCat("engine speaks version ", MPIO_PLUGIN_ABI_VERSION)));
  }
  SUBCASE("duplicate name names the file that has it") {
    std::string e = ErrorFor(l.errors, "b_dup_name");
    CHECK(absl::StrContains(
        e, "PSP name 'good_psp' already provided by " + File("a_good_psp")));
  }
  SUBCASE("entry returning NULL") {
    CHECK(absl::StrContains(ErrorFor(l.errors, "b_null_entry"),
                            "entry returned no descriptor"));
  }
  SUBCASE("struct_size too small") {
    CHECK(absl::StrContains(ErrorFor(l.errors, "b_small_struct"),
                            "descriptor too small (16 bytes)"));
  }
  SUBCASE("PSP without select") {
    CHECK(absl::StrContains(ErrorFor(l.errors, "b_no_select"),
                            "PSP without a select callback"));
  }
  SUBCASE("create() that crashes is caught by the trial run") {
    std::string e = ErrorFor(l.errors, "b_crash_create");
    CHECK(absl::StrContains(e, "crashed in a trial run") != kSanitized);
    if (kSanitized) {
      // ASan catches the SEGV in the child and exits non-zero instead.
      CHECK(absl::StrContains(e, "exit status"));
    } else {
      CHECK(absl::StrContains(e, "killed by SIGSEGV"));
    }
    CHECK(l.registry.Find(MPIO_PLUGIN_PSP, "crash_create") == nullptr);
  }
  SUBCASE("create() that hangs is killed after the trial timeout") {
    std::string e = ErrorFor(l.errors, "b_hang_create");
    CHECK(absl::StrContains(e, "did not return within 500ms"));
    CHECK(l.took >= absl::Milliseconds(500));
    CHECK(l.took < absl::Seconds(10));
  }
  SUBCASE("create() refusing options: refused at Create, naming the file") {
    CHECK(ErrorFor(l.errors, "b_reject_options").empty());
    auto inst = l.registry.Create(MPIO_PLUGIN_PSP, "reject_options", "x=1");
    REQUIRE(!inst.ok());
    const std::string m(inst.status().message());
    CHECK(absl::StrContains(m, File("b_reject_options")));
    CHECK(absl::StrContains(m, "refused options 'x=1'"));
    CHECK(absl::StrContains(m, "unknown option 'x=1': this plugin takes none"));
    CHECK(l.registry.Create(MPIO_PLUGIN_PSP, "reject_options", "").ok());
  }
}

TEST_CASE("trial run off: the crashing plugin loads (and is never called)") {
  PluginRegistry r;
  r.set_trial_timeout(absl::ZeroDuration());
  CHECK(r.LoadFile(File("b_crash_create")).ok());
  CHECK(r.Find(MPIO_PLUGIN_PSP, "crash_create") != nullptr);
}

TEST_CASE("LoadFile on a missing file names it") {
  PluginRegistry r;
  absl::Status s = r.LoadFile(kDir + "/nope.so");
  CHECK(absl::StrContains(s.message(), kDir + "/nope.so: cannot load"));
}

TEST_CASE("no zombie children are left by the trial runs") {
  Loaded l;
  // Every trial child was reaped: there is nothing left to wait for.
  CHECK(waitpid(-1, nullptr, WNOHANG) == -1);
  CHECK(errno == ECHILD);
}

}  // namespace
}  // namespace mpio
