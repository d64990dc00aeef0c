#include "nbd/handshake.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace mpio::nbd {
namespace {

class FakeCatalog : public ExportCatalog {
 public:
  FakeCatalog() {
    ExportInfo a;
    a.name = "alpha";
    a.description = "first disk";
    a.size = 1 << 20;
    a.flags = kTxHasFlags | kTxSendFlush;
    a.block_sizes = {512, 4096, kMaxPayload};
    exports_.push_back(a);
    ExportInfo b = a;
    b.name = "beta";
    b.description = "";
    b.size = 2 << 20;
    exports_.push_back(b);
  }
  bool Find(absl::string_view name, ExportInfo* info) const override {
    if (name.empty() || name == "a") name = "alpha";
    for (const ExportInfo& e : exports_) {
      if (e.name == name) {
        *info = e;
        return true;
      }
    }
    return false;
  }
  std::vector<ExportInfo> List() const override { return exports_; }

 private:
  std::vector<ExportInfo> exports_;
};

std::string Be32(uint32_t v) {
  std::string s(4, '\0');
  StoreBe32(reinterpret_cast<uint8_t*>(s.data()), v);
  return s;
}
std::string Be16(uint16_t v) {
  std::string s(2, '\0');
  StoreBe16(reinterpret_cast<uint8_t*>(s.data()), v);
  return s;
}
std::string Option(uint32_t option, const std::string& data) {
  std::string s(8, '\0');
  StoreBe64(reinterpret_cast<uint8_t*>(s.data()), kOptMagic);
  return s + Be32(option) + Be32(static_cast<uint32_t>(data.size())) + data;
}
std::string InfoData(const std::string& name, std::vector<uint16_t> items) {
  std::string d = Be32(static_cast<uint32_t>(name.size())) + name +
                  Be16(static_cast<uint16_t>(items.size()));
  for (uint16_t i : items) d += Be16(i);
  return d;
}

struct Reply {
  uint32_t option, type;
  std::string data;
};
// Splits option replies; CHECKs their magic.
std::vector<Reply> ParseReplies(const std::string& out) {
  std::vector<Reply> replies;
  size_t pos = 0;
  while (pos + 20 <= out.size()) {
    const auto* p = reinterpret_cast<const uint8_t*>(out.data() + pos);
    CHECK(LoadBe64(p) == kOptReplyMagic);
    uint32_t len = LoadBe32(p + 16);
    REQUIRE(pos + 20 + len <= out.size());
    replies.push_back(
        {LoadBe32(p + 8), LoadBe32(p + 12), out.substr(pos + 20, len)});
    pos += 20 + len;
  }
  CHECK(pos == out.size());
  return replies;
}

// Starts a handshake, consumes the greeting and sends client flags.
struct Session {
  FakeCatalog catalog;
  Handshake hs{&catalog};
  explicit Session(uint32_t flags = kClientFlagFixedNewstyle |
                                    kClientFlagNoZeroes) {
    REQUIRE(hs.output().size() == kGreetingSize);
    hs.output().clear();
    Send(Be32(flags));
  }
  size_t Send(const std::string& bytes) {
    return hs.Feed(
        {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
  }
  std::vector<Reply> Take() {
    auto r = ParseReplies(hs.output());
    hs.output().clear();
    return r;
  }
};

TEST_CASE("NBD_OPT_LIST lists every export, then ACK") {
  Session s;
  s.Send(Option(kOptList, ""));
  auto r = s.Take();
  REQUIRE(r.size() == 3);
  CHECK(r[0].type == kRepServer);
  CHECK(r[0].data.substr(4, 5) == "alpha");
  CHECK(r[0].data.substr(9) == "first disk");
  CHECK(r[1].data.substr(4) == "beta");
  CHECK(r[2].type == kRepAck);
  CHECK(s.hs.state() == Handshake::State::kNegotiating);
  s.Send(Option(kOptList, "junk"));
  r = s.Take();
  REQUIRE(r.size() == 1);
  CHECK(r[0].type == kRepErrInvalid);
}

TEST_CASE(
    "NBD_OPT_INFO answers and keeps negotiating; GO enters transmission") {
  Session s;
  s.Send(Option(kOptInfo, InfoData("a", {kInfoName, kInfoDescription})));
  auto r = s.Take();
  REQUIRE(r.size() == 5);
  CHECK(r[0].type == kRepInfo);
  CHECK(LoadBe16(reinterpret_cast<const uint8_t*>(r[0].data.data())) ==
        kInfoExport);
  CHECK(r[0].data.size() == 12);
  CHECK(r[1].data.substr(2) == "alpha");  // canonical name for the alias
  CHECK(r[2].data.substr(2) == "first disk");
  CHECK(LoadBe16(reinterpret_cast<const uint8_t*>(r[3].data.data())) ==
        kInfoBlockSize);
  CHECK(r[4].type == kRepAck);
  CHECK(s.hs.state() == Handshake::State::kNegotiating);

  s.Send(Option(kOptStructuredReply, ""));
  r = s.Take();
  REQUIRE(r.size() == 1);
  CHECK(r[0].type == kRepAck);

  // GO with a request pipelined behind it: Feed stops at the end.
  std::string go = Option(kOptGo, InfoData("beta", {}));
  size_t used = s.Send(go + "REQUEST");
  CHECK(used == go.size());
  r = s.Take();
  REQUIRE(r.size() == 3);  // EXPORT, BLOCK_SIZE, ACK
  CHECK(r[0].option == kOptGo);
  const auto* p = reinterpret_cast<const uint8_t*>(r[0].data.data());
  CHECK(LoadBe64(p + 2) == (2u << 20));
  CHECK((LoadBe16(p + 10) & kTxSendDf) != 0);  // structured replies on
  CHECK(r[2].type == kRepAck);
  CHECK(s.hs.state() == Handshake::State::kTransmission);
  CHECK(s.hs.export_info().name == "beta");
  CHECK(s.hs.structured_replies());
}

TEST_CASE("unknown export, default export, malformed INFO") {
  Session s;
  s.Send(Option(kOptGo, InfoData("nope", {})));
  auto r = s.Take();
  REQUIRE(r.size() == 1);
  CHECK(r[0].type == kRepErrUnknown);
  CHECK(r[0].data.find("nope") != std::string::npos);
  s.Send(Option(kOptGo, "\x00\x00\x00\x09x"));
  r = s.Take();
  REQUIRE(r.size() == 1);
  CHECK(r[0].type == kRepErrInvalid);
  CHECK(s.hs.state() == Handshake::State::kNegotiating);
  s.Send(Option(kOptGo, InfoData("", {})));
  CHECK(s.hs.state() == Handshake::State::kTransmission);
  CHECK(s.hs.export_info().name == "alpha");
  CHECK(!s.hs.structured_replies());
}

TEST_CASE("unknown options and STARTTLS get ERR_UNSUP") {
  Session s;
  s.Send(Option(kOptStartTls, ""));
  s.Send(Option(10, "whatever"));  // SET_META_CONTEXT
  s.Send(Option(0xdeadbeef, ""));
  auto r = s.Take();
  REQUIRE(r.size() == 3);
  for (const Reply& x : r) CHECK(x.type == kRepErrUnsup);
  CHECK(r[1].option == 10);
  CHECK(s.hs.state() == Handshake::State::kNegotiating);
}

TEST_CASE("EXPORT_NAME: reply without zeroes, or hang up on unknown names") {
  {
    Session s;
    s.Send(Option(kOptExportName, "beta"));
    CHECK(s.hs.state() == Handshake::State::kTransmission);
    CHECK(s.hs.output().size() == 10);
  }
  {
    Session s(kClientFlagFixedNewstyle);
    s.Send(Option(kOptExportName, "alpha"));
    CHECK(s.hs.output().size() == 134);
  }
  {
    Session s;
    s.Send(Option(kOptExportName, "nope"));
    CHECK(s.hs.state() == Handshake::State::kClosed);
    CHECK(s.hs.output().empty());
  }
}

TEST_CASE("ABORT is acknowledged and closes") {
  Session s;
  s.Send(Option(kOptAbort, ""));
  auto r = s.Take();
  REQUIRE(r.size() == 1);
  CHECK(r[0].type == kRepAck);
  CHECK(s.hs.state() == Handshake::State::kClosed);
}

TEST_CASE("protocol violations close the handshake") {
  {
    Session s(0x80);  // unknown client flag
    CHECK(s.hs.state() == Handshake::State::kClosed);
  }
  {
    Session s;
    s.Send(std::string(16, 'x'));  // bad option magic
    CHECK(s.hs.state() == Handshake::State::kClosed);
    CHECK(s.hs.close_reason().find("IHAVEOPT") != std::string::npos);
  }
  {
    Session s(0);  // plain newstyle may only send EXPORT_NAME
    s.Send(Option(kOptList, ""));
    CHECK(s.hs.state() == Handshake::State::kClosed);
  }
  {
    Session s;
    for (int i = 0; i <= Handshake::kMaxOptions; i++) {
      s.Send(Option(kOptList, ""));
    }
    CHECK(s.hs.state() == Handshake::State::kClosed);
  }
}

TEST_CASE("oversized option data is skipped and refused, byte by byte") {
  Session s;
  std::string big = Option(kOptInfo, std::string(kMaxOptionLength + 1, 'z'));
  for (char c : big) s.Send(std::string(1, c));  // worst-case fragmentation
  auto r = s.Take();
  REQUIRE(r.size() == 1);
  CHECK(r[0].type == kRepErrTooBig);
  s.Send(Option(kOptList, ""));
  CHECK(s.Take().size() == 3);  // still in sync
}

TEST_CASE("split feeding gives the same result as one buffer") {
  std::string script = Option(kOptStructuredReply, "") + Option(kOptList, "") +
                       Option(kOptGo, InfoData("beta", {kInfoName}));
  Session whole;
  whole.Send(script);
  Session split;
  for (size_t i = 0; i < script.size(); i += 3) {
    split.Send(script.substr(i, 3));
  }
  CHECK(whole.hs.output() == split.hs.output());
  CHECK(split.hs.state() == Handshake::State::kTransmission);
}

}  // namespace
}  // namespace mpio::nbd
