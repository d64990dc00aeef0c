// Handshake: the server side of NBD fixed-newstyle option haggling as a pure
// state machine. The connection feeds it the bytes it received and sends the
// bytes it produces; the machine ends in transmission (an export was chosen
// with NBD_OPT_GO or NBD_OPT_EXPORT_NAME) or closed (abort, protocol
// violation, unknown export for EXPORT_NAME).
//
// Supported options: EXPORT_NAME, ABORT, LIST, INFO, GO (with INFO_EXPORT,
// NAME, DESCRIPTION, BLOCK_SIZE), STRUCTURED_REPLY. STARTTLS and everything
// else get NBD_REP_ERR_UNSUP (this server has no TLS; use the Unix socket or
// loopback). Replies to errors carry a human-readable message.
//
// Threads: one Handshake per connection, used by one thread. The catalog is
// called synchronously from Feed().
// Ownership: the catalog must outlive the machine. Feed() never keeps
// pointers into the caller's bytes.
// Failure: state() == kClosed with close_reason(); output() may still hold a
// final reply (e.g. the ACK to NBD_OPT_ABORT) to send before closing.
#ifndef MPIO_NBD_HANDSHAKE_H_
#define MPIO_NBD_HANDSHAKE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "nbd/protocol.h"

namespace mpio::nbd {

// What the handshake asks about exports.
class ExportCatalog {
 public:
  virtual ~ExportCatalog() = default;
  // `name` may be an alias, or "" for the default export. Fills `info` (with
  // the canonical name) and returns true when found. `info.flags` must not
  // contain SEND_DF; the handshake adds it when structured replies are on.
  virtual bool Find(absl::string_view name, ExportInfo* info) const = 0;
  // Canonical names and descriptions, for NBD_OPT_LIST.
  virtual std::vector<ExportInfo> List() const = 0;
};

class Handshake {
 public:
  enum class State { kNegotiating, kTransmission, kClosed };

  // A client may send at most this many options: a bound against a client
  // that haggles forever.
  static constexpr int kMaxOptions = 256;

  // Queues the server greeting in output().
  explicit Handshake(const ExportCatalog* catalog);

  // Consumes bytes from the client and returns how many it used. It stops at
  // the end of the handshake: bytes after the final option belong to the
  // transmission phase (clients may pipeline their first requests).
  size_t Feed(absl::Span<const uint8_t> data);

  // Bytes to send to the client. The caller erases what it has sent.
  std::string& output() { return output_; }
  State state() const { return state_; }
  const std::string& close_reason() const { return close_reason_; }

  // Valid in kTransmission.
  const ExportInfo& export_info() const { return export_; }
  bool structured_replies() const { return structured_; }
  bool no_zeroes() const { return (client_flags_ & kClientFlagNoZeroes) != 0; }

 private:
  enum class Phase { kClientFlags, kOptionHeader, kOptionData, kSkipData };

  void Close(std::string reason);
  void HandleOption(absl::string_view data);
  void HandleInfoOrGo(absl::string_view data);
  void HandleExportName(absl::string_view data);
  void ReplyError(uint32_t type, absl::string_view message);

  const ExportCatalog* catalog_;
  State state_ = State::kNegotiating;
  Phase phase_ = Phase::kClientFlags;
  std::string pending_;  // bytes of the current unit collected so far
  size_t need_ = kClientFlagsSize;
  uint64_t skip_left_ = 0;
  OptionHeader option_;
  uint32_t client_flags_ = 0;
  bool structured_ = false;
  int options_seen_ = 0;
  ExportInfo export_;
  std::string output_;
  std::string close_reason_;
};

}  // namespace mpio::nbd

#endif  // MPIO_NBD_HANDSHAKE_H_
