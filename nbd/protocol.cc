#include "nbd/protocol.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace mpio::nbd {
namespace {

void AppendBe16(std::string* out, uint16_t v) {
  uint8_t b[2];
  StoreBe16(b, v);
  out->append(reinterpret_cast<const char*>(b), sizeof(b));
}
void AppendBe32(std::string* out, uint32_t v) {
  uint8_t b[4];
  StoreBe32(b, v);
  out->append(reinterpret_cast<const char*>(b), sizeof(b));
}
void AppendBe64(std::string* out, uint64_t v) {
  uint8_t b[8];
  StoreBe64(b, v);
  out->append(reinterpret_cast<const char*>(b), sizeof(b));
}

bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace

uint16_t TransmissionFlagsFor(const DeviceGeometry& geometry, bool structured) {
  // CAN_MULTI_CONN promises that a FLUSH on one connection covers writes
  // completed on every other connection to the same export. That holds here:
  // connections keep no private write-back state (a write is acknowledged
  // only after the device completed it), and FLUSH becomes one device-wide
  // SYNCHRONIZE CACHE, not a per-connection drain. Clients such as nbdcopy
  // and qemu then open several connections in parallel.
  uint16_t flags = kTxHasFlags | kTxSendFlush | kTxCanMultiConn;
  if (geometry.read_only) {
    flags |= kTxReadOnly;
  } else {
    flags |= kTxSendFua | kTxSendWriteZeroes;
    if (geometry.supports_unmap) flags |= kTxSendTrim;
  }
  if (structured) flags |= kTxSendDf;
  return flags;
}

BlockSizes BlockSizesFor(const DeviceGeometry& geometry) {
  BlockSizes s;
  s.minimum = geometry.block_size == 0 ? 1 : geometry.block_size;
  // The preferred size must be a power of two and at least the minimum.
  uint64_t preferred = 4096;
  if (IsPowerOfTwo(geometry.optimal_transfer_bytes) &&
      geometry.optimal_transfer_bytes > preferred) {
    preferred = geometry.optimal_transfer_bytes;
  }
  while (preferred < s.minimum) preferred <<= 1;
  if (preferred > kMaxPayload) preferred = kMaxPayload;
  s.preferred = static_cast<uint32_t>(preferred);
  // The device splits requests above its own transfer limit, so the wire
  // limit is ours alone; keep it a multiple of the minimum.
  s.maximum = kMaxPayload - kMaxPayload % s.minimum;
  return s;
}

void AppendGreeting(std::string* out) {
  AppendBe64(out, kNbdMagic);
  AppendBe64(out, kOptMagic);
  AppendBe16(out, kFlagFixedNewstyle | kFlagNoZeroes);
}

absl::StatusOr<uint32_t> ParseClientFlags(absl::Span<const uint8_t> bytes) {
  if (bytes.size() < kClientFlagsSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("client flags: need 4 bytes, got ", bytes.size()));
  }
  uint32_t flags = LoadBe32(bytes.data());
  constexpr uint32_t kKnown = kClientFlagFixedNewstyle | kClientFlagNoZeroes;
  if ((flags & ~kKnown) != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "client flags 0x%08x: unknown bits 0x%08x", flags, flags & ~kKnown));
  }
  return flags;
}

absl::StatusOr<OptionHeader> ParseOptionHeader(
    absl::Span<const uint8_t> bytes) {
  if (bytes.size() < kOptionHeaderSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("option header: need 16 bytes, got ", bytes.size()));
  }
  uint64_t magic = LoadBe64(bytes.data());
  if (magic != kOptMagic) {
    return absl::InvalidArgumentError(
        absl::StrFormat("option header: magic 0x%016x is not IHAVEOPT", magic));
  }
  OptionHeader h;
  h.option = LoadBe32(bytes.data() + 8);
  h.length = LoadBe32(bytes.data() + 12);
  return h;
}

absl::StatusOr<InfoRequest> ParseInfoRequest(absl::string_view data) {
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  const size_t n = data.size();
  if (n < 6) {
    return absl::InvalidArgumentError(
        absl::StrCat("info request: ", n, " bytes, need at least 6"));
  }
  uint32_t name_length = LoadBe32(p);
  if (name_length > kMaxStringLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "info request: export name of ", name_length, " bytes (max 4096)"));
  }
  if (name_length > n - 6) {
    return absl::InvalidArgumentError(
        absl::StrCat("info request: export name of ", name_length,
                     " bytes does not fit in ", n, " bytes of option data"));
  }
  InfoRequest r;
  r.name.assign(data.data() + 4, name_length);
  if (r.name.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("info request: NUL in export name");
  }
  size_t pos = 4 + name_length;
  uint16_t count = LoadBe16(p + pos);
  pos += 2;
  if (n - pos != size_t{count} * 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("info request: ", count, " info items need ", count * 2,
                     " bytes, ", n - pos, " left"));
  }
  r.requests.reserve(count);
  for (uint16_t i = 0; i < count; i++) {
    r.requests.push_back(LoadBe16(p + pos));
    pos += 2;
  }
  return r;
}

void AppendOptionReply(std::string* out, uint32_t option, uint32_t type,
                       absl::string_view data) {
  AppendBe64(out, kOptReplyMagic);
  AppendBe32(out, option);
  AppendBe32(out, type);
  AppendBe32(out, static_cast<uint32_t>(data.size()));
  out->append(data.data(), data.size());
}

void AppendServerReply(std::string* out, absl::string_view name,
                       absl::string_view description) {
  std::string data;
  AppendBe32(&data, static_cast<uint32_t>(name.size()));
  data.append(name.data(), name.size());
  data.append(description.data(), description.size());
  AppendOptionReply(out, kOptList, kRepServer, data);
}

void AppendInfoExport(std::string* out, uint32_t option, uint64_t size,
                      uint16_t flags) {
  std::string data;
  AppendBe16(&data, kInfoExport);
  AppendBe64(&data, size);
  AppendBe16(&data, flags);
  AppendOptionReply(out, option, kRepInfo, data);
}

void AppendInfoName(std::string* out, uint32_t option, absl::string_view name) {
  std::string data;
  AppendBe16(&data, kInfoName);
  data.append(name.data(), name.size());
  AppendOptionReply(out, option, kRepInfo, data);
}

void AppendInfoDescription(std::string* out, uint32_t option,
                           absl::string_view description) {
  std::string data;
  AppendBe16(&data, kInfoDescription);
  data.append(description.data(), description.size());
  AppendOptionReply(out, option, kRepInfo, data);
}

void AppendInfoBlockSize(std::string* out, uint32_t option,
                         const BlockSizes& sizes) {
  std::string data;
  AppendBe16(&data, kInfoBlockSize);
  AppendBe32(&data, sizes.minimum);
  AppendBe32(&data, sizes.preferred);
  AppendBe32(&data, sizes.maximum);
  AppendOptionReply(out, option, kRepInfo, data);
}

void AppendExportNameReply(std::string* out, uint64_t size, uint16_t flags,
                           bool no_zeroes) {
  AppendBe64(out, size);
  AppendBe16(out, flags);
  if (!no_zeroes) out->append(124, '\0');
}

absl::StatusOr<Request> ParseRequest(absl::Span<const uint8_t> bytes) {
  if (bytes.size() < kRequestHeaderSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("request header: need 28 bytes, got ", bytes.size()));
  }
  const uint8_t* p = bytes.data();
  uint32_t magic = LoadBe32(p);
  if (magic != kRequestMagic) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "request header: magic 0x%08x is not 0x%08x", magic, kRequestMagic));
  }
  Request r;
  r.flags = LoadBe16(p + 4);
  r.type = LoadBe16(p + 6);
  r.handle = LoadBe64(p + 8);
  r.offset = LoadBe64(p + 16);
  r.length = LoadBe32(p + 24);
  return r;
}

Verdict ValidateRequest(const Request& r, const ExportInfo& info,
                        bool structured) {
  const bool read_only = (info.flags & kTxReadOnly) != 0;
  uint16_t allowed_flags = 0;
  bool is_write = false;
  switch (r.type) {
    case kCmdRead:
      if (structured) allowed_flags = kCmdFlagDf;
      break;
    case kCmdWrite:
      allowed_flags = kCmdFlagFua;
      is_write = true;
      break;
    case kCmdFlush:
    case kCmdDisc:
      // Flags and range mean nothing here; the spec asks clients to send
      // zeroes and servers to ignore them.
      return {};
    case kCmdTrim:
      if ((info.flags & kTxSendTrim) == 0 && !read_only) {
        return {kEinval, "TRIM was not advertised for this export"};
      }
      allowed_flags = kCmdFlagFua;
      is_write = true;
      break;
    case kCmdWriteZeroes:
      allowed_flags = kCmdFlagFua | kCmdFlagNoHole;
      is_write = true;
      break;
    default:
      return {kEinval, "unsupported command"};
  }
  if ((r.flags & ~allowed_flags) != 0) {
    return {kEinval, "command flags not allowed for this command"};
  }
  if (is_write && read_only) return {kEperm, "export is read-only"};
  if ((r.type == kCmdRead || r.type == kCmdWrite) &&
      r.length > info.block_sizes.maximum) {
    return {kEinval, "request larger than the maximum block size (32 MiB)"};
  }
  const uint32_t min = info.block_sizes.minimum;
  if (min > 1 && (r.offset % min != 0 || r.length % min != 0)) {
    return {kEinval, "offset or length not a multiple of the block size"};
  }
  if (r.offset > info.size || r.length > info.size - r.offset) {
    if (r.type == kCmdWrite || r.type == kCmdWriteZeroes) {
      return {kEnospc, "write beyond the end of the export"};
    }
    return {kEinval, "request beyond the end of the export"};
  }
  return {};
}

uint32_t NbdErrorFromErrno(int err) {
  switch (err) {
    case 0:
      return 0;
    case EPERM:
    case EACCES:
    case EROFS:
      return kEperm;
    case ENOMEM:
      return kEnomem;
    case EINVAL:
      return kEinval;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      return kEnospc;
    case EOVERFLOW:
      return kEoverflow;
    case ENOTSUP:
      return kEnotsup;
    case ESHUTDOWN:
      return kEshutdown;
    default:
      return kEio;
  }
}

void EncodeSimpleReply(uint8_t* out, uint32_t error, uint64_t handle) {
  StoreBe32(out, kSimpleReplyMagic);
  StoreBe32(out + 4, error);
  StoreBe64(out + 8, handle);
}

void EncodeStructuredHeader(uint8_t* out, uint16_t flags, uint16_t type,
                            uint64_t handle, uint32_t length) {
  StoreBe32(out, kStructuredReplyMagic);
  StoreBe16(out + 4, flags);
  StoreBe16(out + 6, type);
  StoreBe64(out + 8, handle);
  StoreBe32(out + 16, length);
}

void EncodeOffsetDataHeader(uint8_t* out, uint64_t handle, uint64_t offset,
                            uint32_t data_length, bool done) {
  EncodeStructuredHeader(out, done ? kReplyFlagDone : 0, kReplyTypeOffsetData,
                         handle, data_length + 8);
  StoreBe64(out + kStructuredHeaderSize, offset);
}

size_t EncodeStructuredError(uint8_t* out, size_t capacity, uint64_t handle,
                             uint32_t error, absl::string_view message) {
  constexpr size_t kFixed = kStructuredHeaderSize + 6;
  if (capacity < kFixed) return 0;
  size_t msg = std::min({message.size(), capacity - kFixed, kMaxStringLength});
  EncodeStructuredHeader(out, kReplyFlagDone, kReplyTypeError, handle,
                         static_cast<uint32_t>(6 + msg));
  StoreBe32(out + kStructuredHeaderSize, error);
  StoreBe16(out + kStructuredHeaderSize + 4, static_cast<uint16_t>(msg));
  if (msg != 0) std::memcpy(out + kFixed, message.data(), msg);
  return kFixed + msg;
}

const char* CommandName(uint16_t type) {
  switch (type) {
    case kCmdRead:
      return "READ";
    case kCmdWrite:
      return "WRITE";
    case kCmdDisc:
      return "DISC";
    case kCmdFlush:
      return "FLUSH";
    case kCmdTrim:
      return "TRIM";
    case kCmdWriteZeroes:
      return "WRITE_ZEROES";
    default:
      return "UNKNOWN";
  }
}

const char* OptionName(uint32_t option) {
  switch (option) {
    case kOptExportName:
      return "NBD_OPT_EXPORT_NAME";
    case kOptAbort:
      return "NBD_OPT_ABORT";
    case kOptList:
      return "NBD_OPT_LIST";
    case kOptStartTls:
      return "NBD_OPT_STARTTLS";
    case kOptInfo:
      return "NBD_OPT_INFO";
    case kOptGo:
      return "NBD_OPT_GO";
    case kOptStructuredReply:
      return "NBD_OPT_STRUCTURED_REPLY";
    default:
      return "unknown option";
  }
}

}  // namespace mpio::nbd
