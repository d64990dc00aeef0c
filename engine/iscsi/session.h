// IscsiSession: one libiscsi context = one iSCSI session from this host to one
// portal, used for one LUN (one path, an I_T_L nexus).
//
// What it adds to libiscsi 1.19 (see shared/LIBISCSI-NOTES.md):
//  - auto-reconnect is off: libiscsi would silently re-send in-flight commands
//    on a new session; here a broken connection fails the session and every
//    command comes back CANCELLED, so the owner can re-drive it elsewhere;
//  - a stable ISID per path (so a persistent reservation key survives a new
//    context) and CHAP / mutual CHAP;
//  - health checks libiscsi does not have: NOP-Out keepalive, a TCP ACK-stall
//    detector (catches a black-holed path in about 1.2 s without the false
//    positives a short TCP_USER_TIMEOUT gives on a slow link), a per-command
//    timeout, a login timeout;
//  - failure is a one-way door: Fail() resets the TCP connection (SO_LINGER 0,
//    so unsent bytes are discarded, not delivered later), destroys the
//    context, and delivers CANCELLED to every outstanding command exactly
//    once. A new connection is a new IscsiSession.
//
// Threads: everything on the owning reactor's thread.
// Ownership: commands are described by caller-owned PendingCommand records
// that must live until their OnScsiDone() call; payload iovecs likewise.
#ifndef MPIO_ENGINE_ISCSI_SESSION_H_
#define MPIO_ENGINE_ISCSI_SESSION_H_

#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/reactor/reactor.h"

struct iscsi_context;
struct scsi_task;

namespace mpio {

class IscsiSession;

struct SessionConfig {
  std::string portal;  // "ip:port"
  std::string target_iqn;
  int lun = 0;
  std::string initiator_iqn = "iqn.2026-12.org.mpio:initiator";
  std::string interface;  // bind to this local interface (SO_BINDTODEVICE)
  // ISID qualifier: stable per path so the I_T nexus (and a PR key
  // registered on it) stays the same across reconnects.
  uint32_t isid_qualifier = 0;
  std::string chap_user, chap_secret;                // one-way CHAP
  std::string target_chap_user, target_chap_secret;  // mutual CHAP
  bool require_header_digest = false;  // CRC32C only (else "prefer none")

  absl::Duration login_timeout = absl::Seconds(5);
  absl::Duration command_timeout = absl::Seconds(30);
  absl::Duration nop_interval = absl::Milliseconds(500);
  int nop_max_outstanding = 6;  // dead when more NOPs are unanswered (3 s)
  absl::Duration ack_stall = absl::Milliseconds(1200);
  absl::Duration tick = absl::Milliseconds(100);
};

// Result of one SCSI command.
struct ScsiResult {
  enum class Kind {
    kStatus,     // the target answered: scsi_status is valid
    kCancelled,  // the session failed or closed before an answer
    kError,      // libiscsi refused the command (REJECT, protocol error)
  };
  Kind kind = Kind::kCancelled;
  int scsi_status = 0;  // SCSI status byte: 0 GOOD, 2 CHECK CONDITION...
  const uint8_t* data = nullptr;  // Data-In when no iovec was given
  size_t data_len = 0;
  const uint8_t* sense = nullptr;  // raw sense for CHECK CONDITION
  size_t sense_len = 0;
  bool good() const { return kind == Kind::kStatus && scsi_status == 0; }
};

class ScsiCallback {
 public:
  // Called exactly once per submitted command, on the reactor thread.
  // Pointers in `result` are valid only during the call.
  virtual void OnScsiDone(const ScsiResult& result) = 0;

 protected:
  ~ScsiCallback() = default;
};

enum class DataDirection : uint8_t { kNone = 0, kRead = 1, kWrite = 2 };

// One command; caller-owned, reused across submissions (no allocation).
struct PendingCommand {
  uint8_t cdb[16] = {};
  uint8_t cdb_len = 0;
  DataDirection direction = DataDirection::kNone;
  uint32_t transfer_len = 0;
  // Zero-copy payload (read destination / write source).
  struct iovec* iov = nullptr;
  int iovcnt = 0;
  // Small write parameter data (UNMAP list, PR OUT, STPG), when iov is null.
  const uint8_t* out_data = nullptr;
  size_t out_len = 0;
  ScsiCallback* callback = nullptr;

  // Session bookkeeping.
  IscsiSession* session = nullptr;
  uint64_t submit_ns = 0;
  scsi_task* task = nullptr;
  PendingCommand* prev = nullptr;
  PendingCommand* next = nullptr;
};

class IscsiSession {
 public:
  // Called once, when the session dies (never after the owner's Close()).
  using FailureFn = std::function<void(const absl::Status& reason)>;

  IscsiSession(Reactor* reactor, SessionConfig config, FailureFn on_failure);
  ~IscsiSession();  // = Close()
  IscsiSession(const IscsiSession&) = delete;
  IscsiSession& operator=(const IscsiSession&) = delete;

  // Connects, logs in and (libiscsi's full connect) drains unit attentions
  // with TEST UNIT READY. `done` runs once with OK or a clear error naming
  // the portal (unreachable, not iSCSI, login refused, CHAP...).
  void Connect(std::function<void(const absl::Status&)> done);

  // Queues a command. Returns false (and never calls back) when the session
  // is not logged in.
  bool Submit(PendingCommand* command);

  // Ends the session from the owner's side: like a failure, outstanding
  // commands come back CANCELLED, but on_failure is not called.
  void Close();
  // Declares the session dead (reason shown to the user) and tears it down.
  void Fail(absl::Status reason);

  bool logged_in() const { return state_ == State::kLoggedIn; }
  const SessionConfig& config() const { return config_; }
  size_t outstanding() const { return outstanding_; }
  // The TCP socket while logged in, else -1 (for `mpio check`; read-only use).
  int fd() const { return state_ == State::kLoggedIn ? fd_ : -1; }
  // Last negotiated header digest, "None" or "CRC32C" (as far as 1.19 lets
  // us know: see session.cc).
  const std::string& header_digest() const { return header_digest_; }

 private:
  enum class State { kIdle, kConnecting, kLoggedIn, kDead };
  static void ConnectCb(iscsi_context* ctx, int status, void* data, void* priv);
  static void CommandCb(iscsi_context* ctx, int status, void* data, void* priv);
  static void NopCb(iscsi_context* ctx, int status, void* data, void* priv);
  static void LogFn(int level, const char* message);

  void OnReadable(uint32_t revents);
  void Service(int revents);
  void UpdateEvents();
  void Tick();
  void CheckTcpProgress(uint64_t now);
  void TearDown(absl::Status reason, bool notify);
  void Unlink(PendingCommand* c);

  Reactor* reactor_;
  SessionConfig config_;
  FailureFn on_failure_;
  State state_ = State::kIdle;
  iscsi_context* ctx_ = nullptr;
  int fd_ = -1;
  Reactor::WatchId watch_ = 0;
  Reactor::TimerId tick_timer_ = 0;
  Reactor::TimerId login_timer_ = 0;
  std::function<void(const absl::Status&)> connect_done_;
  uint32_t watched_events_ = 0;
  int in_libiscsi_ = 0;  // >0 while inside iscsi_service / submit
  bool fail_pending_ = false;
  // libiscsi cancelled our commands from inside iscsi_service (its deferred
  // reconnect): the connection is gone even if iscsi_service has not said so
  // yet. New commands must not be queued on it: libiscsi's cancel loop would
  // pick them up and cancel them again, forever, when a re-driven read picks
  // this path from inside the callback.
  bool dying_ = false;
  absl::Status pending_reason_;
  std::string header_digest_ = "None";

  // Outstanding commands, oldest first (for the timeout check).
  PendingCommand* head_ = nullptr;
  PendingCommand* tail_ = nullptr;
  size_t outstanding_ = 0;

  uint64_t last_nop_ns_ = 0;
  uint64_t last_service_ns_ = 0;
  uint64_t stall_since_ns_ = 0;
  uint64_t last_bytes_acked_ = 0;
};

}  // namespace mpio

#endif  // MPIO_ENGINE_ISCSI_SESSION_H_
