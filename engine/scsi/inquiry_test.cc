#include "engine/scsi/inquiry.h"

#include <doctest/doctest.h>

#include <cstring>
#include <vector>

namespace mpio::scsi {
namespace {

// Layout of tgtd's standard INQUIRY for a disk LU (vendor "IET", product
// "VIRTUAL-DISK", revision "0001"), here with TPGS forced to test bits.
std::vector<uint8_t> TgtdInquiry() {
  std::vector<uint8_t> d(66, 0);
  d[0] = 0x00;
  d[2] = 0x05;  // SPC-3
  d[3] = 0x02;
  d[4] = 66 - 5;
  std::memcpy(&d[8], "IET     ", 8);
  std::memcpy(&d[16], "VIRTUAL-DISK    ", 16);
  std::memcpy(&d[32], "0001", 4);
  return d;
}

TEST_CASE("standard INQUIRY fields") {
  auto d = TgtdInquiry();
  d[5] = 0x31;  // TPGS 3, PROTECT
  auto inq = ParseStandardInquiry(d);
  REQUIRE(inq.ok());
  CHECK(inq->peripheral_qualifier == 0);
  CHECK(inq->device_type == 0);
  CHECK(!inq->removable);
  CHECK(inq->version == 5);
  CHECK(inq->tpgs == 3);
  CHECK(inq->protect);
  CHECK(inq->vendor == "IET");
  CHECK(inq->product == "VIRTUAL-DISK");
  CHECK(inq->revision == "0001");
}

TEST_CASE("qualifier, type, removable, tpgs implicit only") {
  auto d = TgtdInquiry();
  d[0] = 0x7F;  // qualifier 3 (no LU), type 0x1F
  d[1] = 0x80;
  d[5] = 0x10;
  auto inq = ParseStandardInquiry(d);
  REQUIRE(inq.ok());
  CHECK(inq->peripheral_qualifier == 3);
  CHECK(inq->device_type == 0x1F);
  CHECK(inq->removable);
  CHECK(inq->tpgs == 1);
  CHECK(!inq->protect);
}

TEST_CASE("truncated and lying INQUIRY") {
  auto d = TgtdInquiry();
  auto short_data = ParseStandardInquiry(std::span(d).first(35));
  CHECK(!short_data.ok());
  CHECK(short_data.status().message().find("35 bytes") != std::string::npos);
  d[4] = 20;  // claims the data ends before the revision field
  auto lying = ParseStandardInquiry(d);
  CHECK(!lying.ok());
  CHECK(lying.status().message().find("ADDITIONAL LENGTH") !=
        std::string::npos);
  CHECK(!ParseStandardInquiry({}).ok());
}

TEST_CASE("TrimAsciiField stops at NUL and masks control bytes") {
  const uint8_t f[] = {'A', 0x01, 'B', ' ', ' ', 0, 'X', 'Y'};
  CHECK(TrimAsciiField(f) == "A?B");
}

}  // namespace
}  // namespace mpio::scsi
