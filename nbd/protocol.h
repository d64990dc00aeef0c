// NBD wire protocol (fixed newstyle, as qemu-nbd and nbdkit speak it): the
// constants, the parsers for what a client sends and the builders for what
// the server answers. Pure functions over bytes: no I/O, no state.
//
// Threads: every function is reentrant.
// Ownership: parsers read only the bytes they are given; builders write into
// caller buffers (fixed-size headers on the I/O path, no allocation) or append
// to a caller std::string (handshake replies, cold path).
// Failure: a parser returns InvalidArgument naming what was wrong (bad magic,
// short input, lengths that disagree); nothing is consumed or kept.
//
// All integers on the wire are big-endian.
#ifndef MPIO_NBD_PROTOCOL_H_
#define MPIO_NBD_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "engine/device/block_device.h"

namespace mpio::nbd {

// Magic numbers.
inline constexpr uint64_t kNbdMagic = 0x4e42444d41474943ULL;  // "NBDMAGIC"
inline constexpr uint64_t kOptMagic = 0x49484156454f5054ULL;  // "IHAVEOPT"
inline constexpr uint64_t kOptReplyMagic = 0x3e889045565a9ULL;
inline constexpr uint32_t kRequestMagic = 0x25609513;
inline constexpr uint32_t kSimpleReplyMagic = 0x67446698;
inline constexpr uint32_t kStructuredReplyMagic = 0x668e33ef;

// Handshake flags (server, 16 bits) and client flags (32 bits).
inline constexpr uint16_t kFlagFixedNewstyle = 1 << 0;
inline constexpr uint16_t kFlagNoZeroes = 1 << 1;
inline constexpr uint32_t kClientFlagFixedNewstyle = 1 << 0;
inline constexpr uint32_t kClientFlagNoZeroes = 1 << 1;

// Options.
inline constexpr uint32_t kOptExportName = 1;
inline constexpr uint32_t kOptAbort = 2;
inline constexpr uint32_t kOptList = 3;
inline constexpr uint32_t kOptStartTls = 5;
inline constexpr uint32_t kOptInfo = 6;
inline constexpr uint32_t kOptGo = 7;
inline constexpr uint32_t kOptStructuredReply = 8;

// Option reply types; errors have bit 31 set.
inline constexpr uint32_t kRepAck = 1;
inline constexpr uint32_t kRepServer = 2;
inline constexpr uint32_t kRepInfo = 3;
inline constexpr uint32_t kRepErrUnsup = 0x80000001;
inline constexpr uint32_t kRepErrPolicy = 0x80000002;
inline constexpr uint32_t kRepErrInvalid = 0x80000003;
inline constexpr uint32_t kRepErrUnknown = 0x80000006;
inline constexpr uint32_t kRepErrTooBig = 0x80000009;

// NBD_INFO_* items in NBD_REP_INFO.
inline constexpr uint16_t kInfoExport = 0;
inline constexpr uint16_t kInfoName = 1;
inline constexpr uint16_t kInfoDescription = 2;
inline constexpr uint16_t kInfoBlockSize = 3;

// Transmission flags (16 bits).
inline constexpr uint16_t kTxHasFlags = 1 << 0;
inline constexpr uint16_t kTxReadOnly = 1 << 1;
inline constexpr uint16_t kTxSendFlush = 1 << 2;
inline constexpr uint16_t kTxSendFua = 1 << 3;
inline constexpr uint16_t kTxSendTrim = 1 << 5;
inline constexpr uint16_t kTxSendWriteZeroes = 1 << 6;
inline constexpr uint16_t kTxSendDf = 1 << 7;
inline constexpr uint16_t kTxCanMultiConn = 1 << 8;

// Command flags.
inline constexpr uint16_t kCmdFlagFua = 1 << 0;
inline constexpr uint16_t kCmdFlagNoHole = 1 << 1;
inline constexpr uint16_t kCmdFlagDf = 1 << 2;

// Commands.
inline constexpr uint16_t kCmdRead = 0;
inline constexpr uint16_t kCmdWrite = 1;
inline constexpr uint16_t kCmdDisc = 2;
inline constexpr uint16_t kCmdFlush = 3;
inline constexpr uint16_t kCmdTrim = 4;
inline constexpr uint16_t kCmdWriteZeroes = 6;

// Structured reply chunks.
inline constexpr uint16_t kReplyFlagDone = 1 << 0;
inline constexpr uint16_t kReplyTypeNone = 0;
inline constexpr uint16_t kReplyTypeOffsetData = 1;
inline constexpr uint16_t kReplyTypeError = 0x8001;

// NBD error values (the protocol's own list; they match Linux errno).
inline constexpr uint32_t kEperm = 1;
inline constexpr uint32_t kEio = 5;
inline constexpr uint32_t kEnomem = 12;
inline constexpr uint32_t kEinval = 22;
inline constexpr uint32_t kEnospc = 28;
inline constexpr uint32_t kEoverflow = 75;
inline constexpr uint32_t kEnotsup = 95;
inline constexpr uint32_t kEshutdown = 108;

// Sizes of fixed wire structures.
inline constexpr size_t kGreetingSize = 18;
inline constexpr size_t kClientFlagsSize = 4;
inline constexpr size_t kOptionHeaderSize = 16;
inline constexpr size_t kRequestHeaderSize = 28;
inline constexpr size_t kSimpleReplySize = 16;
inline constexpr size_t kStructuredHeaderSize = 20;
inline constexpr size_t kOffsetDataHeaderSize = kStructuredHeaderSize + 8;

// Limits. Strings (names, messages) are capped at 4096 bytes by the spec.
inline constexpr size_t kMaxStringLength = 4096;
// Longest option payload we buffer; longer ones are skipped and refused.
inline constexpr uint32_t kMaxOptionLength = 64 * 1024;
// Largest READ/WRITE payload: what we advertise as the maximum block size.
inline constexpr uint32_t kMaxPayload = 32u << 20;

struct BlockSizes {
  uint32_t minimum = 512;
  uint32_t preferred = 4096;
  uint32_t maximum = kMaxPayload;
};

// What a client learns about one export during the handshake.
struct ExportInfo {
  std::string name;  // canonical name
  std::string description;
  uint64_t size = 0;
  uint16_t flags = 0;  // transmission flags
  BlockSizes block_sizes;
};

// Transmission flags for a device. `structured` adds SEND_DF (we always send
// a read as one chunk, so "don't fragment" costs nothing).
uint16_t TransmissionFlagsFor(const DeviceGeometry& geometry, bool structured);
BlockSizes BlockSizesFor(const DeviceGeometry& geometry);

// ---- Handshake ------------------------------------------------------------

// The 18-byte server greeting: NBDMAGIC, IHAVEOPT, FIXED_NEWSTYLE|NO_ZEROES.
void AppendGreeting(std::string* out);

// Client flags (4 bytes). Unknown bits are an error: the spec says the server
// must then close the connection.
absl::StatusOr<uint32_t> ParseClientFlags(absl::Span<const uint8_t> bytes);

struct OptionHeader {
  uint32_t option = 0;
  uint32_t length = 0;  // of the data that follows
};
// 16 bytes: IHAVEOPT, option, length.
absl::StatusOr<OptionHeader> ParseOptionHeader(absl::Span<const uint8_t> bytes);

// Data of NBD_OPT_INFO / NBD_OPT_GO: u32 name length, name, u16 count,
// count x u16 info types.
struct InfoRequest {
  std::string name;
  std::vector<uint16_t> requests;
};
absl::StatusOr<InfoRequest> ParseInfoRequest(absl::string_view data);

// Option replies: magic, option, type, length, data.
void AppendOptionReply(std::string* out, uint32_t option, uint32_t type,
                       absl::string_view data = {});
// NBD_REP_SERVER for NBD_OPT_LIST: u32 name length, name, description.
void AppendServerReply(std::string* out, absl::string_view name,
                       absl::string_view description);
// NBD_REP_INFO items.
void AppendInfoExport(std::string* out, uint32_t option, uint64_t size,
                      uint16_t flags);
void AppendInfoName(std::string* out, uint32_t option, absl::string_view name);
void AppendInfoDescription(std::string* out, uint32_t option,
                           absl::string_view description);
void AppendInfoBlockSize(std::string* out, uint32_t option,
                         const BlockSizes& sizes);
// Reply to NBD_OPT_EXPORT_NAME: size, flags, 124 zeroes unless NO_ZEROES.
void AppendExportNameReply(std::string* out, uint64_t size, uint16_t flags,
                           bool no_zeroes);

// ---- Transmission ---------------------------------------------------------

struct Request {
  uint16_t flags = 0;
  uint16_t type = 0;
  uint64_t handle = 0;
  uint64_t offset = 0;
  uint32_t length = 0;
};
// 28 bytes: magic, flags, type, handle, offset, length. Only the magic can be
// wrong at this level; ValidateRequest judges the rest.
absl::StatusOr<Request> ParseRequest(absl::Span<const uint8_t> bytes);

// True when `length` payload bytes follow the header on the wire.
inline bool HasPayload(const Request& r) { return r.type == kCmdWrite; }

struct Verdict {
  uint32_t error = 0;  // NBD error value, 0: go ahead
  const char* why = "";
};
// Checks a request against the export before it reaches the device:
// command known and advertised, flags allowed, alignment to the minimum
// block size, payload size, and range (a write past the end is ENOSPC, a read
// or trim past the end EINVAL, as the spec asks).
Verdict ValidateRequest(const Request& r, const ExportInfo& info,
                        bool structured);

// Maps an errno (from ErrnoFromStatus) to the protocol's error list.
uint32_t NbdErrorFromErrno(int err);

// Fixed-size reply headers, written into caller storage (I/O path).
void EncodeSimpleReply(uint8_t* out /*[16]*/, uint32_t error, uint64_t handle);
void EncodeStructuredHeader(uint8_t* out /*[20]*/, uint16_t flags,
                            uint16_t type, uint64_t handle, uint32_t length);
// Structured OFFSET_DATA chunk header + offset; `data_length` bytes follow.
void EncodeOffsetDataHeader(uint8_t* out /*[28]*/, uint64_t handle,
                            uint64_t offset, uint32_t data_length, bool done);
// Structured ERROR chunk (final) with a message, truncated to fit `capacity`
// bytes in all. Returns the number of bytes written (at least 26 needed).
size_t EncodeStructuredError(uint8_t* out, size_t capacity, uint64_t handle,
                             uint32_t error, absl::string_view message);

// Big-endian helpers, exposed for tests and the fuzzer.
inline uint16_t LoadBe16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
inline uint32_t LoadBe32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | p[3];
}
inline uint64_t LoadBe64(const uint8_t* p) {
  return (uint64_t{LoadBe32(p)} << 32) | LoadBe32(p + 4);
}
inline void StoreBe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void StoreBe32(uint8_t* p, uint32_t v) {
  StoreBe16(p, static_cast<uint16_t>(v >> 16));
  StoreBe16(p + 2, static_cast<uint16_t>(v));
}
inline void StoreBe64(uint8_t* p, uint64_t v) {
  StoreBe32(p, static_cast<uint32_t>(v >> 32));
  StoreBe32(p + 4, static_cast<uint32_t>(v));
}

const char* CommandName(uint16_t type);
const char* OptionName(uint32_t option);

}  // namespace mpio::nbd

#endif  // MPIO_NBD_PROTOCOL_H_
