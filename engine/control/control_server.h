// ControlServer: the daemon's admin socket (like multipathd's), a Unix
// stream socket that speaks newline-delimited JSON: one request object per
// line in, one response object per line out (see control_handler.h for the
// commands). `mpio device list`, `mpio path set ...` are its clients.
//
// Limits: a request line is at most kMaxLineBytes; a longer one gets an
// error response and the connection is closed. Malformed JSON gets an error
// response and the connection stays open; blank lines are ignored. Up to
// kMaxClients connections at once (more are told so and closed); requests are
// answered in turn on the server's own thread, one at a time per client, and a
// client is not read again until it has taken its previous answer (so a client
// that never reads cannot make the server buffer without bound). A client that
// vanishes mid-request is simply dropped.
//
// Security: the socket file is mode 0600 (root's tools only); its parent
// directory is created 0755 if missing. Responses never contain CHAP
// secrets.
//
// Threads: Start() and the destructor from any thread but the engine's
// reactor thread. The server runs one thread of its own (a poll() loop).
// Ownership: borrows the engine; destroy the server before the engine is
// shut down (requests run on the engine's reactor).
// Failure: Start() refuses when a live server already answers at the path
// (AlreadyExists), when the path exists and is not a socket, or when the
// socket cannot be created; nothing is left behind then. A stale socket file
// (nobody listening) is replaced.
#ifndef MPIO_ENGINE_CONTROL_CONTROL_SERVER_H_
#define MPIO_ENGINE_CONTROL_CONTROL_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/control/control_handler.h"
#include "engine/core/engine.h"

namespace mpio::control {

// Where `mpio serve` listens and the admin verbs connect by default.
inline constexpr const char* kDefaultControlSocket = "/run/mpio/control.sock";
// Environment variable that overrides the default for the admin verbs.
inline constexpr const char* kControlSocketEnv = "MPIO_CONTROL";

class ControlServer {
 public:
  static constexpr size_t kMaxLineBytes = 64 * 1024;
  static constexpr size_t kMaxClients = 64;

  static absl::StatusOr<std::unique_ptr<ControlServer>> Start(
      Engine* engine, std::string socket_path);
  // Stops the thread, closes every connection and removes the socket file
  // (unless someone else has replaced it meanwhile).
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  const std::string& socket_path() const { return socket_path_; }

 private:
  struct Client;
  ControlServer(Engine* engine, std::string socket_path, int listen_fd,
                int wake_fd, dev_t dev, ino_t ino);
  void Loop();
  void Accept(std::vector<std::unique_ptr<Client>>* clients);
  // Answers buffered requests and flushes answers; false: drop the client.
  bool Pump(Client* c);
  bool ReadFrom(Client* c);

  ControlHandler handler_;
  std::string socket_path_;
  int listen_fd_;
  int wake_fd_;
  dev_t dev_;
  ino_t ino_;
  std::thread thread_;
};

}  // namespace mpio::control

#endif  // MPIO_ENGINE_CONTROL_CONTROL_SERVER_H_
