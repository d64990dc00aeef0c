#include "engine/scsi/cdb.h"

#include <doctest/doctest.h>

#include <vector>

namespace mpio::scsi {
namespace {

std::vector<uint8_t> Bytes(const Cdb& c) {
  return std::vector<uint8_t>(c.span().begin(), c.span().end());
}

TEST_CASE("TEST UNIT READY is six zero bytes") {
  CHECK(Bytes(TestUnitReady()) == std::vector<uint8_t>(6, 0));
}

TEST_CASE("INQUIRY standard and VPD") {
  CHECK(Bytes(Inquiry(false, 0, 96)) ==
        std::vector<uint8_t>{0x12, 0x00, 0x00, 0x00, 0x60, 0x00});
  CHECK(Bytes(Inquiry(true, 0x83, 0x1234)) ==
        std::vector<uint8_t>{0x12, 0x01, 0x83, 0x12, 0x34, 0x00});
}

TEST_CASE("REPORT LUNS and READ CAPACITY(16)") {
  CHECK(
      Bytes(ReportLuns(0x01020304)) ==
      std::vector<uint8_t>{0xA0, 0, 0, 0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0, 0});
  Cdb rc = ReadCapacity16(32);
  REQUIRE(rc.len == 16);
  CHECK(rc.bytes[0] == 0x9E);
  CHECK(rc.bytes[1] == 0x10);
  CHECK(rc.bytes[13] == 32);
}

TEST_CASE("READ/WRITE(16) carry LBA, count and FUA") {
  Cdb r = Read16(0x0102030405060708ull, 0x0A0B0C0D, false);
  CHECK(Bytes(r) == std::vector<uint8_t>{0x88, 0x00, 0x01, 0x02, 0x03, 0x04,
                                         0x05, 0x06, 0x07, 0x08, 0x0A, 0x0B,
                                         0x0C, 0x0D, 0x00, 0x00});
  Cdb w = Write16(7, 1, true);
  CHECK(w.bytes[0] == 0x8A);
  CHECK(w.bytes[1] == 0x08);
  CHECK(w.bytes[9] == 7);
  CHECK(w.bytes[13] == 1);
  CHECK(SynchronizeCache16(0, 0).bytes[0] == 0x91);
  Cdb ws = WriteSame16(5, 16, true);
  CHECK(ws.bytes[0] == 0x93);
  CHECK(ws.bytes[1] == 0x08);
  CHECK(WriteSame16(5, 16, false).bytes[1] == 0x00);
}

TEST_CASE("UNMAP CDB and parameter list") {
  CHECK(Bytes(Unmap(24)) ==
        std::vector<uint8_t>{0x42, 0, 0, 0, 0, 0, 0, 0x00, 24, 0});
  UnmapRange ranges[] = {{0x10, 8}, {0x1122334455667788ull, 0xFFFFFFFF}};
  auto list = UnmapParameterList(ranges);
  REQUIRE(list.ok());
  REQUIRE(list->size() == 40);
  CHECK((*list)[1] == 38);  // UNMAP DATA LENGTH = size - 2
  CHECK((*list)[3] == 32);  // BLOCK DESCRIPTOR DATA LENGTH
  CHECK((*list)[15] == 0x10);
  CHECK((*list)[19] == 8);
  CHECK((*list)[24] == 0x11);
  CHECK((*list)[35] == 0xFF);
  CHECK(!UnmapParameterList({}).ok());
  std::vector<UnmapRange> many(4096, UnmapRange{0, 1});
  auto too_many = UnmapParameterList(many);
  CHECK(!too_many.ok());
  CHECK(too_many.status().message().find("4095") != std::string::npos);
  many.resize(4095);
  CHECK(UnmapParameterList(many).ok());
}

TEST_CASE("REPORT/SET TARGET PORT GROUPS") {
  CHECK(Bytes(ReportTargetPortGroups(4096)) ==
        std::vector<uint8_t>{0xA3, 0x2A, 0, 0, 0, 0, 0x00, 0x00, 0x10, 0x00, 0,
                             0});
  CHECK(ReportTargetPortGroups(64, false).bytes[1] == 0x0A);
  CHECK(Bytes(SetTargetPortGroups(8)) ==
        std::vector<uint8_t>{0xA4, 0x0A, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0});
  TpgStateRequest req[] = {{0x0102, 0x0}, {5, 0x2}};
  auto p = SetTargetPortGroupsParameters(req);
  REQUIRE(p.ok());
  CHECK(*p == std::vector<uint8_t>{0, 0, 0, 0, 0x00, 0, 0x01, 0x02, 0x02, 0,
                                   0x00, 0x05});
  TpgStateRequest bad[] = {{1, 0xF}};
  CHECK(!SetTargetPortGroupsParameters(bad).ok());
  CHECK(!SetTargetPortGroupsParameters({}).ok());
}

TEST_CASE("PERSISTENT RESERVE IN/OUT") {
  CHECK(Bytes(PersistentReserveIn(PrInAction::kReadReservation, 24)) ==
        std::vector<uint8_t>{0x5E, 0x01, 0, 0, 0, 0, 0, 0x00, 24, 0});
  CHECK(Bytes(PersistentReserveOut(PrOutAction::kPreemptAndAbort,
                                   PrType::kWriteExclusiveRegistrantsOnly)) ==
        std::vector<uint8_t>{0x5F, 0x05, 0x05, 0, 0, 0, 0, 0, 24, 0});
  CHECK(PersistentReserveOut(PrOutAction::kRegisterAndIgnore, PrType::kNone)
            .bytes[1] == 0x06);
  auto p = PrOutParameterList(0x1122334455667788ull, 0xAABB, true);
  CHECK(p[0] == 0x11);
  CHECK(p[7] == 0x88);
  CHECK(p[14] == 0xAA);
  CHECK(p[15] == 0xBB);
  CHECK(p[20] == 0x01);
}

}  // namespace
}  // namespace mpio::scsi
