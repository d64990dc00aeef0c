#include "engine/scsi/rtpg.h"

#include <doctest/doctest.h>

#include <vector>

namespace mpio::scsi {
namespace {

void AddGroup(std::vector<uint8_t>* d, uint8_t b0, uint8_t sup, uint16_t tpg,
              uint8_t status, std::vector<uint16_t> ports) {
  d->insert(d->end(),
            {b0, sup, static_cast<uint8_t>(tpg >> 8), static_cast<uint8_t>(tpg),
             0, status, 0, static_cast<uint8_t>(ports.size())});
  for (uint16_t p : ports) {
    d->insert(d->end(),
              {0, 0, static_cast<uint8_t>(p >> 8), static_cast<uint8_t>(p)});
  }
}

void SetLength(std::vector<uint8_t>* d) {
  uint32_t n = static_cast<uint32_t>(d->size() - 4);
  (*d)[0] = static_cast<uint8_t>(n >> 24);
  (*d)[1] = static_cast<uint8_t>(n >> 16);
  (*d)[2] = static_cast<uint8_t>(n >> 8);
  (*d)[3] = static_cast<uint8_t>(n);
}

// Extended header, implicit transition time 30 s; TPG 1 AO+pref (ports 1,2),
// TPG 2 ANO (port 3), TPG 3 standby (no ports listed).
std::vector<uint8_t> ThreeGroups() {
  std::vector<uint8_t> d = {0, 0, 0, 0, 0x10, 30, 0, 0};
  AddGroup(&d, 0x80, 0x8F, 1, 0x02, {1, 2});
  AddGroup(&d, 0x01, 0x8F, 2, 0x00, {3});
  AddGroup(&d, 0x02, 0xDF, 3, 0x01, {});
  SetLength(&d);
  return d;
}

TEST_CASE("RTPG extended header, three groups") {
  auto d = ThreeGroups();
  auto r = ParseReportTargetPortGroups(d);
  REQUIRE(r.ok());
  CHECK(r->extended);
  CHECK(r->implicit_transition_time == 30);
  CHECK(!r->truncated);
  CHECK(r->needed_alloc_len == d.size());
  REQUIRE(r->groups.size() == 3);
  const auto& g1 = r->groups[0];
  CHECK(g1.target_port_group == 1);
  CHECK(g1.asymmetric_access_state == kAluaActiveOptimized);
  CHECK(g1.pref);
  CHECK(g1.t_sup);
  CHECK(!g1.o_sup);
  CHECK(!g1.lbd_sup);
  CHECK(g1.u_sup);
  CHECK(g1.s_sup);
  CHECK(g1.an_sup);
  CHECK(g1.ao_sup);
  CHECK(g1.status_code == 2);
  CHECK(g1.relative_port_ids == std::vector<uint16_t>{1, 2});
  CHECK(r->groups[1].asymmetric_access_state == kAluaActiveNonOptimized);
  CHECK(!r->groups[1].pref);
  CHECK(r->groups[1].relative_port_ids == std::vector<uint16_t>{3});
  CHECK(r->groups[2].asymmetric_access_state == kAluaStandby);
  CHECK(r->groups[2].o_sup);
  CHECK(r->groups[2].lbd_sup);
  CHECK(r->groups[2].relative_port_ids.empty());
  CHECK(std::string(AluaStateName(kAluaStandby)) == "standby");
  CHECK(std::string(AluaStateShortName(kAluaActiveNonOptimized)) == "ANO");
  CHECK(std::string(AluaStateName(0x7)) == "reserved");
}

TEST_CASE("RTPG length-only header") {
  std::vector<uint8_t> d = {0, 0, 0, 0};
  AddGroup(&d, 0x0F, 0x80, 0x0102, 0, {0x0A0B});
  SetLength(&d);
  auto r = ParseReportTargetPortGroups(d);
  REQUIRE(r.ok());
  CHECK(!r->extended);
  CHECK(r->implicit_transition_time == 0);
  REQUIRE(r->groups.size() == 1);
  CHECK(r->groups[0].asymmetric_access_state == kAluaTransitioning);
  CHECK(r->groups[0].target_port_group == 0x0102);
  CHECK(r->groups[0].relative_port_ids == std::vector<uint16_t>{0x0A0B});
}

TEST_CASE("RTPG truncated by the allocation length") {
  auto d = ThreeGroups();
  // First group (8 + 8 port bytes) plus half of the second.
  auto r = ParseReportTargetPortGroups(std::span(d).first(8 + 16 + 6));
  REQUIRE(r.ok());
  CHECK(r->truncated);
  CHECK(r->needed_alloc_len == d.size());
  REQUIRE(r->groups.size() == 1);
  CHECK(r->groups[0].target_port_group == 1);
  auto tiny = ParseReportTargetPortGroups(std::span(d).first(6));
  REQUIRE(tiny.ok());
  CHECK(tiny->truncated);
  CHECK(tiny->groups.empty());
}

TEST_CASE("RTPG lying lengths") {
  auto d = ThreeGroups();
  d[8 + 7] = 50;  // TPG 1 claims 50 ports
  auto r = ParseReportTargetPortGroups(d);
  REQUIRE(!r.ok());
  CHECK(r.status().message().find("TARGET PORT COUNT 50") != std::string::npos);
  // RETURN DATA LENGTH ends inside a descriptor header.
  auto ragged = ThreeGroups();
  ragged.resize(ragged.size() + 3, 0);
  SetLength(&ragged);
  CHECK(!ParseReportTargetPortGroups(ragged).ok());
  // Unknown format type.
  auto fmt = ThreeGroups();
  fmt[4] = 0x20;
  auto f = ParseReportTargetPortGroups(fmt);
  REQUIRE(!f.ok());
  CHECK(f.status().message().find("FORMAT TYPE 2") != std::string::npos);
  CHECK(!ParseReportTargetPortGroups(std::span(d).first(3)).ok());
  // Declared shorter than received: extra bytes are ignored.
  auto extra = ThreeGroups();
  size_t real = extra.size();
  extra.resize(real + 16, 0xFF);
  auto e = ParseReportTargetPortGroups(extra);
  REQUIRE(e.ok());
  CHECK(e->groups.size() == 3);
}

}  // namespace
}  // namespace mpio::scsi
