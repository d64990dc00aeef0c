#include "engine/iscsi/session.h"

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
#include <linux/sockios.h>
#include <linux/tcp.h>  // struct tcp_info with tcpi_bytes_acked
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace mpio {
namespace {

// libiscsi's log callback carries no context pointer; the reactor services
// one context at a time, so the session being serviced is the author.
thread_local IscsiSession* tl_serviced = nullptr;

uint64_t ToNs(absl::Duration d) {
  return static_cast<uint64_t>(absl::ToInt64Nanoseconds(d));
}

std::string LibiscsiError(iscsi_context* ctx) {
  const char* e = ctx ? iscsi_get_error(ctx) : nullptr;
  return (e && *e) ? e : "no detail from libiscsi";
}

// libiscsi 1.19 reports a refused login only as text: the target's status
// as "Failed to log in to target. Status: Authentication failure(513)", or
// its own mutual-CHAP checks ("Invalid CHAP_R response from the target",
// "Wrong CHAP targetname received", "did not return CHAP_N/CHAP_R"). Turn
// the authentication cases into a message that says what to fix, with a
// code that says someone must act (retrying alone will not help; the path
// still retries with backoff, in case the target is fixed). Neither the
// text nor libiscsi's detail ever holds a secret or a CHAP user name.
absl::Status LoginFailure(const SessionConfig& c, const std::string& detail) {
  const std::string where = absl::StrCat("portal ", c.portal, " target ",
                                         c.target_iqn, " LUN ", c.lun, ": ");
  if (absl::StrContains(detail, "(513)")) {
    if (c.chap_user.empty()) {
      return absl::UnauthenticatedError(absl::StrCat(
          where,
          "login refused: the target requires CHAP and no CHAP user is "
          "configured (set the CHAP user and secret for this target) [",
          detail, "]"));
    }
    // tgtd answers the same when mutual CHAP is asked of a target that
    // has no account of its own: name both causes.
    return absl::UnauthenticatedError(absl::StrCat(
        where,
        "login refused: authentication failed (check the CHAP user and "
        "secret",
        c.target_chap_user.empty()
            ? ""
            : "; for mutual CHAP the target also needs its own CHAP account",
        ") [", detail, "]"));
  }
  if (absl::StrContains(detail, "(514)")) {
    return absl::PermissionDeniedError(absl::StrCat(
        where, "login refused: initiator ", c.initiator_iqn,
        " is not allowed on this target (check the target's ACL) [", detail,
        "]"));
  }
  if (!c.target_chap_user.empty()) {
    const char* why = nullptr;
    if (absl::StrContains(detail, "Invalid CHAP_R")) {
      why = "its answer does not match the target CHAP secret";
    } else if (absl::StrContains(detail, "CHAP targetname")) {
      // libiscsi's text quotes the name the target sent: user names stay
      // out of messages (they end up in views and logs).
      why = "it answered as another CHAP user than the target CHAP user";
    } else if (absl::StrContains(detail, "CHAP_N") ||
               absl::StrContains(detail, "CHAP_R")) {
      why = "it did not answer the initiator's challenge";
    }
    if (why != nullptr) {
      return absl::UnauthenticatedError(absl::StrCat(
          where, "login aborted: the target failed mutual CHAP: ", why,
          " (check the target CHAP user and secret)"));
    }
  }
  return absl::UnavailableError(absl::StrCat(where, "login failed: ", detail));
}

}  // namespace

IscsiSession::IscsiSession(Reactor* reactor, SessionConfig config,
                           FailureFn on_failure)
    : reactor_(reactor),
      config_(std::move(config)),
      on_failure_(std::move(on_failure)) {}

IscsiSession::~IscsiSession() { Close(); }

void IscsiSession::Connect(std::function<void(const absl::Status&)> done) {
  connect_done_ = std::move(done);
  auto fail_now = [&](std::string why) {
    state_ = State::kDead;
    auto cb = std::move(connect_done_);
    if (ctx_ != nullptr) {
      iscsi_destroy_context(ctx_);
      ctx_ = nullptr;
    }
    cb(absl::UnavailableError(
        absl::StrCat("portal ", config_.portal, ": ", why)));
  };
  ctx_ = iscsi_create_context(config_.initiator_iqn.c_str());
  if (ctx_ == nullptr) return fail_now("cannot create a libiscsi context");
  // The engine owns reconnects: libiscsi's own would silently re-send every
  // in-flight command on a new session (LIBISCSI-NOTES.md section 2).
  iscsi_set_noautoreconnect(ctx_, 1);
  iscsi_set_targetname(ctx_, config_.target_iqn.c_str());
  iscsi_set_session_type(ctx_, ISCSI_SESSION_NORMAL);
  // A stable ISID (qualifier per path) keeps the I_T nexus the same across
  // reconnects. 0x023d is an arbitrary vendor-specific enterprise number.
  iscsi_set_isid_en(ctx_, 0x023d, config_.isid_qualifier & 0xffffff);
  iscsi_set_header_digest(ctx_, config_.require_header_digest
                                    ? ISCSI_HEADER_DIGEST_CRC32C
                                    : ISCSI_HEADER_DIGEST_NONE_CRC32C);
  if (!config_.chap_user.empty()) {
    iscsi_set_initiator_username_pwd(ctx_, config_.chap_user.c_str(),
                                     config_.chap_secret.c_str());
    if (!config_.target_chap_user.empty()) {
      iscsi_set_target_username_pwd(ctx_, config_.target_chap_user.c_str(),
                                    config_.target_chap_secret.c_str());
    }
  }
  // Backstops only; the tick below detects failures much sooner.
  iscsi_set_tcp_syncnt(ctx_, 2);
  iscsi_set_tcp_user_timeout(ctx_, 15000);
  if (!config_.interface.empty()) {
    std::string ifaces = config_.interface;
    iscsi_set_bind_interfaces(ctx_, ifaces.data());
  }
  // Login replies are logged at level 6 (see LogFn); quiet again after.
  iscsi_set_log_fn(ctx_, &IscsiSession::LogFn);
  iscsi_set_log_level(ctx_, 6);
  state_ = State::kConnecting;
  if (iscsi_full_connect_async(ctx_, config_.portal.c_str(), config_.lun,
                               &IscsiSession::ConnectCb, this) != 0) {
    return fail_now(absl::StrCat("connect failed: ", LibiscsiError(ctx_)));
  }
  fd_ = iscsi_get_fd(ctx_);
  watch_ = reactor_->Watch(fd_, 0,
                           [this](uint32_t revents) { OnReadable(revents); });
  UpdateEvents();
  login_timer_ = reactor_->After(config_.login_timeout, [this] {
    login_timer_ = 0;
    if (state_ == State::kConnecting) {
      Fail(absl::DeadlineExceededError(
          absl::StrCat("portal ", config_.portal, ": no login within ",
                       absl::FormatDuration(config_.login_timeout),
                       " (unreachable, filtered, or not an iSCSI portal)")));
    }
  });
  last_service_ns_ = Reactor::NowNs();
  tick_timer_ = reactor_->Every(config_.tick, [this] { Tick(); });
}

void IscsiSession::ConnectCb(iscsi_context*, int status, void*, void* priv) {
  auto* self = static_cast<IscsiSession*>(priv);
  if (self->state_ != State::kConnecting) return;
  if (status != SCSI_STATUS_GOOD) {
    self->Fail(LoginFailure(self->config_, LibiscsiError(self->ctx_)));
    return;
  }
  iscsi_set_log_level(self->ctx_, 0);
  if (self->config_.require_header_digest && self->header_digest_ != "CRC32C") {
    self->Fail(absl::FailedPreconditionError(absl::StrCat(
        "portal ", self->config_.portal, ": header digest CRC32C is required but the target "
        "answered HeaderDigest=", self->header_digest_,
        "; enable CRC32C header digests on the target or drop the requirement")));
    return;
  }
  self->state_ = State::kLoggedIn;
  if (self->login_timer_ != 0) {
    self->reactor_->Cancel(self->login_timer_);
    self->login_timer_ = 0;
  }
  self->last_nop_ns_ = Reactor::NowNs();
  auto cb = std::move(self->connect_done_);
  if (cb) cb(absl::OkStatus());
}

bool IscsiSession::Submit(PendingCommand* c) {
  if (state_ != State::kLoggedIn || fail_pending_ || dying_) return false;
  scsi_task* task =
      scsi_create_task(c->cdb_len, c->cdb, static_cast<int>(c->direction),
                       static_cast<int>(c->transfer_len));
  if (task == nullptr) return false;
  iscsi_data out{};
  iscsi_data* out_ptr = nullptr;
  if (c->iov != nullptr) {
    // libiscsi stores this pointer (zero copy) and rewrites entries while
    // sending: struct scsi_iovec is defined to match struct iovec.
    auto* iov = reinterpret_cast<scsi_iovec*>(c->iov);
    if (c->direction == DataDirection::kRead) {
      scsi_task_set_iov_in(task, iov, c->iovcnt);
    } else if (c->direction == DataDirection::kWrite) {
      scsi_task_set_iov_out(task, iov, c->iovcnt);
    }
  } else if (c->out_data != nullptr) {
    out.size = c->out_len;
    out.data = const_cast<unsigned char*>(c->out_data);
    out_ptr = &out;
  }
  c->task = task;
  c->session = this;
  c->submit_ns = Reactor::NowNs();
  // Link first: the callback may run before iscsi_scsi_command_async returns
  // only on error paths, which return non-zero and do not call back.
  c->prev = tail_;
  c->next = nullptr;
  if (tail_)
    tail_->next = c;
  else
    head_ = c;
  tail_ = c;
  outstanding_++;
  in_libiscsi_++;
  int rc = iscsi_scsi_command_async(ctx_, config_.lun, task,
                                    &IscsiSession::CommandCb, out_ptr, c);
  in_libiscsi_--;
  if (rc != 0) {
    Unlink(c);
    scsi_free_scsi_task(task);
    c->task = nullptr;
    return false;
  }
  UpdateEvents();
  return true;
}

void IscsiSession::Unlink(PendingCommand* c) {
  if (c->prev)
    c->prev->next = c->next;
  else
    head_ = c->next;
  if (c->next)
    c->next->prev = c->prev;
  else
    tail_ = c->prev;
  c->prev = c->next = nullptr;
  outstanding_--;
}

void IscsiSession::CommandCb(iscsi_context*, int status, void* data,
                             void* priv) {
  auto* c = static_cast<PendingCommand*>(priv);
  auto* task = static_cast<scsi_task*>(data);
  if (task == nullptr) task = c->task;
  c->session->Unlink(c);
  c->task = nullptr;
  ScsiResult r;
  if (status == SCSI_STATUS_CANCELLED || status == SCSI_STATUS_TIMEOUT) {
    // Set before the owner hears of it: a re-drive from inside this
    // callback must not land back on this connection.
    if (c->session->in_libiscsi_ > 0) c->session->dying_ = true;
    r.kind = ScsiResult::Kind::kCancelled;
  } else if (status == SCSI_STATUS_ERROR) {
    r.kind = ScsiResult::Kind::kError;
  } else {
    r.kind = ScsiResult::Kind::kStatus;
    r.scsi_status = status;
    if (task != nullptr && status == SCSI_STATUS_CHECK_CONDITION &&
        task->datain.size >= 2 && task->datain.data != nullptr) {
      // Raw sense: 2 length bytes, then the sense data.
      size_t n = (static_cast<size_t>(task->datain.data[0]) << 8) |
                 task->datain.data[1];
      r.sense = task->datain.data + 2;
      r.sense_len =
          std::min<size_t>(n, static_cast<size_t>(task->datain.size) - 2);
    } else if (task != nullptr && status == SCSI_STATUS_GOOD &&
               task->datain.data != nullptr) {
      r.data = task->datain.data;
      r.data_len = static_cast<size_t>(task->datain.size);
    }
  }
  c->callback->OnScsiDone(r);  // may reuse or free `c`; we are done with it
  if (task != nullptr) scsi_free_scsi_task(task);
}

void IscsiSession::NopCb(iscsi_context*, int, void*, void*) {}

// libiscsi 1.19 has no getter for the negotiated header digest and accepts a
// target's "None" even when CRC32C alone was asked for. Its level-6 log
// prints every login reply key ("TargetLoginReply: HeaderDigest=None"):
// that is where we learn what the target chose.
void IscsiSession::LogFn(int, const char* message) {
  if (tl_serviced == nullptr || message == nullptr) return;
  const char* key = strstr(message, "TargetLoginReply: HeaderDigest=");
  if (key != nullptr) {
    // libiscsi appends " [target-iqn]" to its log lines: take the value only.
    const char* v = key + strlen("TargetLoginReply: HeaderDigest=");
    tl_serviced->header_digest_.assign(v, strcspn(v, " ["));
  }
}

void IscsiSession::OnReadable(uint32_t revents) {
  Service(static_cast<int>(revents));
}

void IscsiSession::Service(int revents) {
  if (ctx_ == nullptr || state_ == State::kDead) return;
  last_service_ns_ = Reactor::NowNs();
  in_libiscsi_++;
  IscsiSession* outer = tl_serviced;
  tl_serviced = this;
  int rc = iscsi_service(ctx_, revents);
  tl_serviced = outer;
  in_libiscsi_--;
  if ((rc < 0 || dying_) && !fail_pending_) {
    fail_pending_ = true;
    pending_reason_ = absl::UnavailableError(absl::StrCat(
        "portal ", config_.portal, ": connection lost: ", LibiscsiError(ctx_)));
  }
  if (fail_pending_) {
    fail_pending_ = false;
    TearDown(pending_reason_, /*notify=*/true);
    return;
  }
  UpdateEvents();
}

void IscsiSession::UpdateEvents() {
  if (ctx_ == nullptr || watch_ == 0) return;
  uint32_t events = static_cast<uint32_t>(iscsi_which_events(ctx_));
  if (events != watched_events_) {
    watched_events_ = events;
    reactor_->Modify(watch_, events);
  }
}

void IscsiSession::Tick() {
  if (ctx_ == nullptr) return;
  uint64_t now = Reactor::NowNs();
  // libiscsi runs its own timeouts and housekeeping only inside
  // iscsi_service; call it at least once a second.
  if (now - last_service_ns_ > 500'000'000ull) Service(0);
  if (ctx_ == nullptr || state_ != State::kLoggedIn) return;

  if (head_ != nullptr &&
      now - head_->submit_ns > ToNs(config_.command_timeout)) {
    Fail(absl::DeadlineExceededError(
        absl::StrCat("portal ", config_.portal, ": a command took longer than ",
                     absl::FormatDuration(config_.command_timeout))));
    return;
  }
  if (now - last_nop_ns_ >= ToNs(config_.nop_interval)) {
    if (iscsi_get_nops_in_flight(ctx_) > config_.nop_max_outstanding) {
      Fail(absl::UnavailableError(absl::StrCat(
          "portal ", config_.portal, ": ", iscsi_get_nops_in_flight(ctx_),
          " NOP-Outs unanswered (target not responding)")));
      return;
    }
    last_nop_ns_ = now;
    in_libiscsi_++;
    iscsi_nop_out_async(ctx_, &IscsiSession::NopCb, nullptr, 0, nullptr);
    in_libiscsi_--;
    UpdateEvents();
  }
  CheckTcpProgress(now);
}

// A black-holed path (packets dropped, no RST) shows up as data sent and
// never acknowledged. NOP-Outs above make sure there is always something in
// flight, so "unacked segments and bytes_acked frozen for ack_stall" is a
// fast and specific signal; a merely slow link still acknowledges.
void IscsiSession::CheckTcpProgress(uint64_t now) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  if (getsockopt(fd_, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return;
  // Bytes queued but not acknowledged, sent or not: with the link down the
  // route is gone and nothing is even sent (tcpi_unacked stays 0), but the
  // queue still grows.
  int queued = 0;
  if (ioctl(fd_, SIOCOUTQ, &queued) != 0) queued = 0;
  if ((info.tcpi_unacked == 0 && queued == 0) ||
      info.tcpi_bytes_acked != last_bytes_acked_ || stall_since_ns_ == 0) {
    last_bytes_acked_ = info.tcpi_bytes_acked;
    stall_since_ns_ = now;
    return;
  }
  if (now - stall_since_ns_ > ToNs(config_.ack_stall)) {
    Fail(absl::UnavailableError(
        absl::StrCat("portal ", config_.portal, ": no TCP acknowledgement for ",
                     (now - stall_since_ns_) / 1'000'000, " ms with ", queued,
                     " bytes outstanding (link down or black hole)")));
  }
}

void IscsiSession::Fail(absl::Status reason) {
  if (state_ == State::kDead) return;
  if (in_libiscsi_ > 0) {
    // Destroying the context from inside one of its own callbacks would
    // free it under libiscsi's feet: finish after it returns.
    if (!fail_pending_) {
      fail_pending_ = true;
      pending_reason_ = std::move(reason);
    }
    return;
  }
  TearDown(std::move(reason), /*notify=*/true);
}

void IscsiSession::Close() {
  if (state_ == State::kDead || state_ == State::kIdle) {
    state_ = State::kDead;
    return;
  }
  TearDown(absl::CancelledError("closed"), /*notify=*/false);
}

void IscsiSession::TearDown(absl::Status reason, bool notify) {
  if (state_ == State::kDead) return;
  const bool was_connecting = state_ == State::kConnecting;
  state_ = State::kDead;
  if (tick_timer_) reactor_->Cancel(tick_timer_);
  if (login_timer_) reactor_->Cancel(login_timer_);
  tick_timer_ = login_timer_ = 0;
  if (watch_) reactor_->Unwatch(watch_);
  watch_ = 0;
  // Tell the owner first, so that commands re-driven from the CANCELLED
  // callbacks below never come back to this path.
  if (notify && !was_connecting && on_failure_) on_failure_(reason);
  if (ctx_ != nullptr) {
    // Reset, don't close: with SO_LINGER 0 the kernel discards unsent bytes
    // instead of delivering a stale write after the path heals.
    linger lg{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    iscsi_context* ctx = ctx_;
    ctx_ = nullptr;
    iscsi_destroy_context(ctx);  // CANCELLED to everything still queued
  }
  // Anything libiscsi dropped without a callback (it only calls back while
  // logged in) still gets exactly one CANCELLED.
  while (head_ != nullptr) {
    PendingCommand* c = head_;
    Unlink(c);
    if (c->task) scsi_free_scsi_task(c->task);
    c->task = nullptr;
    ScsiResult r;
    r.kind = ScsiResult::Kind::kCancelled;
    c->callback->OnScsiDone(r);
  }
  if (was_connecting && connect_done_) {
    auto cb = std::move(connect_done_);
    cb(reason);
  }
}

}  // namespace mpio
