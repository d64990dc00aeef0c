#include "nbd/handshake.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace mpio::nbd {

Handshake::Handshake(const ExportCatalog* catalog) : catalog_(catalog) {
  AppendGreeting(&output_);
}

void Handshake::Close(std::string reason) {
  state_ = State::kClosed;
  close_reason_ = std::move(reason);
}

void Handshake::ReplyError(uint32_t type, absl::string_view message) {
  AppendOptionReply(&output_, option_.option, type, message);
}

size_t Handshake::Feed(absl::Span<const uint8_t> data) {
  size_t used = 0;
  while (state_ == State::kNegotiating && used < data.size()) {
    if (phase_ == Phase::kSkipData) {
      uint64_t n = std::min<uint64_t>(skip_left_, data.size() - used);
      used += n;
      skip_left_ -= n;
      if (skip_left_ == 0) {
        if (option_.option == kOptExportName) {
          Close("NBD_OPT_EXPORT_NAME with an oversized name");
        } else {
          ReplyError(kRepErrTooBig,
                     absl::StrCat("option data of ", option_.length,
                                  " bytes is too large"));
          phase_ = Phase::kOptionHeader;
          need_ = kOptionHeaderSize;
        }
      }
      continue;
    }
    size_t take = std::min(need_ - pending_.size(), data.size() - used);
    pending_.append(reinterpret_cast<const char*>(data.data() + used), take);
    used += take;
    if (pending_.size() < need_) break;

    const auto* bytes = reinterpret_cast<const uint8_t*>(pending_.data());
    switch (phase_) {
      case Phase::kClientFlags: {
        auto flags = ParseClientFlags({bytes, pending_.size()});
        pending_.clear();
        if (!flags.ok()) {
          Close(std::string(flags.status().message()));
          break;
        }
        client_flags_ = *flags;
        phase_ = Phase::kOptionHeader;
        need_ = kOptionHeaderSize;
        break;
      }
      case Phase::kOptionHeader: {
        auto header = ParseOptionHeader({bytes, pending_.size()});
        pending_.clear();
        if (!header.ok()) {
          Close(std::string(header.status().message()));
          break;
        }
        if (++options_seen_ > kMaxOptions) {
          Close(absl::StrCat("more than ", kMaxOptions, " options"));
          break;
        }
        option_ = *header;
        if (option_.length > kMaxOptionLength) {
          phase_ = Phase::kSkipData;
          skip_left_ = option_.length;
        } else if (option_.length == 0) {
          HandleOption({});
        } else {
          phase_ = Phase::kOptionData;
          need_ = option_.length;
        }
        break;
      }
      case Phase::kOptionData: {
        std::string payload = std::move(pending_);
        pending_.clear();
        HandleOption(payload);
        break;
      }
      case Phase::kSkipData:
        break;  // handled above
    }
  }
  return used;
}

void Handshake::HandleOption(absl::string_view data) {
  // After each option we expect the next header, unless the option ended
  // the handshake (state_ changes then, and nothing more is read).
  phase_ = Phase::kOptionHeader;
  need_ = kOptionHeaderSize;
  if ((client_flags_ & kClientFlagFixedNewstyle) == 0 &&
      option_.option != kOptExportName) {
    // Plain newstyle has no option replies: the only way to refuse is to
    // hang up.
    Close(absl::StrCat(OptionName(option_.option),
                       " from a client without fixed newstyle"));
    return;
  }
  switch (option_.option) {
    case kOptExportName:
      HandleExportName(data);
      return;
    case kOptAbort:
      AppendOptionReply(&output_, kOptAbort, kRepAck);
      Close("client sent NBD_OPT_ABORT");
      return;
    case kOptList:
      if (!data.empty()) {
        ReplyError(kRepErrInvalid, "NBD_OPT_LIST takes no data");
        return;
      }
      for (const ExportInfo& e : catalog_->List()) {
        AppendServerReply(&output_, e.name, e.description);
      }
      AppendOptionReply(&output_, kOptList, kRepAck);
      return;
    case kOptInfo:
    case kOptGo:
      HandleInfoOrGo(data);
      return;
    case kOptStructuredReply:
      if (!data.empty()) {
        ReplyError(kRepErrInvalid, "NBD_OPT_STRUCTURED_REPLY takes no data");
        return;
      }
      structured_ = true;
      AppendOptionReply(&output_, kOptStructuredReply, kRepAck);
      return;
    case kOptStartTls:
      ReplyError(kRepErrUnsup,
                 "TLS is not supported; use the Unix socket or loopback");
      return;
    default:
      ReplyError(kRepErrUnsup,
                 absl::StrCat("option ", option_.option, " is not supported"));
      return;
  }
}

void Handshake::HandleInfoOrGo(absl::string_view data) {
  const uint32_t option = option_.option;
  auto request = ParseInfoRequest(data);
  if (!request.ok()) {
    ReplyError(kRepErrInvalid, request.status().message());
    return;
  }
  ExportInfo info;
  if (!catalog_->Find(request->name, &info)) {
    ReplyError(kRepErrUnknown,
               request->name.empty()
                   ? std::string("there is no default export")
                   : absl::StrCat("no export named '", request->name, "'"));
    return;
  }
  if (structured_) info.flags |= kTxSendDf;
  auto wants = [&](uint16_t item) {
    return std::find(request->requests.begin(), request->requests.end(),
                     item) != request->requests.end();
  };
  AppendInfoExport(&output_, option, info.size, info.flags);
  if (wants(kInfoName)) AppendInfoName(&output_, option, info.name);
  if (wants(kInfoDescription) && !info.description.empty()) {
    AppendInfoDescription(&output_, option, info.description);
  }
  // Sent even when not asked for (the spec allows it): clients that honour
  // it avoid unaligned requests, others still get EINVAL for them.
  AppendInfoBlockSize(&output_, option, info.block_sizes);
  AppendOptionReply(&output_, option, kRepAck);
  if (option == kOptGo) {
    export_ = std::move(info);
    state_ = State::kTransmission;
  }
}

void Handshake::HandleExportName(absl::string_view data) {
  if (data.size() > kMaxStringLength) {
    Close("NBD_OPT_EXPORT_NAME with an oversized name");
    return;
  }
  ExportInfo info;
  if (!catalog_->Find(data, &info)) {
    // EXPORT_NAME has no error reply: the spec says to hang up.
    Close(absl::StrCat("NBD_OPT_EXPORT_NAME: no export named '", data, "'"));
    return;
  }
  // DF needs structured replies, which need NBD_OPT_GO-era clients; keep it
  // anyway when negotiated, it is harmless.
  if (structured_) info.flags |= kTxSendDf;
  AppendExportNameReply(&output_, info.size, info.flags, no_zeroes());
  export_ = std::move(info);
  state_ = State::kTransmission;
}

}  // namespace mpio::nbd
