#include "nbd/protocol.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <string>
#include <vector>

namespace mpio::nbd {
namespace {

std::vector<uint8_t> Bytes(std::initializer_list<uint64_t> be_fields,
                           std::initializer_list<int> widths) {
  std::vector<uint8_t> out;
  auto w = widths.begin();
  for (uint64_t v : be_fields) {
    int width = *w++;
    for (int i = width - 1; i >= 0; i--) {
      out.push_back(static_cast<uint8_t>(v >> (8 * i)));
    }
  }
  return out;
}

std::string InfoData(const std::string& name, std::vector<uint16_t> items) {
  std::string d;
  uint8_t b[4];
  StoreBe32(b, static_cast<uint32_t>(name.size()));
  d.append(reinterpret_cast<char*>(b), 4);
  d += name;
  StoreBe16(b, static_cast<uint16_t>(items.size()));
  d.append(reinterpret_cast<char*>(b), 2);
  for (uint16_t i : items) {
    StoreBe16(b, i);
    d.append(reinterpret_cast<char*>(b), 2);
  }
  return d;
}

ExportInfo TestExport() {
  DeviceGeometry g;
  g.size_bytes = 1 << 20;
  g.block_size = 512;
  g.supports_unmap = true;
  ExportInfo e;
  e.name = "disk";
  e.size = g.size_bytes;
  e.flags = TransmissionFlagsFor(g, false);
  e.block_sizes = BlockSizesFor(g);
  return e;
}

TEST_CASE("greeting is NBDMAGIC IHAVEOPT and fixed-newstyle|no-zeroes") {
  std::string g;
  AppendGreeting(&g);
  REQUIRE(g.size() == kGreetingSize);
  CHECK(g.substr(0, 8) == "NBDMAGIC");
  CHECK(g.substr(8, 8) == "IHAVEOPT");
  CHECK(static_cast<uint8_t>(g[16]) == 0);
  CHECK(static_cast<uint8_t>(g[17]) == 3);
}

TEST_CASE("client flags: known bits pass, unknown bits and short input fail") {
  auto ok = ParseClientFlags(Bytes({3}, {4}));
  REQUIRE(ok.ok());
  CHECK(*ok == 3);
  CHECK(!ParseClientFlags(Bytes({4}, {4})).ok());
  CHECK(!ParseClientFlags(Bytes({1}, {2})).ok());
}

TEST_CASE("option header: magic checked, fields decoded") {
  auto h = ParseOptionHeader(Bytes({kOptMagic, kOptGo, 42}, {8, 4, 4}));
  REQUIRE(h.ok());
  CHECK(h->option == kOptGo);
  CHECK(h->length == 42);
  auto bad = ParseOptionHeader(Bytes({kNbdMagic, kOptGo, 0}, {8, 4, 4}));
  CHECK(!bad.ok());
  CHECK(bad.status().message().find("IHAVEOPT") != std::string::npos);
  CHECK(!ParseOptionHeader(Bytes({kOptMagic}, {8})).ok());
}

TEST_CASE("info request: valid, and every malformed shape refused") {
  auto r = ParseInfoRequest(InfoData("disk", {kInfoName, kInfoBlockSize}));
  REQUIRE(r.ok());
  CHECK(r->name == "disk");
  CHECK(r->requests == std::vector<uint16_t>{kInfoName, kInfoBlockSize});

  auto empty = ParseInfoRequest(InfoData("", {}));
  REQUIRE(empty.ok());
  CHECK(empty->name.empty());

  CHECK(!ParseInfoRequest("").ok());
  CHECK(!ParseInfoRequest(std::string("\0\0\0", 3)).ok());
  std::string d = InfoData("disk", {kInfoName});
  CHECK(!ParseInfoRequest(d.substr(0, d.size() - 1)).ok());  // short item
  CHECK(!ParseInfoRequest(d + "x").ok());                    // trailing byte
  std::string huge = d;
  StoreBe32(reinterpret_cast<uint8_t*>(huge.data()), 0xffffffff);
  CHECK(!ParseInfoRequest(huge).ok());  // name length overflow
  std::string nul = InfoData(std::string("a\0b", 3), {});
  CHECK(!ParseInfoRequest(nul).ok());
}

TEST_CASE("request header: decoded; bad magic and short input refused") {
  auto bytes = Bytes(
      {kRequestMagic, kCmdFlagFua, kCmdWrite, 0x1122334455667788, 4096, 512},
      {4, 2, 2, 8, 8, 4});
  REQUIRE(bytes.size() == kRequestHeaderSize);
  auto r = ParseRequest(bytes);
  REQUIRE(r.ok());
  CHECK(r->flags == kCmdFlagFua);
  CHECK(r->type == kCmdWrite);
  CHECK(r->handle == 0x1122334455667788);
  CHECK(r->offset == 4096);
  CHECK(r->length == 512);
  CHECK(HasPayload(*r));
  bytes[0] ^= 1;
  CHECK(!ParseRequest(bytes).ok());
  CHECK(!ParseRequest(absl::MakeSpan(bytes).subspan(0, 27)).ok());
}

TEST_CASE("validation: range, alignment, size, flags, commands") {
  ExportInfo e = TestExport();
  auto check = [&](uint16_t type, uint16_t flags, uint64_t off, uint32_t len,
                   bool structured = false) {
    Request r;
    r.type = type;
    r.flags = flags;
    r.offset = off;
    r.length = len;
    return ValidateRequest(r, e, structured).error;
  };
  CHECK(check(kCmdRead, 0, 0, 4096) == 0);
  CHECK(check(kCmdWrite, kCmdFlagFua, 512, 512) == 0);
  CHECK(check(kCmdWriteZeroes, kCmdFlagNoHole | kCmdFlagFua, 0, 1 << 20) == 0);
  CHECK(check(kCmdTrim, 0, 0, 1 << 20) == 0);
  CHECK(check(kCmdFlush, 0, 0, 0) == 0);
  // Past the end: writes ENOSPC, reads and trims EINVAL.
  CHECK(check(kCmdWrite, 0, (1 << 20) - 512, 1024) == kEnospc);
  CHECK(check(kCmdWriteZeroes, 0, 1 << 20, 512) == kEnospc);
  CHECK(check(kCmdRead, 0, (1 << 20), 512) == kEinval);
  CHECK(check(kCmdTrim, 0, (1 << 20) - 512, 1024) == kEinval);
  CHECK(check(kCmdRead, 0, ~0ull - 511, 512) == kEinval);  // no wraparound
  // Misaligned.
  CHECK(check(kCmdRead, 0, 1, 512) == kEinval);
  CHECK(check(kCmdWrite, 0, 0, 100) == kEinval);
  // Oversized payload.
  e.size = 1ull << 40;
  CHECK(check(kCmdRead, 0, 0, kMaxPayload + 512) == kEinval);
  CHECK(check(kCmdRead, 0, 0, kMaxPayload) == 0);
  CHECK(check(kCmdTrim, 0, 0, 0xfffffe00) == 0);  // no payload: no limit
  // Flags.
  CHECK(check(kCmdRead, kCmdFlagFua, 0, 512) == kEinval);
  CHECK(check(kCmdRead, kCmdFlagDf, 0, 512) == kEinval);
  CHECK(check(kCmdRead, kCmdFlagDf, 0, 512, true) == 0);
  CHECK(check(kCmdWrite, kCmdFlagNoHole, 0, 512) == kEinval);
  // Unknown commands.
  CHECK(check(5, 0, 0, 512) == kEinval);  // CACHE, not advertised
  CHECK(check(7, 0, 0, 512) == kEinval);  // BLOCK_STATUS
  CHECK(check(999, 0, 0, 512) == kEinval);
  // Read-only export.
  e.flags |= kTxReadOnly;
  CHECK(check(kCmdWrite, 0, 0, 512) == kEperm);
  CHECK(check(kCmdRead, 0, 0, 512) == 0);
}

TEST_CASE("transmission flags follow the device") {
  DeviceGeometry g;
  uint16_t f = TransmissionFlagsFor(g, false);
  CHECK((f & kTxHasFlags) != 0);
  CHECK((f & kTxSendFlush) != 0);
  CHECK((f & kTxSendFua) != 0);
  CHECK((f & kTxSendWriteZeroes) != 0);
  CHECK((f & kTxCanMultiConn) != 0);
  CHECK((f & kTxSendTrim) == 0);
  CHECK((f & kTxSendDf) == 0);
  g.supports_unmap = true;
  CHECK((TransmissionFlagsFor(g, true) & (kTxSendTrim | kTxSendDf)) ==
        (kTxSendTrim | kTxSendDf));
  g.read_only = true;
  f = TransmissionFlagsFor(g, false);
  CHECK((f & kTxReadOnly) != 0);
  CHECK((f & (kTxSendFua | kTxSendTrim | kTxSendWriteZeroes)) == 0);
}

TEST_CASE("block sizes: min = block, preferred = max(4096, optimal), 32 MiB") {
  DeviceGeometry g;
  g.block_size = 512;
  BlockSizes s = BlockSizesFor(g);
  CHECK(s.minimum == 512);
  CHECK(s.preferred == 4096);
  CHECK(s.maximum == 32u << 20);
  g.optimal_transfer_bytes = 1 << 20;
  CHECK(BlockSizesFor(g).preferred == 1u << 20);
  g.optimal_transfer_bytes = 3 * 4096;  // not a power of two: ignored
  CHECK(BlockSizesFor(g).preferred == 4096);
  g.block_size = 8192;
  g.optimal_transfer_bytes = 0;
  CHECK(BlockSizesFor(g).preferred == 8192);
  CHECK(BlockSizesFor(g).maximum % 8192 == 0);
}

TEST_CASE("option replies and info items encode as the spec says") {
  std::string out;
  AppendInfoBlockSize(&out, kOptGo, {512, 4096, 32u << 20});
  REQUIRE(out.size() == 20 + 14);
  const auto* p = reinterpret_cast<const uint8_t*>(out.data());
  CHECK(LoadBe64(p) == kOptReplyMagic);
  CHECK(LoadBe32(p + 8) == kOptGo);
  CHECK(LoadBe32(p + 12) == kRepInfo);
  CHECK(LoadBe32(p + 16) == 14);
  CHECK(LoadBe16(p + 20) == kInfoBlockSize);
  CHECK(LoadBe32(p + 22) == 512);
  CHECK(LoadBe32(p + 26) == 4096);
  CHECK(LoadBe32(p + 30) == 32u << 20);

  out.clear();
  AppendServerReply(&out, "disk", "my disk");
  p = reinterpret_cast<const uint8_t*>(out.data());
  CHECK(LoadBe32(p + 12) == kRepServer);
  CHECK(LoadBe32(p + 16) == 4 + 4 + 7);
  CHECK(LoadBe32(p + 20) == 4);
  CHECK(out.substr(24) == "diskmy disk");

  out.clear();
  AppendExportNameReply(&out, 1 << 20, 0x1234, false);
  CHECK(out.size() == 8 + 2 + 124);
  out.clear();
  AppendExportNameReply(&out, 1 << 20, 0x1234, true);
  CHECK(out.size() == 10);
  p = reinterpret_cast<const uint8_t*>(out.data());
  CHECK(LoadBe64(p) == 1 << 20);
  CHECK(LoadBe16(p + 8) == 0x1234);
}

TEST_CASE("transmission replies: simple, offset data, error chunk") {
  uint8_t b[160];
  EncodeSimpleReply(b, kEio, 77);
  CHECK(LoadBe32(b) == kSimpleReplyMagic);
  CHECK(LoadBe32(b + 4) == kEio);
  CHECK(LoadBe64(b + 8) == 77);

  EncodeOffsetDataHeader(b, 9, 4096, 512, true);
  CHECK(LoadBe32(b) == kStructuredReplyMagic);
  CHECK(LoadBe16(b + 4) == kReplyFlagDone);
  CHECK(LoadBe16(b + 6) == kReplyTypeOffsetData);
  CHECK(LoadBe64(b + 8) == 9);
  CHECK(LoadBe32(b + 16) == 512 + 8);
  CHECK(LoadBe64(b + 20) == 4096);

  size_t n = EncodeStructuredError(b, sizeof(b), 5, kEinval, "bad");
  CHECK(n == 20 + 6 + 3);
  CHECK(LoadBe16(b + 6) == kReplyTypeError);
  CHECK(LoadBe32(b + 16) == 6 + 3);
  CHECK(LoadBe32(b + 20) == kEinval);
  CHECK(LoadBe16(b + 24) == 3);
  CHECK(std::string(reinterpret_cast<char*>(b + 26), 3) == "bad");
  // Truncated to the buffer, lengths still consistent.
  n = EncodeStructuredError(b, 30, 5, kEinval, "a long message");
  CHECK(n == 30);
  CHECK(LoadBe32(b + 16) == 10);
  CHECK(LoadBe16(b + 24) == 4);
  CHECK(EncodeStructuredError(b, 10, 5, kEinval, "x") == 0);
}

TEST_CASE("errno maps onto the protocol's error list") {
  CHECK(NbdErrorFromErrno(0) == 0);
  CHECK(NbdErrorFromErrno(EINVAL) == kEinval);
  CHECK(NbdErrorFromErrno(ENOSPC) == kEnospc);
  CHECK(NbdErrorFromErrno(EROFS) == kEperm);
  CHECK(NbdErrorFromErrno(EOPNOTSUPP) == kEnotsup);
  CHECK(NbdErrorFromErrno(ETIMEDOUT) == kEio);
  CHECK(NbdErrorFromErrno(ENODEV) == kEio);
}

}  // namespace
}  // namespace mpio::nbd
