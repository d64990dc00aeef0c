#include "engine/scsi/sense.h"

#include <doctest/doctest.h>

#include <vector>

namespace mpio::scsi {
namespace {

std::vector<uint8_t> Fixed(uint8_t key, uint8_t asc, uint8_t ascq) {
  std::vector<uint8_t> d(18, 0);
  d[0] = 0x70;
  d[2] = key;
  d[7] = 10;
  d[12] = asc;
  d[13] = ascq;
  return d;
}

TEST_CASE("fixed-format sense") {
  auto d = Fixed(kSenseNotReady, 0x04, 0x01);
  auto s = ParseSense(d);
  REQUIRE(s.ok());
  CHECK(s->response_code == 0x70);
  CHECK(!s->deferred);
  CHECK(s->key == kSenseNotReady);
  CHECK(s->asc == 0x04);
  CHECK(s->ascq == 0x01);
  CHECK(!s->information.has_value());
  CHECK(SenseText(*s) ==
        "NOT READY/LOGICAL UNIT IS IN PROCESS OF BECOMING READY (04/01)");

  // VALID + INFORMATION, deferred, FILEMARK/ILI bits around the key.
  auto m = Fixed(0xE3, 0x11, 0x00);
  m[0] = 0xF1;
  m[3] = 0x00, m[4] = 0x01, m[5] = 0x02, m[6] = 0x03;
  auto ms = ParseSense(m);
  REQUIRE(ms.ok());
  CHECK(ms->deferred);
  CHECK(ms->key == kSenseMediumError);
  CHECK(ms->information == 0x010203u);
  CHECK(SenseText(*ms) ==
        "DEFERRED MEDIUM ERROR/UNRECOVERED READ ERROR (11/00)");
}

TEST_CASE("fixed-format sense: short and lying additional length") {
  auto d = Fixed(kSenseUnitAttention, 0x29, 0x00);
  d[7] = 4;  // ADDITIONAL SENSE LENGTH says ASC/ASCQ are not there
  auto s = ParseSense(d);
  REQUIRE(s.ok());
  CHECK(s->key == kSenseUnitAttention);
  CHECK(s->asc == 0);
  auto ua = Fixed(6, 0x29, 0);
  auto cut = ParseSense(std::span(ua).first(13));
  REQUIRE(cut.ok());
  CHECK(cut->asc == 0);
  auto big = Fixed(6, 0x2A, 0x06);
  big[7] = 250;  // more than arrived: the bytes present still count
  CHECK(ParseSense(big)->ascq == 0x06);
  auto two = ParseSense(std::span(ua).first(2));
  REQUIRE(!two.ok());
  CHECK(two.status().message().find("SENSE KEY") != std::string::npos);
  CHECK(!ParseSense({}).ok());
  const uint8_t vendor[] = {0x7F, 0, 0, 0};
  auto v = ParseSense(vendor);
  REQUIRE(!v.ok());
  CHECK(v.status().message().find("RESPONSE CODE 0x7f") != std::string::npos);
}

TEST_CASE("descriptor-format sense with an information descriptor") {
  std::vector<uint8_t> d = {0x72, 0x03, 0x11, 0x00, 0, 0, 0, 12, 0x00, 0x0A,
                            0x80, 0,    0,    0,    0, 0, 0, 0,  0x12, 0x34};
  auto s = ParseSense(d);
  REQUIRE(s.ok());
  CHECK(s->key == kSenseMediumError);
  CHECK(s->asc == 0x11);
  CHECK(s->information == 0x1234u);
  // A descriptor running past the data: header fields stay, no information.
  auto broken = d;
  broken[9] = 0x40;
  auto b = ParseSense(broken);
  REQUIRE(b.ok());
  CHECK(b->asc == 0x11);
  CHECK(!b->information.has_value());
  // Only the header.
  const uint8_t hdr[] = {0x73, 0x06, 0x2A, 0x09};
  auto h = ParseSense(hdr);
  REQUIRE(h.ok());
  CHECK(h->deferred);
  CHECK(SenseText(*h) ==
        "DEFERRED UNIT ATTENTION/CAPACITY DATA HAS CHANGED (2A/09)");
  CHECK(!ParseSense(std::span(hdr).first(3)).ok());
}

TEST_CASE("sense text table and names") {
  Sense s;
  s.key = kSenseNotReady;
  s.asc = 0x04;
  s.ascq = 0x0A;
  CHECK(SenseText(s) ==
        "NOT READY/LOGICAL UNIT NOT ACCESSIBLE, ASYMMETRIC ACCESS STATE "
        "TRANSITION (04/0A)");
  s.key = kSenseUnitAttention;
  s.asc = 0x2A;
  s.ascq = 0x07;
  CHECK(SenseText(s) ==
        "UNIT ATTENTION/IMPLICIT ASYMMETRIC ACCESS STATE TRANSITION FAILED "
        "(2A/07)");
  s.asc = 0x99;
  s.ascq = 0x01;
  CHECK(SenseText(s) == "UNIT ATTENTION/ASC 99 ASCQ 01 (99/01)");
  // Every pair the engine relies on has text.
  const uint8_t pairs[][2] = {
      {0x04, 0x00}, {0x04, 0x01}, {0x04, 0x02}, {0x04, 0x03}, {0x04, 0x04},
      {0x04, 0x05}, {0x04, 0x06}, {0x04, 0x07}, {0x04, 0x08}, {0x04, 0x09},
      {0x04, 0x0A}, {0x04, 0x0B}, {0x04, 0x0C}, {0x20, 0x00}, {0x21, 0x00},
      {0x24, 0x00}, {0x25, 0x00}, {0x27, 0x00}, {0x28, 0x00}, {0x29, 0x00},
      {0x29, 0x01}, {0x29, 0x02}, {0x29, 0x03}, {0x29, 0x04}, {0x29, 0x05},
      {0x29, 0x06}, {0x29, 0x07}, {0x2A, 0x01}, {0x2A, 0x02}, {0x2A, 0x03},
      {0x2A, 0x04}, {0x2A, 0x05}, {0x2A, 0x06}, {0x2A, 0x07}, {0x2A, 0x08},
      {0x2A, 0x09}, {0x3A, 0x00}, {0x3F, 0x0E}, {0x3F, 0x03}, {0x0E, 0x03},
      {0x11, 0x00}, {0x0C, 0x00}, {0x47, 0x00}, {0x44, 0x00}, {0x08, 0x00},
      {0x4B, 0x00}, {0x05, 0x00}, {0x27, 0x07}};
  for (const auto& p : pairs) {
    CAPTURE(p[0]);
    CAPTURE(p[1]);
    CHECK(AscAscqText(p[0], p[1]) != nullptr);
  }
  CHECK(AscAscqText(0x99, 0x99) == nullptr);
  CHECK(std::string(SenseKeyName(kSenseAbortedCommand)) == "ABORTED COMMAND");
  CHECK(StatusName(kStatusTaskSetFull) == "TASK SET FULL");
  CHECK(StatusName(0x77) == "STATUS 0x77");
}

}  // namespace
}  // namespace mpio::scsi
