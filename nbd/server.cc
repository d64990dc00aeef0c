#include "nbd/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/base/status_macros.h"
#include "nbd/protocol.h"

namespace mpio {

using nbd::ExportInfo;
using nbd::Request;

namespace {

// Header bytes buffered per connection; payload beyond what is already
// buffered is received straight into the request's own buffer.
constexpr size_t kInputBufferSize = 64 * 1024;
// Request buffers up to this size stay with a pooled request for reuse.
constexpr size_t kKeepBufferBytes = 1u << 20;
// Longest message carried in a structured ERROR chunk.
constexpr size_t kMaxErrorMessage = 120;
constexpr size_t kReplyHeaderCapacity =
    nbd::kStructuredHeaderSize + 6 + kMaxErrorMessage;
// Bounds the work done for one connection per readiness event, so one busy
// client cannot starve the others on this reactor.
constexpr int kReadsPerEvent = 16;
constexpr int kAcceptsPerEvent = 64;
constexpr int kMaxIovPerSend = 64;

std::string ErrnoText(const char* what, int err) {
  return absl::StrCat(what, ": ", strerror(err));
}

bool IsLoopback(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      return in6->sin6_addr.s6_addr[12] == 127;
    }
  }
  return false;
}

}  // namespace

// One export: a device under a name. Stats are atomics so that GetStats()
// may read them from any thread while the reactor counts.
struct NbdServer::Export {
  std::string name;
  std::vector<std::string> aliases;
  std::string description;
  BlockDevice* device = nullptr;
  uint64_t seq = 0;
  std::atomic<uint64_t> requests{0}, reads{0}, writes{0}, bytes_read{0},
      bytes_written{0}, errors{0}, connections{0};
  std::atomic<int64_t> inflight{0};

  ExportInfo Info() const {
    const DeviceGeometry& g = device->geometry();
    ExportInfo info;
    info.name = name;
    info.description = description;
    info.size = g.size_bytes;
    info.flags = nbd::TransmissionFlagsFor(g, /*structured=*/false);
    info.block_sizes = nbd::BlockSizesFor(g);
    return info;
  }
};

struct NbdServer::Listener {
  int fd = -1;
  Reactor::WatchId watch = 0;
  std::string unix_path;  // empty for TCP
  uint64_t unix_inode = 0;
};

// One NBD request from header to reply. Pooled per connection.
struct NbdServer::Req final : Reactor::Message {
  Connection* conn = nullptr;
  Request wire;
  IoRequest io;
  struct iovec iov {};
  std::unique_ptr<uint8_t[]> buf;
  size_t capacity = 0;
  uint64_t charged_bytes = 0;  // counted against the connection's byte limit
  absl::Status status;         // from the device
  // Reply: header bytes, then `data_length` bytes of buf.
  uint8_t header[kReplyHeaderCapacity];
  size_t header_length = 0;
  size_t data_length = 0;
  size_t sent = 0;
  Req* next = nullptr;

  void Run() override;  // device completion, back on the reactor
};

class NbdServer::Connection {
 public:
  Connection(NbdServer* server, int fd)
      : server_(server),
        fd_(fd),
        handshake_(std::make_unique<nbd::Handshake>(&server->catalog_)),
        in_(new uint8_t[kInputBufferSize]) {}

  ~Connection() {
    if (fd_ >= 0) close(fd_);
  }

  void Start() {
    watch_ = server_->reactor_->Watch(
        fd_, POLLIN, [this](uint32_t revents) { OnEvent(revents); });
    handshake_timer_ =
        server_->reactor_->After(server_->options_.handshake_timeout, [this] {
          handshake_timer_ = 0;
          if (handshake_ != nullptr) Close("nbd: handshake timed out");
        });
    Flush();
  }

  // Closes the socket; the object stays until its in-flight requests are
  // back from the device.
  void Close(absl::string_view reason) {
    if (closed_) return;
    closed_ = true;
    if (!reason.empty()) server_->Log(reason);
    CancelHandshakeTimer();
    server_->reactor_->Unwatch(watch_);
    close(fd_);
    fd_ = -1;
    if (export_ != nullptr) export_->connections--;
    while (reply_head_ != nullptr) {
      Req* r = reply_head_;
      reply_head_ = r->next;
      Release(r);
    }
    reply_tail_ = nullptr;
    if (payload_req_ != nullptr) {
      Release(payload_req_);
      payload_req_ = nullptr;
    }
    if (discard_req_ != nullptr) {
      Release(discard_req_);
      discard_req_ = nullptr;
    }
    MaybeDestroy();
  }

  void CancelHandshakeTimer() {
    if (handshake_timer_ != 0) server_->reactor_->Cancel(handshake_timer_);
    handshake_timer_ = 0;
  }

  bool closed() const { return closed_; }
  const Export* export_ptr() const { return export_.get(); }
  void OnDeviceDone(Req* r);

 private:
  enum class ReadState { kHeader, kPayload, kDiscard };

  void OnEvent(uint32_t revents) {
    if (closed_) return;
    if ((revents & (POLLOUT | POLLERR | POLLHUP)) != 0) Flush();
    if (closed_) return;
    if ((revents & (POLLIN | POLLERR | POLLHUP)) != 0) OnReadable();
    Pump();
  }

  bool CanStartRequest() const {
    return active_ < server_->options_.max_inflight_per_connection &&
           (active_bytes_ <
                server_->options_.max_inflight_bytes_per_connection ||
            active_ == 0);
  }

  bool WantsInput() const {
    if (closed_ || disconnecting_) return false;
    if (read_state_ != ReadState::kHeader || handshake_ != nullptr) {
      return true;
    }
    return CanStartRequest();
  }

  void UpdateInterest() {
    if (closed_) return;
    uint32_t events = 0;
    if (WantsInput()) events |= POLLIN;
    if (blocked_on_write_) events |= POLLOUT;
    server_->reactor_->Modify(watch_, events);
  }

  void OnReadable() {
    for (int round = 0; round < kReadsPerEvent && WantsInput(); round++) {
      uint8_t* dst;
      size_t room;
      const bool direct = read_state_ == ReadState::kPayload &&
                          in_start_ == in_end_ && handshake_ == nullptr;
      if (direct) {
        // Zero copy: the rest of a WRITE payload lands in its own buffer.
        dst = payload_req_->buf.get() + payload_filled_;
        room = payload_req_->wire.length - payload_filled_;
      } else {
        if (in_start_ == in_end_) {
          in_start_ = in_end_ = 0;
        } else if (in_start_ > 0) {
          std::memmove(in_.get(), in_.get() + in_start_, in_end_ - in_start_);
          in_end_ -= in_start_;
          in_start_ = 0;
        }
        dst = in_.get() + in_end_;
        room = kInputBufferSize - in_end_;
      }
      if (room == 0) break;  // recv would return 0, which means EOF
      ssize_t n = recv(fd_, dst, room, MSG_DONTWAIT);
      if (n == 0) {
        Close(in_end_ > in_start_ || read_state_ != ReadState::kHeader
                  ? "nbd: client closed the connection mid-request"
                  : "");
        return;
      }
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        Close(ErrnoText("nbd: recv", errno));
        return;
      }
      if (direct) {
        payload_filled_ += static_cast<size_t>(n);
        if (payload_filled_ == payload_req_->wire.length) PayloadComplete();
      } else {
        in_end_ += static_cast<size_t>(n);
        ProcessInput();
      }
      if (closed_) return;
    }
  }

  // Consumes buffered input: handshake bytes, request headers, payloads.
  void ProcessInput() {
    if (processing_) return;  // re-entered from a reply sent inline
    processing_ = true;
    while (!closed_ && in_start_ < in_end_) {
      const uint8_t* p = in_.get() + in_start_;
      const size_t avail = in_end_ - in_start_;
      if (handshake_ != nullptr) {
        size_t used = handshake_->Feed({p, avail});
        in_start_ += used;
        HandshakeProgress();
        continue;
      }
      if (disconnecting_) {
        in_start_ = in_end_;  // nothing after DISC matters
        break;
      }
      if (read_state_ == ReadState::kDiscard) {
        size_t n =
            static_cast<size_t>(std::min<uint64_t>(discard_left_, avail));
        in_start_ += n;
        discard_left_ -= n;
        if (discard_left_ == 0) FinishDiscard();
        continue;
      }
      if (read_state_ == ReadState::kPayload) {
        size_t want = payload_req_->wire.length - payload_filled_;
        size_t n = std::min(want, avail);
        std::memcpy(payload_req_->buf.get() + payload_filled_, p, n);
        payload_filled_ += n;
        in_start_ += n;
        if (payload_filled_ == payload_req_->wire.length) PayloadComplete();
        continue;
      }
      if (avail < nbd::kRequestHeaderSize || !CanStartRequest()) break;
      auto request = nbd::ParseRequest({p, nbd::kRequestHeaderSize});
      in_start_ += nbd::kRequestHeaderSize;
      if (!request.ok()) {
        // No way to find the next header after a bad one: hang up.
        Close(absl::StrCat("nbd: ", request.status().message()));
        break;
      }
      HandleRequest(*request);
    }
    processing_ = false;
  }

  void HandshakeProgress() {
    Flush();
    if (closed_) return;
    switch (handshake_->state()) {
      case nbd::Handshake::State::kNegotiating:
        return;
      case nbd::Handshake::State::kClosed:
        // Best effort: the final reply (ABORT's ACK) went out in Flush().
        Close(
            absl::StrCat("nbd: handshake ended: ", handshake_->close_reason()));
        return;
      case nbd::Handshake::State::kTransmission:
        break;
    }
    info_ = handshake_->export_info();
    structured_ = handshake_->structured_replies();
    export_ = server_->FindExport(info_.name);
    handshake_.reset();
    CancelHandshakeTimer();
    if (export_ == nullptr) {
      Close(absl::StrCat("nbd: export '", info_.name,
                         "' was removed during the handshake"));
      return;
    }
    export_->connections++;
  }

  Req* Acquire() {
    Req* r;
    if (free_.empty()) {
      pool_.push_back(std::make_unique<Req>());
      r = pool_.back().get();
      r->conn = this;
    } else {
      r = free_.back();
      free_.pop_back();
    }
    active_++;
    r->status = absl::OkStatus();
    r->header_length = r->data_length = r->sent = 0;
    r->charged_bytes = 0;
    r->next = nullptr;
    return r;
  }

  void Release(Req* r) {
    active_--;
    active_bytes_ -= r->charged_bytes;
    r->charged_bytes = 0;
    if (r->capacity > kKeepBufferBytes) {
      r->buf.reset();
      r->capacity = 0;
    }
    free_.push_back(r);
    // Pump() (at the end of every entry point) picks up buffered requests
    // that this freed slot now allows; doing it here would re-enter Flush().
  }

  // Runs at the end of each entry point (socket event, device completion):
  // goes on with buffered requests a freed slot now allows, finishes a soft
  // disconnect, and re-arms the socket.
  void Pump() {
    if (closed_) return;
    if (in_start_ < in_end_) ProcessInput();
    MaybeFinishDisconnect();
    UpdateInterest();
  }

  bool EnsureBuffer(Req* r, size_t length) {
    if (r->capacity >= length) return true;
    r->buf.reset(new (std::nothrow) uint8_t[length]);
    if (r->buf == nullptr) {
      r->capacity = 0;
      return false;
    }
    r->capacity = length;
    return true;
  }

  void HandleRequest(const Request& w) {
    if (w.type == nbd::kCmdDisc) {
      // Soft disconnect: answer what is in flight, then close.
      disconnecting_ = true;
      MaybeFinishDisconnect();
      return;
    }
    Req* r = Acquire();
    r->wire = w;
    nbd::Verdict v = nbd::ValidateRequest(w, info_, structured_);
    const bool data = (w.type == nbd::kCmdRead || w.type == nbd::kCmdWrite) &&
                      v.error == 0 && w.length > 0;
    if (data) {
      r->charged_bytes = w.length;
      active_bytes_ += w.length;
      if (!EnsureBuffer(r, w.length)) {
        v = {nbd::kEnomem, "out of memory for the request buffer"};
      }
    }
    if (nbd::HasPayload(w) && w.length > 0) {
      if (v.error != 0) {
        // The payload is on the wire whatever we think of it: skip it, then
        // answer.
        discard_req_ = r;
        discard_error_ = v;
        discard_left_ = w.length;
        read_state_ = ReadState::kDiscard;
        return;
      }
      payload_req_ = r;
      payload_filled_ = 0;
      read_state_ = ReadState::kPayload;
      return;
    }
    if (v.error != 0) {
      Reply(r, v.error, v.why);
      return;
    }
    if (w.length == 0 && w.type != nbd::kCmdFlush) {
      Reply(r, 0, "");  // nothing to do
      return;
    }
    Submit(r);
  }

  void PayloadComplete() {
    Req* r = payload_req_;
    payload_req_ = nullptr;
    read_state_ = ReadState::kHeader;
    Submit(r);
  }

  void FinishDiscard() {
    Req* r = discard_req_;
    discard_req_ = nullptr;
    read_state_ = ReadState::kHeader;
    Reply(r, discard_error_.error, discard_error_.why);
  }

  void Submit(Req* r) {
    const Request& w = r->wire;
    IoRequest& io = r->io;
    io = IoRequest{};
    io.offset = w.offset;
    io.length = w.length;
    switch (w.type) {
      case nbd::kCmdRead:
        io.op = IoOp::kRead;
        break;
      case nbd::kCmdWrite:
        io.op = IoOp::kWrite;
        io.fua = (w.flags & nbd::kCmdFlagFua) != 0;
        break;
      case nbd::kCmdFlush:
        io.op = IoOp::kFlush;
        io.offset = io.length = 0;
        break;
      case nbd::kCmdTrim:
        io.op = IoOp::kDiscard;
        io.fua = (w.flags & nbd::kCmdFlagFua) != 0;
        break;
      case nbd::kCmdWriteZeroes:
        io.op = IoOp::kWriteZeroes;
        io.fua = (w.flags & nbd::kCmdFlagFua) != 0;
        io.may_unmap = (w.flags & nbd::kCmdFlagNoHole) == 0 &&
                       export_->device->geometry().supports_write_zeroes_unmap;
        break;
    }
    if (io.op == IoOp::kRead || io.op == IoOp::kWrite) {
      r->iov.iov_base = r->buf.get();
      r->iov.iov_len = w.length;
      io.iov = &r->iov;
      io.iovcnt = 1;
    }
    io.done = &OnIoDone;
    io.user = r;
    inflight_++;
    export_->inflight++;
    server_->inflight_++;
    export_->device->Submit(&io);
  }

  static void OnIoDone(IoRequest* io, const absl::Status& status) {
    Req* r = static_cast<Req*>(io->user);
    r->status = status;
    r->conn->server_->reactor_->Post(r);
  }

  // Builds the reply for `r` and queues it.
  void Reply(Req* r, uint32_t error, absl::string_view why) {
    const Request& w = r->wire;
    Export* e = export_.get();
    e->requests.fetch_add(1, std::memory_order_relaxed);
    if (error != 0) {
      e->errors.fetch_add(1, std::memory_order_relaxed);
    } else if (w.type == nbd::kCmdRead) {
      e->reads.fetch_add(1, std::memory_order_relaxed);
      e->bytes_read.fetch_add(w.length, std::memory_order_relaxed);
    } else if (w.type == nbd::kCmdWrite) {
      e->writes.fetch_add(1, std::memory_order_relaxed);
      e->bytes_written.fetch_add(w.length, std::memory_order_relaxed);
    }
    const bool read_data =
        error == 0 && w.type == nbd::kCmdRead && w.length > 0;
    if (structured_) {
      if (error != 0) {
        r->header_length =
            nbd::EncodeStructuredError(r->header, sizeof(r->header), w.handle,
                                       error, why.substr(0, kMaxErrorMessage));
      } else if (read_data) {
        nbd::EncodeOffsetDataHeader(r->header, w.handle, w.offset, w.length,
                                    /*done=*/true);
        r->header_length = nbd::kOffsetDataHeaderSize;
      } else {
        nbd::EncodeStructuredHeader(r->header, nbd::kReplyFlagDone,
                                    nbd::kReplyTypeNone, w.handle, 0);
        r->header_length = nbd::kStructuredHeaderSize;
      }
    } else {
      nbd::EncodeSimpleReply(r->header, error, w.handle);
      r->header_length = nbd::kSimpleReplySize;
    }
    r->data_length = read_data ? w.length : 0;
    r->sent = 0;
    r->next = nullptr;
    if (reply_tail_ != nullptr) {
      reply_tail_->next = r;
    } else {
      reply_head_ = r;
    }
    reply_tail_ = r;
    if (!blocked_on_write_) Flush();
  }

  // Sends handshake output and queued replies until done or EAGAIN.
  void Flush() {
    if (closed_) return;
    blocked_on_write_ = false;
    if (handshake_ != nullptr && !handshake_->output().empty()) {
      // Moved out so that it survives the switch to transmission.
      out_.append(handshake_->output());
      handshake_->output().clear();
    }
    {
      std::string& out = out_;
      while (!out.empty()) {
        ssize_t n =
            send(fd_, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK) {
            blocked_on_write_ = true;
            return;
          }
          Close(ErrnoText("nbd: send", errno));
          return;
        }
        out.erase(0, static_cast<size_t>(n));
      }
    }
    while (reply_head_ != nullptr) {
      struct iovec iov[kMaxIovPerSend];
      int count = 0;
      for (Req* r = reply_head_; r != nullptr && count + 2 <= kMaxIovPerSend;
           r = r->next) {
        size_t skip = r == reply_head_ ? r->sent : 0;
        if (skip < r->header_length) {
          iov[count++] = {r->header + skip, r->header_length - skip};
          skip = 0;
        } else {
          skip -= r->header_length;
        }
        if (r->data_length > skip) {
          iov[count++] = {r->buf.get() + skip, r->data_length - skip};
        }
      }
      struct msghdr msg {};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<size_t>(count);
      ssize_t n = sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          blocked_on_write_ = true;
          break;
        }
        Close(ErrnoText("nbd: sendmsg", errno));
        return;
      }
      size_t left = static_cast<size_t>(n);
      while (reply_head_ != nullptr) {
        Req* r = reply_head_;
        size_t total = r->header_length + r->data_length;
        size_t step = std::min(left, total - r->sent);
        r->sent += step;
        left -= step;
        if (r->sent < total) break;
        reply_head_ = r->next;
        if (reply_head_ == nullptr) reply_tail_ = nullptr;
        Release(r);
        if (closed_) return;
      }
    }
    UpdateInterest();
  }

  void MaybeFinishDisconnect() {
    if (disconnecting_ && !closed_ && active_ == 0 && reply_head_ == nullptr) {
      Close("");
    }
  }

  void MaybeDestroy() {
    if (closed_ && inflight_ == 0 && !destroy_posted_) {
      destroy_posted_ = true;
      NbdServer* server = server_;
      // Not now: we may be deep inside this connection's own callbacks.
      server->reactor_->Post(
          [server, self = this] { server->DestroyConnection(self); });
    }
  }

  NbdServer* const server_;
  int fd_;
  Reactor::WatchId watch_ = 0;
  Reactor::TimerId handshake_timer_ = 0;
  std::unique_ptr<nbd::Handshake> handshake_;  // null after the handshake
  std::shared_ptr<Export> export_;
  ExportInfo info_;
  bool structured_ = false;

  std::unique_ptr<uint8_t[]> in_;
  size_t in_start_ = 0;
  size_t in_end_ = 0;
  ReadState read_state_ = ReadState::kHeader;
  Req* payload_req_ = nullptr;
  size_t payload_filled_ = 0;
  Req* discard_req_ = nullptr;
  nbd::Verdict discard_error_;
  uint64_t discard_left_ = 0;

  Req* reply_head_ = nullptr;
  Req* reply_tail_ = nullptr;
  bool blocked_on_write_ = false;
  std::string out_;  // handshake bytes not yet sent

  std::vector<std::unique_ptr<Req>> pool_;
  std::vector<Req*> free_;
  int active_ = 0;             // requests taken from the pool
  uint64_t active_bytes_ = 0;  // their READ/WRITE payload bytes
  int inflight_ = 0;           // of those, at the device now

  bool processing_ = false;
  bool disconnecting_ = false;
  bool closed_ = false;
  bool destroy_posted_ = false;
};

void NbdServer::Req::Run() { conn->OnDeviceDone(this); }

void NbdServer::Connection::OnDeviceDone(Req* r) {
  // Keep what the counters point at; decrement them last, after the last
  // touch of this connection (Stop/RemoveExport wait on them).
  std::shared_ptr<Export> e = export_;
  inflight_--;
  if (closed_) {
    Release(r);
    MaybeDestroy();
  } else if (r->status.ok()) {
    Reply(r, 0, "");
  } else {
    uint32_t error = nbd::NbdErrorFromErrno(ErrnoFromStatus(r->status));
    Reply(r, error, r->status.message());
  }
  Pump();
  e->inflight--;
  server_->inflight_--;
}

// ---- NbdServer -------------------------------------------------------------

bool NbdServer::Catalog::Find(absl::string_view name,
                              nbd::ExportInfo* info) const {
  std::shared_ptr<Export> e = server_->FindExport(name);
  if (e == nullptr) return false;
  *info = e->Info();
  return true;
}

std::vector<nbd::ExportInfo> NbdServer::Catalog::List() const {
  std::vector<std::shared_ptr<Export>> exports;
  {
    MutexLock lock(&server_->mu_);
    for (const auto& [name, e] : server_->exports_) exports.push_back(e);
  }
  std::vector<nbd::ExportInfo> out;
  for (const auto& e : exports) out.push_back(e->Info());
  return out;
}

absl::StatusOr<std::unique_ptr<NbdServer>> NbdServer::Create(
    Reactor* reactor, NbdServerOptions options) {
  if (reactor == nullptr) return absl::InvalidArgumentError("nbd: no reactor");
  if (options.max_inflight_per_connection < 1) {
    return absl::InvalidArgumentError(
        "nbd: max_inflight_per_connection must be at least 1");
  }
  if (options.max_connections < 1) {
    return absl::InvalidArgumentError(
        "nbd: max_connections must be at least 1");
  }
  return std::unique_ptr<NbdServer>(new NbdServer(reactor, std::move(options)));
}

NbdServer::NbdServer(Reactor* reactor, NbdServerOptions options)
    : reactor_(reactor), options_(std::move(options)) {}

NbdServer::~NbdServer() { Stop(); }

void NbdServer::Log(absl::string_view message) const {
  if (options_.log && !message.empty()) options_.log(message);
}

absl::Status NbdServer::AddExport(std::string name, BlockDevice* device,
                                  std::vector<std::string> aliases,
                                  std::string description) {
  if (device == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("nbd export '", name, "': no device"));
  }
  std::vector<std::string> names = aliases;
  names.push_back(name);
  for (const std::string& n : names) {
    if (n.empty() || n.size() > nbd::kMaxStringLength ||
        n.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "nbd export '", name,
          "': names and aliases must be 1..4096 bytes "
          "without NUL (the empty name means the default export)"));
    }
  }
  if (description.size() > nbd::kMaxStringLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "nbd export '", name, "': description longer than 4096 bytes"));
  }
  MutexLock lock(&mu_);
  for (size_t i = 0; i < names.size(); i++) {
    const std::string& n = names[i];
    if (exports_.count(n) != 0 || aliases_.count(n) != 0 ||
        std::count(names.begin(), names.end(), n) > 1) {
      return absl::AlreadyExistsError(absl::StrCat(
          "nbd export '", name, "': the name '", n, "' is already in use"));
    }
  }
  auto e = std::make_shared<Export>();
  e->name = name;
  e->aliases = aliases;
  e->description = std::move(description);
  e->device = device;
  e->seq = next_export_seq_++;
  for (const std::string& a : aliases) aliases_[a] = name;
  exports_[name] = std::move(e);
  return absl::OkStatus();
}

std::shared_ptr<NbdServer::Export> NbdServer::FindExport(
    absl::string_view name) const {
  MutexLock lock(&mu_);
  return FindExportLocked(name);
}

std::shared_ptr<NbdServer::Export> NbdServer::FindExportLocked(
    absl::string_view name) const {
  if (name.empty()) {
    std::shared_ptr<Export> best;
    for (const auto& [n, e] : exports_) {
      if (best == nullptr || e->seq < best->seq) best = e;
    }
    return best;
  }
  std::string key(name);
  auto alias = aliases_.find(key);
  if (alias != aliases_.end()) key = alias->second;
  auto it = exports_.find(key);
  return it == exports_.end() ? nullptr : it->second;
}

absl::Status NbdServer::RemoveExport(absl::string_view name) {
  if (reactor_->InReactorThread()) {
    return absl::FailedPreconditionError(
        "nbd: RemoveExport waits for in-flight requests and cannot run on "
        "the server's reactor thread");
  }
  std::shared_ptr<Export> e;
  {
    MutexLock lock(&mu_);
    auto it = exports_.find(std::string(name));
    if (it == exports_.end()) {
      return absl::NotFoundError(absl::StrCat("nbd: no export named '", name,
                                              "' (give the canonical name)"));
    }
    e = it->second;
    exports_.erase(it);
    for (const std::string& a : e->aliases) aliases_.erase(a);
  }
  Export* raw = e.get();
  reactor_->RunSync([this, raw] {
    for (auto& [c, owned] : connections_) {
      if (c->export_ptr() == raw) c->Close("");
    }
  });
  // Control plane: polling is simpler than a wakeup on the I/O path.
  while (e->inflight.load() != 0) absl::SleepFor(absl::Milliseconds(1));
  // The last completion decremented the counter as its final step; one more
  // turn of the reactor makes sure it has returned.
  reactor_->RunSync([] {});
  return absl::OkStatus();
}

absl::StatusOr<NbdExportStats> NbdServer::GetStats(
    absl::string_view name) const {
  std::shared_ptr<Export> e = FindExport(name);
  if (e == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("nbd: no export named '", name, "'"));
  }
  NbdExportStats s;
  s.requests = e->requests.load();
  s.reads = e->reads.load();
  s.writes = e->writes.load();
  s.bytes_read = e->bytes_read.load();
  s.bytes_written = e->bytes_written.load();
  s.errors = e->errors.load();
  s.connections = e->connections.load();
  return s;
}

absl::Status NbdServer::ListenUnix(std::string path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("nbd: Unix socket path '", path, "' must be 1..",
                     sizeof(addr.sun_path) - 1, " bytes"));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("nbd: '", path,
                       "' exists and is not a socket; refusing to remove it"));
    }
    // A socket file: stale unless a server still answers on it.
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0) {
      bool live =
          connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
      close(probe);
      if (live) {
        return absl::FailedPreconditionError(
            absl::StrCat("nbd: another server is listening on '", path, "'"));
      }
    }
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return absl::FailedPreconditionError(ErrnoText(
          absl::StrCat("nbd: removing stale socket '", path, "'").c_str(),
          errno));
    }
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(ErrnoText("nbd: socket", errno));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    close(fd);
    return absl::FailedPreconditionError(
        ErrnoText(absl::StrCat("nbd: bind '", path, "'").c_str(), err));
  }
  // Group access lets an operator's group use the export without root.
  if (chmod(path.c_str(), 0660) != 0 || listen(fd, 128) != 0 ||
      stat(path.c_str(), &st) != 0) {
    int err = errno;
    close(fd);
    unlink(path.c_str());
    return absl::FailedPreconditionError(
        ErrnoText(absl::StrCat("nbd: listen '", path, "'").c_str(), err));
  }
  AddListener(fd, std::move(path), st.st_ino);
  return absl::OkStatus();
}

absl::Status NbdServer::ListenTcp(std::string host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string service = absl::StrCat(port);
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(),
                       &hints, &res);
  if (rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("nbd: cannot resolve '", host, "': ", gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, freeaddrinfo);
  if (!options_.allow_remote) {
    for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
      if (!IsLoopback(a->ai_addr)) {
        return absl::PermissionDeniedError(absl::StrCat(
            "nbd: refusing to listen on non-loopback address '", host,
            "': NBD has no authentication; set allow_remote to override"));
      }
    }
  }
  std::string last_error = "no address";
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    a->ai_protocol);
    if (fd < 0) {
      last_error = ErrnoText("socket", errno);
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 128) != 0) {
      last_error = ErrnoText("bind/listen", errno);
      close(fd);
      continue;
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof(bound);
    getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
    uint16_t bound_port =
        bound.ss_family == AF_INET6
            ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
            : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    tcp_port_.store(bound_port);
    AddListener(fd, "", 0);
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "nbd: cannot listen on ", host, ":", port, ": ", last_error));
}

void NbdServer::AddListener(int fd, std::string unix_path,
                            uint64_t unix_inode) {
  auto listener = std::make_unique<Listener>();
  listener->fd = fd;
  listener->unix_path = std::move(unix_path);
  listener->unix_inode = unix_inode;
  // Posted, not RunSync: works before the reactor runs; the kernel queues
  // connections in the backlog meanwhile.
  reactor_->Post([this, l = std::move(listener)]() mutable {
    if (stopped_) {
      close(l->fd);
      if (!l->unix_path.empty()) unlink(l->unix_path.c_str());
      return;
    }
    Listener* raw = l.get();
    raw->watch = reactor_->Watch(raw->fd, POLLIN,
                                 [this, raw](uint32_t) { OnAccept(raw); });
    listeners_.push_back(std::move(l));
  });
}

void NbdServer::OnAccept(Listener* listener) {
  for (int i = 0; i < kAcceptsPerEvent; i++) {
    int fd =
        accept4(listener->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        Log(ErrnoText("nbd: accept", errno));
      }
      return;
    }
    if (static_cast<int>(connections_.size()) >= options_.max_connections) {
      Log("nbd: connection limit reached; refusing a client");
      close(fd);
      continue;
    }
    if (listener->unix_path.empty()) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    auto c = std::make_unique<Connection>(this, fd);
    Connection* raw = c.get();
    connections_.emplace(raw, std::move(c));
    raw->Start();
  }
}

void NbdServer::CloseAll() {
  stopped_ = true;
  for (auto& l : listeners_) {
    reactor_->Unwatch(l->watch);
    close(l->fd);
    struct stat st;
    // Remove the socket file only if it is still ours.
    if (!l->unix_path.empty() && lstat(l->unix_path.c_str(), &st) == 0 &&
        S_ISSOCK(st.st_mode) && st.st_ino == l->unix_inode) {
      unlink(l->unix_path.c_str());
    }
  }
  listeners_.clear();
  std::vector<Connection*> open;
  for (auto& [c, owned] : connections_) open.push_back(c);
  for (Connection* c : open) c->Close("");
}

void NbdServer::DestroyConnection(Connection* connection) {
  connections_.erase(connection);
}

void NbdServer::Stop() {
  reactor_->RunSync([this] { CloseAll(); });
  if (reactor_->InReactorThread()) return;
  while (inflight_.load() != 0) absl::SleepFor(absl::Milliseconds(1));
  // Run the posted destructions (and make sure the last completion has
  // returned), then drop whatever is left.
  reactor_->RunSync([] {});
  reactor_->RunSync([this] { connections_.clear(); });
}

}  // namespace mpio
