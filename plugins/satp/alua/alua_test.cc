// Exercises satp_alua.so through the real C ABI (dlopen) with canned
// REPORT TARGET PORT GROUPS replies and sense data.
#include <doctest/doctest.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "plugins/satp/common/loaded_plugin.h"

namespace mpio_satp {
namespace {

const std::string kSo = std::string(SATP_DIR) + "/satp_alua.so";

std::vector<uint8_t> FixedSense(uint8_t key, uint8_t asc, uint8_t ascq) {
  std::vector<uint8_t> d(18, 0);
  d[0] = 0x70;
  d[2] = key;
  d[7] = 10;
  d[12] = asc;
  d[13] = ascq;
  return d;
}

void AddGroup(std::vector<uint8_t>* d, uint8_t b0, uint16_t tpg, uint8_t status,
              std::vector<uint16_t> ports) {
  d->insert(d->end(), {b0, 0x8F, static_cast<uint8_t>(tpg >> 8),
                       static_cast<uint8_t>(tpg), 0, status, 0,
                       static_cast<uint8_t>(ports.size())});
  for (uint16_t p : ports) {
    d->insert(d->end(),
              {0, 0, static_cast<uint8_t>(p >> 8), static_cast<uint8_t>(p)});
  }
}

// Extended header; TPG 1 AO+pref (ports 1,2), TPG 2 ANO (3), TPG 3 standby
// (4). `itt` is the implicit transition time, `tpg1_status` its status code.
std::vector<uint8_t> Rtpg(uint8_t itt = 0, uint8_t tpg1_status = 0) {
  std::vector<uint8_t> d = {0, 0, 0, 0, 0x10, itt, 0, 0};
  AddGroup(&d, 0x80, 1, tpg1_status, {1, 2});
  AddGroup(&d, 0x01, 2, 0, {3});
  AddGroup(&d, 0x02, 3, 0, {4});
  d[3] = static_cast<uint8_t>(d.size() - 4);
  return d;
}

struct Alua {
  explicit Alua(const char* options = "") : lp(kSo) {
    REQUIRE_MESSAGE(lp.get() != nullptr, lp.error());
    inst = lp->create(options, err, sizeof(err));
  }
  ~Alua() {
    if (inst != nullptr) lp->destroy(inst);
  }
  int Probe(int32_t tpg, int32_t rpid, int status,
            const std::vector<uint8_t>& data, const std::vector<uint8_t>& sense,
            mpio_satp_path_state* out) {
    mpio_satp_path path = {7, "p7", tpg, rpid};
    return lp->probe_result(inst, &path, status, data.data(), data.size(),
                            sense.empty() ? nullptr : sense.data(),
                            sense.size(), out);
  }
  mpio_sense_verdict Classify(int status, const std::vector<uint8_t>& sense) {
    mpio_sense_verdict v;
    const uint8_t cdb[16] = {0x88};
    lp->classify(inst, status, sense.empty() ? nullptr : sense.data(),
                 sense.size(), cdb, sizeof(cdb), &v);
    return v;
  }
  std::string Describe() {
    char buf[256];
    lp->describe(inst, buf, sizeof(buf));
    return buf;
  }
  LoadedPlugin lp;
  void* inst = nullptr;
  char err[256] = {};
};

TEST_CASE("descriptor and claim") {
  Alua a;
  CHECK(a.lp->abi_version == MPIO_PLUGIN_ABI_VERSION);
  CHECK(a.lp->struct_size == sizeof(mpio_plugin));
  CHECK(a.lp->kind == MPIO_PLUGIN_SATP);
  CHECK(std::string(a.lp->name) == "alua");
  CHECK(std::string(a.lp->aliases[0]) == "VMW_SATP_ALUA");
  mpio_lun_info lun = {};
  char why[128] = {};
  CHECK(a.lp->claim(&lun, why, sizeof(why)) == 0);
  CHECK(std::string(why) ==
        "TPGS is 0 in INQUIRY: the target does not report ALUA support");
  char tiny[8];
  CHECK(a.lp->claim(&lun, tiny, sizeof(tiny)) == 0);
  CHECK(std::strlen(tiny) == 7);  // truncated, NUL-terminated
  CHECK(a.lp->claim(nullptr, why, sizeof(why)) == 0);
  for (int tpgs = 1; tpgs <= 3; ++tpgs) {
    lun.tpgs = tpgs;
    CHECK(a.lp->claim(&lun, why, sizeof(why)) == 1);
  }
}

TEST_CASE("option errors list the valid keys") {
  Alua bad("explicit=1");
  CHECK(bad.inst == nullptr);
  CHECK(std::string(bad.err) ==
        "unknown option 'explicit'; valid keys: explicit_allow, followover, "
        "tpgs, retries, busy_delay_ms");
  Alua notbool("explicit_allow=maybe");
  CHECK(notbool.inst == nullptr);
  CHECK(std::string(notbool.err).find("expected 0 or 1") != std::string::npos);
  Alua tpgs("tpgs=4");
  CHECK(tpgs.inst == nullptr);
  Alua good("explicit_allow=0,followover=off,tpgs=1,retries=4");
  REQUIRE(good.inst != nullptr);
  CHECK(good.Describe() ==
        "{implicit_support=on,explicit_support=off,explicit_allow=off,"
        "alua_followover=off,retries=4}");
  Alua def;
  CHECK(def.Describe() ==
        "{implicit_support=unknown,explicit_support=unknown,explicit_allow=on,"
        "alua_followover=on,retries=10}");
}

TEST_CASE("probe command is RTPG extended") {
  Alua a;
  REQUIRE(a.inst != nullptr);
  mpio_scsi_cdb c;
  std::memset(&c, 0xEE, sizeof(c));
  REQUIRE(a.lp->probe_command(a.inst, &c) == 1);
  CHECK(c.cdb_len == 12);
  CHECK(c.cdb[0] == 0xA3);
  CHECK(c.cdb[1] == 0x2A);
  CHECK(c.cdb[8] == 0x10);  // 4096
  CHECK(c.cdb[9] == 0x00);
  CHECK(c.data_direction == 1);
  CHECK(c.transfer_len == 4096);
  CHECK(c.cdb[12] == 0);  // the rest is cleared
}

TEST_CASE("probe result maps each path to its group") {
  Alua a;
  REQUIRE(a.inst != nullptr);
  mpio_satp_path_state s;
  // By TPG designator.
  REQUIRE(a.Probe(2, -1, 0, Rtpg(), {}, &s) == 0);
  CHECK(s.alua_state == MPIO_ALUA_ACTIVE_NON_OPTIMIZED);
  CHECK(s.target_port_group == 2);
  CHECK(s.preferred == 0);
  CHECK(std::string(s.reason) == "TPG 2 active/non-optimized");
  REQUIRE(a.Probe(1, 1, 0, Rtpg(), {}, &s) == 0);
  CHECK(s.alua_state == MPIO_ALUA_ACTIVE_OPTIMIZED);
  CHECK(s.preferred == 1);
  CHECK(std::string(s.reason) == "TPG 1 active/optimized, preferred");
  // By relative port id only.
  REQUIRE(a.Probe(-1, 4, 0, Rtpg(), {}, &s) == 0);
  CHECK(s.alua_state == MPIO_ALUA_STANDBY);
  CHECK(s.target_port_group == 3);
  // A stale TPG designator: the relative port decides.
  REQUIRE(a.Probe(9, 3, 0, Rtpg(), {}, &s) == 0);
  CHECK(s.target_port_group == 2);
  // Unknown to the array.
  CHECK(a.Probe(-1, 9, 0, Rtpg(), {}, &s) == -1);
  CHECK(std::string(s.reason).find("(1,2,3)") != std::string::npos);
  // No designators and more than one group: ambiguous.
  CHECK(a.Probe(-1, -1, 0, Rtpg(), {}, &s) == -1);
  CHECK(a.Describe().find("{TPG_id=1,TPG_state=AO},{TPG_id=2,TPG_state=ANO},"
                          "{TPG_id=3,TPG_state=STBY}") != std::string::npos);
}

TEST_CASE("probe result: one group, failures, malformed data") {
  Alua a;
  REQUIRE(a.inst != nullptr);
  mpio_satp_path_state s;
  std::vector<uint8_t> one = {0, 0, 0, 0};
  AddGroup(&one, 0x0F, 5, 0, {});  // length-only header, transitioning
  one[3] = static_cast<uint8_t>(one.size() - 4);
  REQUIRE(a.Probe(-1, -1, 0, one, {}, &s) == 0);
  CHECK(s.alua_state == MPIO_ALUA_TRANSITIONING);
  CHECK(s.target_port_group == 5);

  // tgtd: CHECK CONDITION ILLEGAL REQUEST / INVALID FIELD IN CDB.
  CHECK(a.Probe(-1, -1, 2, {}, FixedSense(0x5, 0x24, 0x00), &s) == -1);
  CHECK(s.alua_state == MPIO_ALUA_NONE);
  CHECK(std::string(s.reason) ==
        "REPORT TARGET PORT GROUPS failed: ILLEGAL REQUEST/INVALID FIELD IN "
        "CDB (24/00)");
  // A UA on the probe: state not known yet.
  CHECK(a.Probe(1, -1, 2, {}, FixedSense(0x6, 0x2A, 0x06), &s) == -1);
  CHECK(s.alua_state == MPIO_ALUA_TRANSITIONING);
  CHECK(a.Probe(1, -1, 0x08, {}, {}, &s) == -1);
  CHECK(std::string(s.reason).find("BUSY") != std::string::npos);

  auto lying = Rtpg();
  lying[8 + 7] = 60;
  CHECK(a.Probe(1, -1, 0, lying, {}, &s) == -1);
  CHECK(std::string(s.reason).find("malformed") != std::string::npos);
  auto reserved = Rtpg();
  reserved[8] = 0x85;  // TPG 1 in reserved state 5
  CHECK(a.Probe(1, -1, 0, reserved, {}, &s) == -1);
  CHECK(std::string(s.reason).find("reserved") != std::string::npos);
  mpio_satp_path path = {1, "p", 1, -1};
  CHECK(a.lp->probe_result(a.inst, &path, 0, nullptr, 0, nullptr, 0, &s) == -1);
}

TEST_CASE("ALUA classification, then the common table") {
  Alua a;
  REQUIRE(a.inst != nullptr);
  auto t = a.Classify(2, FixedSense(0x2, 0x04, 0x0A));
  CHECK(t.action == MPIO_ACTION_RETRY_DELAY);
  CHECK(t.delay_ms == 1000);
  CHECK(t.max_retries == 60);  // no implicit transition time known: 60 s
  mpio_satp_path_state s;
  REQUIRE(a.Probe(1, -1, 0, Rtpg(/*itt=*/15), {}, &s) == 0);
  t = a.Classify(2, FixedSense(0x2, 0x04, 0x0A));
  CHECK(t.max_retries == 15);

  struct Code {
    uint8_t key, asc, ascq;
  };
  for (const Code& c :
       {Code{0x2, 0x04, 0x0B}, Code{0x2, 0x04, 0x0C}, Code{0x5, 0x04, 0x0B},
        Code{0x6, 0x2A, 0x06}, Code{0x6, 0x2A, 0x07}}) {
    CAPTURE(static_cast<int>(c.asc));
    CAPTURE(static_cast<int>(c.ascq));
    auto v = a.Classify(2, FixedSense(c.key, c.asc, c.ascq));
    CHECK(v.action == MPIO_ACTION_REPROBE);
    CHECK(v.max_retries == 10);
  }
  CHECK(std::string(a.Classify(2, FixedSense(0x6, 0x2A, 0x06)).reason) ==
        "UNIT ATTENTION/ASYMMETRIC ACCESS STATE CHANGED (2A/06)");
  // Shared rows.
  auto m = a.Classify(2, FixedSense(0x3, 0x11, 0x00));
  CHECK(m.action == MPIO_ACTION_FAIL_IO);
  CHECK(m.errno_value == EIO);
  CHECK(a.Classify(0x28, {}).action == MPIO_ACTION_RETRY_DELAY);
  CHECK(a.Classify(2, FixedSense(0x5, 0x25, 0x00)).action ==
        MPIO_ACTION_DEVICE_LOST);
  CHECK(a.Classify(2, FixedSense(0x6, 0x29, 0x00)).action ==
        MPIO_ACTION_RETRY_SAME);
}

TEST_CASE("activate builds STPG only when useful and allowed") {
  Alua a;
  REQUIRE(a.inst != nullptr);
  mpio_satp_path_state s;
  REQUIRE(a.Probe(1, -1, 0, Rtpg(), {}, &s) == 0);
  mpio_scsi_cdb c;
  CHECK(a.lp->activate_command(a.inst, 1, &c) == 0);  // already AO
  REQUIRE(a.lp->activate_command(a.inst, 3, &c) == 1);
  CHECK(c.cdb_len == 12);
  CHECK(c.cdb[0] == 0xA4);
  CHECK(c.cdb[1] == 0x0A);
  CHECK(c.cdb[9] == 8);
  CHECK(c.data_direction == 2);
  CHECK(c.transfer_len == 8);
  const uint8_t params[8] = {0, 0, 0, 0, 0x00, 0, 0x00, 0x03};
  CHECK(std::memcmp(c.data, params, 8) == 0);
  CHECK(a.lp->activate_command(a.inst, -1, &c) == 0);
  CHECK(a.lp->activate_command(a.inst, 70000, &c) == 0);

  Alua off("explicit_allow=0");
  CHECK(off.lp->activate_command(off.inst, 3, &c) == 0);
  Alua implicit_only("tpgs=1");
  CHECK(implicit_only.lp->activate_command(implicit_only.inst, 3, &c) == 0);
  Alua both("tpgs=3");
  CHECK(both.lp->activate_command(both.inst, 3, &c) == 1);

  // TPG 1 became AO by an implicit transition (status code 2).
  Alua follow("followover=1");
  REQUIRE(follow.Probe(1, -1, 0, Rtpg(0, /*tpg1_status=*/2), {}, &s) == 0);
  CHECK(follow.lp->activate_command(follow.inst, 3, &c) == 0);
  Alua fight("followover=0");
  REQUIRE(fight.Probe(1, -1, 0, Rtpg(0, 2), {}, &s) == 0);
  CHECK(fight.lp->activate_command(fight.inst, 3, &c) == 1);
}

TEST_CASE("tpgs=forced: RTPG states used; unsupported RTPG reads as not ALUA") {
  Alua f("tpgs=forced");
  REQUIRE(f.inst != nullptr);
  CHECK(f.Describe() ==
        "{implicit_support=unknown,explicit_support=unknown,explicit_allow=on,"
        "alua_followover=on,retries=10,tpgs=forced}");
  mpio_satp_path_state s;
  REQUIRE(f.Probe(-1, 3, 0, Rtpg(), {}, &s) == 0);
  CHECK(s.alua_state == MPIO_ALUA_ACTIVE_NON_OPTIMIZED);
  CHECK(s.target_port_group == 2);
  // ILLEGAL REQUEST (RTPG not supported): understood, path not ALUA.
  REQUIRE(f.Probe(-1, 3, 2, {}, FixedSense(0x5, 0x20, 0x00), &s) == 0);
  CHECK(s.alua_state == MPIO_ALUA_NONE);
  CHECK(std::string(s.reason).find("tpgs=forced, but REPORT TARGET PORT "
                                   "GROUPS failed") == 0);
  CHECK(f.Describe().find(",tpgs=forced,rtpg=unsupported") !=
        std::string::npos);
  // Other failures (UA after a change) stay "not understood, try again".
  CHECK(f.Probe(-1, 3, 2, {}, FixedSense(0x6, 0x2A, 0x06), &s) == -1);
  // Without forced, unsupported RTPG is still a failed probe.
  Alua plain("tpgs=1");
  CHECK(plain.Probe(-1, 3, 2, {}, FixedSense(0x5, 0x20, 0x00), &s) == -1);
  Alua upper("TPGS=Forced");
  CHECK(upper.inst != nullptr);
  Alua typo("tpgs=force");
  CHECK(typo.inst == nullptr);
}

}  // namespace
}  // namespace mpio_satp
