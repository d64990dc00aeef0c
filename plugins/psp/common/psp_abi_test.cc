// Loader-less ABI check of every built PSP: dlopen() the .so, call the entry
// symbol, check the descriptor, and make one instance through it.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "mpio/plugin.h"
#include "plugins/psp/common/psp_test_harness.h"

namespace mpio_psp_test {
namespace {

struct Expected {
  const char* file;
  const char* name;
  std::vector<std::string> aliases;
};

TEST_CASE("every PSP has a well-formed descriptor") {
  const Expected kPlugins[] = {
      {"psp_fixed.so", "fixed", {"VMW_PSP_FIXED"}},
      {"psp_mru.so", "mru", {"VMW_PSP_MRU"}},
      {"psp_rr.so", "rr", {"VMW_PSP_RR"}},
      {"psp_lqd.so", "lqd", {"queue-length"}},
      {"psp_st.so", "st", {"service-time"}},
  };
  for (const auto& e : kPlugins) {
    CAPTURE(e.file);
    PspLibrary lib(PspLibrary::BuildPath(e.file));
    const mpio_plugin* p = lib.plugin();
    REQUIRE(p != nullptr);
    CHECK(p->abi_version == MPIO_PLUGIN_ABI_VERSION);
    CHECK(p->struct_size == sizeof(mpio_plugin));
    CHECK(p->kind == MPIO_PLUGIN_PSP);
    CHECK(std::string(p->name) == e.name);
    std::vector<std::string> aliases;
    for (const char* const* a = p->aliases; a != nullptr && *a != nullptr;
         ++a) {
      aliases.push_back(*a);
    }
    CHECK(aliases == e.aliases);
    REQUIRE(p->summary != nullptr);
    CHECK(std::string(p->summary).size() > 10);
    REQUIRE(p->options_help != nullptr);
    // Every PSP callback is there; SATP callbacks are not.
    CHECK(!(p->create == nullptr));
    CHECK(!(p->destroy == nullptr));
    CHECK(!(p->describe == nullptr));
    CHECK(!(p->select == nullptr));
    CHECK(!(p->on_complete == nullptr));
    CHECK(!(p->paths_changed == nullptr));
    CHECK((p->claim == nullptr));
    CHECK((p->probe_command == nullptr));
    CHECK((p->probe_result == nullptr));
    CHECK((p->classify == nullptr));
    CHECK((p->activate_command == nullptr));
    // The entry returns the same static descriptor each time.
    auto entry = reinterpret_cast<mpio_plugin_entry_fn>(
        dlsym(lib.handle(), MPIO_PLUGIN_ENTRY_SYMBOL));
    CHECK(entry() == p);

    // Default options work; with no paths, select says "none".
    PspInstance inst(p, "");
    mpio_io_info io = {MPIO_IO_READ, 0, 512, 1};
    CHECK(p->select(inst.get(), nullptr, 0, &io) == -1);
    // describe() honours cap and NUL-terminates; returns the wanted length.
    char small[4] = {'x', 'x', 'x', 'x'};
    size_t want = p->describe(inst.get(), small, sizeof(small));
    CHECK(want > 3);
    CHECK(small[3] == '\0');
    CHECK(want == inst.Describe().size());
    // NULL options are the same as empty ones.
    std::string err;
    void* again = TryCreate(p, nullptr, &err);
    CHECK(again != nullptr);
    if (again != nullptr) p->destroy(again);
    // Nonsense is refused with the valid keys named.
    void* bad = TryCreate(p, "nonsense_key=1", &err);
    CHECK(bad == nullptr);
    CHECK(err.find("valid keys") != std::string::npos);
  }
}

}  // namespace
}  // namespace mpio_psp_test
