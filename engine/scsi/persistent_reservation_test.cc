#include "engine/scsi/persistent_reservation.h"

#include <doctest/doctest.h>

#include <vector>

namespace mpio::scsi {
namespace {

TEST_CASE("PR IN READ KEYS") {
  std::vector<uint8_t> d = {0,    0,    0,    7,    0,    0,    0,    16,
                            0,    0,    0,    0,    0,    0,    0xAB, 0x01,
                            0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
  auto k = ParsePrReadKeys(d);
  REQUIRE(k.ok());
  CHECK(k->generation == 7);
  CHECK(k->keys == std::vector<uint64_t>{0xAB01, 0x1122334455667788ull});
  CHECK(!k->truncated);
  auto cut = ParsePrReadKeys(std::span(d).first(20));
  REQUIRE(cut.ok());
  CHECK(cut->truncated);
  CHECK(cut->needed_alloc_len == 24);
  CHECK(cut->keys.size() == 1);
  auto odd = d;
  odd[7] = 12;
  auto o = ParsePrReadKeys(odd);
  REQUIRE(!o.ok());
  CHECK(o.status().message().find("ADDITIONAL LENGTH 12") != std::string::npos);
  CHECK(!ParsePrReadKeys(std::span(d).first(7)).ok());
}

TEST_CASE("PR IN READ RESERVATION") {
  std::vector<uint8_t> none = {0, 0, 0, 3, 0, 0, 0, 0};
  auto n = ParsePrReadReservation(none);
  REQUIRE(n.ok());
  CHECK(!n->reserved);
  CHECK(n->generation == 3);
  std::vector<uint8_t> held(24, 0);
  held[3] = 4;
  held[7] = 16;
  held[15] = 0x42;
  held[21] = 0x05;  // LU scope, WE-RO
  auto h = ParsePrReadReservation(held);
  REQUIRE(h.ok());
  CHECK(h->reserved);
  CHECK(h->key == 0x42);
  CHECK(h->scope == 0);
  CHECK(h->type == 5);
  CHECK(!ParsePrReadReservation(std::span(held).first(20)).ok());
  held[7] = 8;
  CHECK(!ParsePrReadReservation(held).ok());
}

}  // namespace
}  // namespace mpio::scsi
