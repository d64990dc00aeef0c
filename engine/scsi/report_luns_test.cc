#include "engine/scsi/report_luns.h"

#include <doctest/doctest.h>

#include <vector>

namespace mpio::scsi {
namespace {

std::vector<uint8_t> Header(uint32_t list_len) {
  return {static_cast<uint8_t>(list_len >> 24),
          static_cast<uint8_t>(list_len >> 16),
          static_cast<uint8_t>(list_len >> 8),
          static_cast<uint8_t>(list_len),
          0,
          0,
          0,
          0};
}

void Add(std::vector<uint8_t>* d, std::vector<uint8_t> e) {
  e.resize(8, 0);
  d->insert(d->end(), e.begin(), e.end());
}

TEST_CASE("REPORT LUNS peripheral and flat addressing") {
  auto d = Header(32);
  Add(&d, {0x00, 0x00});              // LUN 0
  Add(&d, {0x00, 0x01});              // LUN 1 (peripheral)
  Add(&d, {0x41, 0x2C});              // flat: 0x12C = 300
  Add(&d, {0x01, 0x05, 0x00, 0x02});  // two-level: Linux packing
  auto l = ParseReportLuns(d);
  REQUIRE(l.ok());
  REQUIRE(l->luns.size() == 4);
  CHECK(l->luns[0] == 0);
  CHECK(l->luns[1] == 1);
  CHECK(l->luns[2] == 300);
  CHECK(l->luns[3] == 0x00020105ull);
  CHECK(!l->truncated);
  CHECK(l->needed_alloc_len == 40);
}

TEST_CASE("REPORT LUNS truncated by allocation length, lying length") {
  auto d = Header(800);  // 100 LUNs, only 2 and a half arrive
  Add(&d, {0x00, 0x07});
  Add(&d, {0x00, 0x08});
  d.push_back(0x00);
  d.push_back(0x09);
  auto l = ParseReportLuns(d);
  REQUIRE(l.ok());
  CHECK(l->truncated);
  CHECK(l->needed_alloc_len == 808);
  CHECK(l->luns == std::vector<uint64_t>{7, 8});

  auto odd = Header(12);
  Add(&odd, {0, 1});
  Add(&odd, {0, 2});
  auto bad = ParseReportLuns(odd);
  REQUIRE(!bad.ok());
  CHECK(bad.status().message().find("LUN LIST LENGTH 12") != std::string::npos);
  CHECK(!ParseReportLuns(std::span(odd).first(7)).ok());
  // A shorter declared list than data: only the declared entries count.
  auto more = Header(8);
  Add(&more, {0, 3});
  Add(&more, {0, 4});
  CHECK(ParseReportLuns(more)->luns == std::vector<uint64_t>{3});
  auto empty = ParseReportLuns(Header(0));
  REQUIRE(empty.ok());
  CHECK(empty->luns.empty());
}

}  // namespace
}  // namespace mpio::scsi
