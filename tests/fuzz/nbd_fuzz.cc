// Fuzzes the pure NBD layers: the handshake state machine (client flags,
// option haggling) and, for the bytes after a successful GO/EXPORT_NAME, the
// request header parser and validator plus the reply encoders. Input layout:
// byte 0 picks the split size used to feed the handshake (exercising partial
// reads); the rest is the client's byte stream.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "nbd/handshake.h"
#include "nbd/protocol.h"

namespace {

class Catalog : public mpio::nbd::ExportCatalog {
 public:
  Catalog() {
    info_.name = "disk";
    info_.description = "fuzz disk";
    info_.size = 1 << 20;
    mpio::DeviceGeometry g;
    g.size_bytes = info_.size;
    g.supports_unmap = true;
    info_.flags = mpio::nbd::TransmissionFlagsFor(g, false);
    info_.block_sizes = mpio::nbd::BlockSizesFor(g);
  }
  bool Find(absl::string_view name,
            mpio::nbd::ExportInfo* info) const override {
    if (!name.empty() && name != "disk" && name != "alias") return false;
    *info = info_;
    return true;
  }
  std::vector<mpio::nbd::ExportInfo> List() const override { return {info_}; }

 private:
  mpio::nbd::ExportInfo info_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mpio::nbd;
  if (size < 1) return 0;
  const size_t split = 1 + data[0] % 64;
  data++;
  size--;

  Catalog catalog;
  Handshake hs(&catalog);
  size_t pos = 0;
  while (pos < size && hs.state() == Handshake::State::kNegotiating) {
    size_t n = std::min(split, size - pos);
    size_t used = hs.Feed({data + pos, n});
    if (used > n) abort();
    pos += used;
    if (used < n && hs.state() == Handshake::State::kNegotiating) abort();
    hs.output().clear();
  }
  if (hs.state() != Handshake::State::kTransmission) return 0;
  if (hs.export_info().name != "disk") abort();

  // Transmission: parse headers, skip payloads as the server would.
  uint8_t reply[160];
  while (size - pos >= kRequestHeaderSize) {
    auto r = ParseRequest({data + pos, kRequestHeaderSize});
    pos += kRequestHeaderSize;
    if (!r.ok()) break;
    Verdict v = ValidateRequest(*r, hs.export_info(), hs.structured_replies());
    if (v.error == 0 && r->type != kCmdDisc && r->type != kCmdFlush &&
        r->offset + r->length > hs.export_info().size) {
      abort();  // the validator let an out-of-range request through
    }
    size_t n =
        EncodeStructuredError(reply, sizeof(reply), r->handle, v.error, v.why);
    if (n > sizeof(reply)) abort();
    EncodeOffsetDataHeader(reply, r->handle, r->offset, r->length, true);
    if (HasPayload(*r)) {
      if (r->length > size - pos) break;
      pos += r->length;
    }
  }
  return 0;
}
