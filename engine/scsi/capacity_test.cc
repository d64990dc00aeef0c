#include "engine/scsi/capacity.h"

#include <doctest/doctest.h>

#include <vector>

namespace mpio::scsi {
namespace {

TEST_CASE("READ CAPACITY(16) of a 1 GiB thin LU") {
  std::vector<uint8_t> d(32, 0);
  // last LBA 0x1FFFFF (2 Mi blocks of 512 = 1 GiB)
  d[5] = 0x1F, d[6] = 0xFF, d[7] = 0xFF;
  d[10] = 0x02;  // 512
  d[13] = 0x03;  // 8 logical per physical (4 KiB)
  d[14] = 0xC0;  // LBPME, LBPRZ
  auto c = ParseReadCapacity16(d);
  REQUIRE(c.ok());
  CHECK(c->last_lba == 0x1FFFFF);
  CHECK(c->block_size == 512);
  CHECK(c->blocks() == 0x200000);
  CHECK(c->size_bytes() == (1ull << 30));
  CHECK(c->lb_per_pb_exponent == 3);
  CHECK(c->lbpme);
  CHECK(c->lbprz);
  CHECK(!c->prot_en);
  d[14] = 0x00;
  d[15] = 0x07;
  auto thick = ParseReadCapacity16(d);
  REQUIRE(thick.ok());
  CHECK(!thick->lbpme);
  CHECK(thick->lowest_aligned_lba == 7);
}

TEST_CASE("READ CAPACITY(16) malformed") {
  std::vector<uint8_t> d(32, 0);
  d[10] = 0x02;
  CHECK(!ParseReadCapacity16(std::span(d).first(15)).ok());
  CHECK(ParseReadCapacity16(std::span(d).first(16)).ok());
  auto zero = d;
  zero[10] = 0;
  auto z = ParseReadCapacity16(zero);
  REQUIRE(!z.ok());
  CHECK(z.status().message().find("LOGICAL BLOCK LENGTH") != std::string::npos);
  auto huge = d;
  for (int i = 0; i < 8; ++i) huge[i] = 0xFF;
  CHECK(!ParseReadCapacity16(huge).ok());
  huge[0] = 0x00;  // 2^56 blocks of 512 bytes: still > 2^64 bytes
  CHECK(!ParseReadCapacity16(huge).ok());
}

}  // namespace
}  // namespace mpio::scsi
