// NbdServer: exports BlockDevices over NBD (fixed newstyle, structured
// replies) on Unix sockets and loopback TCP, for nbdinfo, nbdcopy, qemu-img,
// fio and the kernel's nbd-client.
//
// Each connection negotiates with the pure Handshake machine, then reads
// request headers into a per-connection buffer and WRITE payloads straight
// into a per-request buffer sized to the request, hands that buffer to the
// device as one iovec, and answers with writev/sendmsg of header + data.
// Replies go out in completion order (clients match them by handle). A
// connection stops reading while it holds max_inflight_per_connection
// requests or max_inflight_bytes_per_connection payload bytes (back-pressure)
// and resumes as replies go out. Request objects and their buffers (up to
// 1 MiB) are pooled per connection, so the steady state does not allocate.
//
// Threads: the server lives on the Reactor passed to Create(); every socket
// and connection is touched only there. Device completions may arrive inline
// inside Submit() or on any other thread: they are posted back with the
// request's embedded Reactor::Message. Public methods:
//   AddExport, GetStats, tcp_port, ListenUnix, ListenTcp: any thread (listen
//     sockets are bound on the caller's thread, so errors come back at once;
//     accepting starts once the reactor runs).
//   RemoveExport: any thread but the reactor's; it closes the export's
//     connections and returns once the device has completed every request
//     of theirs, so the caller may destroy the device afterwards.
//   Stop, ~NbdServer: from another thread they wait for in-flight requests
//     (the reactor must be running); on the reactor thread Stop() only closes
//     everything, and the destructor must then run later off that thread.
// Ownership: the server does not own the reactor or the devices; both must
// outlive it (devices: until RemoveExport returns).
// Failure: a protocol violation closes that one connection; a bad request
// gets an error reply (EINVAL, ENOSPC past the end, EPERM when read-only)
// and the connection goes on; device errors map through ErrnoFromStatus.
#ifndef MPIO_NBD_SERVER_H_
#define MPIO_NBD_SERVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/base/sync.h"
#include "engine/device/block_device.h"
#include "engine/reactor/reactor.h"
#include "nbd/handshake.h"

namespace mpio {

struct NbdServerOptions {
  int max_inflight_per_connection = 64;
  uint64_t max_inflight_bytes_per_connection = 128ull << 20;
  int max_connections = 1024;
  // A client must finish option haggling within this time, so that idle
  // half-open connections cannot pile up to max_connections.
  absl::Duration handshake_timeout = absl::Seconds(30);
  // ListenTcp refuses non-loopback addresses unless this is set: NBD has no
  // authentication here and no TLS.
  bool allow_remote = false;
  // Called on the reactor thread for notable events (connection closed for a
  // protocol error, ...). Null: silent.
  std::function<void(absl::string_view)> log;
};

struct NbdExportStats {
  uint64_t requests = 0;  // every request answered, including errors
  uint64_t reads = 0;
  uint64_t writes = 0;
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  uint64_t errors = 0;       // requests answered with an error
  uint64_t connections = 0;  // open now, in transmission
};

class NbdServer {
 public:
  static absl::StatusOr<std::unique_ptr<NbdServer>> Create(
      Reactor* reactor, NbdServerOptions options = {});
  ~NbdServer();
  NbdServer(const NbdServer&) = delete;
  NbdServer& operator=(const NbdServer&) = delete;

  // `name` and each alias must be unique, non-empty and at most 4096 bytes.
  // The first export added (and not removed) is also the default export
  // (the empty name). `device` must outlive the export.
  absl::Status AddExport(std::string name, BlockDevice* device,
                         std::vector<std::string> aliases = {},
                         std::string description = "");
  absl::Status RemoveExport(absl::string_view name);
  absl::StatusOr<NbdExportStats> GetStats(absl::string_view name) const;

  // Removes a stale socket file at `path` (refuses when something else is
  // there or a server still answers on it), binds with mode 0660.
  absl::Status ListenUnix(std::string path);
  // host: numeric or "localhost"; port 0 picks an ephemeral port, see
  // tcp_port().
  absl::Status ListenTcp(std::string host, uint16_t port);
  // The port of the last successful ListenTcp, 0 before.
  uint16_t tcp_port() const { return tcp_port_.load(); }

  // Closes listeners (removing their socket files) and all connections.
  void Stop();

 private:
  struct Export;
  struct Listener;
  struct Req;
  class Connection;
  class Catalog : public nbd::ExportCatalog {
   public:
    explicit Catalog(const NbdServer* server) : server_(server) {}
    bool Find(absl::string_view name, nbd::ExportInfo* info) const override;
    std::vector<nbd::ExportInfo> List() const override;

   private:
    const NbdServer* server_;
  };

  NbdServer(Reactor* reactor, NbdServerOptions options);
  std::shared_ptr<Export> FindExport(absl::string_view name) const;
  std::shared_ptr<Export> FindExportLocked(absl::string_view name) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddListener(int fd, std::string unix_path, uint64_t unix_inode);
  void OnAccept(Listener* listener);
  void CloseAll();                                 // reactor thread
  void DestroyConnection(Connection* connection);  // reactor thread
  void Log(absl::string_view message) const;

  Reactor* const reactor_;
  const NbdServerOptions options_;
  Catalog catalog_{this};

  mutable Mutex mu_;
  std::map<std::string, std::shared_ptr<Export>> exports_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> aliases_ ABSL_GUARDED_BY(mu_);
  uint64_t next_export_seq_ ABSL_GUARDED_BY(mu_) = 0;

  std::atomic<uint16_t> tcp_port_{0};
  // Requests handed to devices and not yet completed, all connections.
  std::atomic<int64_t> inflight_{0};

  // Reactor thread only.
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
  bool stopped_ = false;
};

}  // namespace mpio

#endif  // MPIO_NBD_SERVER_H_
