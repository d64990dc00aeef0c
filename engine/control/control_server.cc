#include "engine/control/control_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace mpio::control {
namespace {

std::string Errno(int err) {
  return absl::StrCat(std::strerror(err), " (errno ", err, ")");
}

absl::Status MakeParentDirs(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return absl::OkStatus();
  const std::string dir = path.substr(0, slash);
  for (size_t i = 1; i <= dir.size(); i++) {
    if (i != dir.size() && dir[i] != '/') continue;
    const std::string part = dir.substr(0, i);
    if (mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot create directory ", part,
                       " for the control socket: ", Errno(errno)));
    }
  }
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir, " is not a directory: choose another control socket path"));
  }
  return absl::OkStatus();
}

bool FillAddress(const std::string& path, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr->sun_path)) return false;
  std::memcpy(addr->sun_path, path.data(), path.size());
  return true;
}

// What is at `path` now: nothing, a live server, or a stale socket.
absl::Status ClearStaleSocket(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::PermissionDeniedError(
        absl::StrCat("cannot inspect ", path, ": ", Errno(errno)));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path,
                     " exists and is not a socket: remove it or choose another "
                     "--control path"));
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return absl::InternalError(absl::StrCat("socket(AF_UNIX): ", Errno(errno)));
  sockaddr_un addr;
  FillAddress(path, &addr);
  const int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  const int err = errno;
  close(fd);
  if (rc == 0) {
    return absl::AlreadyExistsError(absl::StrCat(
        "another mpio daemon is already serving the control socket ", path,
        ": stop it first, or give this one another --control path"));
  }
  if (err != ECONNREFUSED) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot tell whether ", path, " is in use: ", Errno(err)));
  }
  // Nobody listens: a previous daemon died without cleaning up.
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot remove the stale socket ", path, ": ", Errno(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

struct ControlServer::Client {
  int fd = -1;
  std::string in;        // bytes received, not yet answered
  std::string out;       // answer bytes not yet sent
  bool eof = false;      // the client sent all it will send
  bool closing = false;  // drop once `out` is flushed
  ~Client() {
    if (fd >= 0) close(fd);
  }
};

absl::StatusOr<std::unique_ptr<ControlServer>> ControlServer::Start(
    Engine* engine, std::string socket_path) {
  if (socket_path.empty())
    return absl::InvalidArgumentError("empty control socket path");
  sockaddr_un addr;
  if (!FillAddress(socket_path, &addr)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "control socket path ", socket_path, " is ", socket_path.size(),
        " bytes; at most ", sizeof(addr.sun_path) - 1, " fit"));
  }
  if (absl::Status s = MakeParentDirs(socket_path); !s.ok()) return s;
  if (absl::Status s = ClearStaleSocket(socket_path); !s.ok()) return s;

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return absl::InternalError(absl::StrCat("socket(AF_UNIX): ", Errno(errno)));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    close(fd);
    return absl::UnavailableError(absl::StrCat(
        "cannot bind the control socket ", socket_path, ": ", Errno(err)));
  }
  // Before listen(): until then nobody can connect, so there is no window
  // in which the socket is reachable with looser permissions.
  struct stat st;
  if (chmod(socket_path.c_str(), 0600) != 0 ||
      stat(socket_path.c_str(), &st) != 0 || listen(fd, 16) != 0) {
    const int err = errno;
    close(fd);
    unlink(socket_path.c_str());
    return absl::InternalError(absl::StrCat("cannot set up the control socket ",
                                            socket_path, ": ", Errno(err)));
  }
  int wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake < 0) {
    const int err = errno;
    close(fd);
    unlink(socket_path.c_str());
    return absl::InternalError(absl::StrCat("eventfd: ", Errno(err)));
  }
  std::unique_ptr<ControlServer> server(new ControlServer(
      engine, std::move(socket_path), fd, wake, st.st_dev, st.st_ino));
  server->thread_ = std::thread([s = server.get()] { s->Loop(); });
  return server;
}

ControlServer::ControlServer(Engine* engine, std::string socket_path,
                             int listen_fd, int wake_fd, dev_t dev, ino_t ino)
    : handler_(engine),
      socket_path_(std::move(socket_path)),
      listen_fd_(listen_fd),
      wake_fd_(wake_fd),
      dev_(dev),
      ino_(ino) {}

ControlServer::~ControlServer() {
  const uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof(one)) < 0) {
    // An eventfd write only fails on overflow, which cannot happen here.
  }
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
  close(wake_fd_);
  // Remove the file only if it is still ours: a newer daemon may have
  // replaced a socket it found stale.
  struct stat st;
  if (stat(socket_path_.c_str(), &st) == 0 && st.st_dev == dev_ &&
      st.st_ino == ino_) {
    unlink(socket_path_.c_str());
  }
}

void ControlServer::Loop() {
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<pollfd> fds;
  for (;;) {
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (auto& c : clients) {
      // Read only when the previous answer is out: per-client back-pressure.
      short events = c->out.empty() ? (c->eof ? 0 : POLLIN) : POLLOUT;
      fds.push_back({c->fd, events, 0});
    }
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return;  // cannot happen with valid fds; stop serving rather than spin
    }
    if (fds[0].revents) return;
    std::vector<std::unique_ptr<Client>> keep;
    for (size_t i = 0; i < clients.size(); i++) {
      Client* c = clients[i].get();
      const short rev = fds[i + 2].revents;
      bool alive = true;
      if (rev & POLLNVAL) alive = false;
      if (alive && (rev & (POLLIN | POLLHUP | POLLERR)) && c->out.empty())
        alive = ReadFrom(c);
      if (alive && rev & POLLERR) alive = false;
      if (alive) alive = Pump(c);
      if (alive) keep.push_back(std::move(clients[i]));
    }
    clients.swap(keep);
    // New clients are polled from the next turn on.
    if (fds[1].revents & POLLIN) Accept(&clients);
    // Over the limit: tell the newcomers and close them.
    while (clients.size() > kMaxClients) {
      Client* c = clients.back().get();
      const std::string msg = ControlHandler::ErrorLine(absl::StrCat(
                                  "too many control connections (", kMaxClients,
                                  "): close some and retry")) +
                              "\n";
      (void)!send(c->fd, msg.data(), msg.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      clients.pop_back();
    }
  }
}

void ControlServer::Accept(std::vector<std::unique_ptr<Client>>* clients) {
  for (;;) {
    int fd =
        accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN: all taken; other errors: the client gave up
    auto c = std::make_unique<Client>();
    c->fd = fd;
    clients->push_back(std::move(c));
  }
}

bool ControlServer::ReadFrom(Client* c) {
  char buf[16384];
  for (;;) {
    const ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      c->in.append(buf, static_cast<size_t>(n));
      // Enough to answer (a full line) or to refuse (too long): stop
      // reading so one client cannot grow the buffer further.
      if (c->in.find('\n') != std::string::npos || c->in.size() > kMaxLineBytes)
        return true;
      continue;
    }
    if (n == 0) {
      c->eof = true;
      return true;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    return false;  // ECONNRESET etc.: the client vanished
  }
}

bool ControlServer::Pump(Client* c) {
  for (;;) {
    while (!c->out.empty()) {
      const ssize_t n = send(c->fd, c->out.data(), c->out.size(),
                             MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        c->out.erase(0, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return true;  // wait for POLLOUT
      return false;   // EPIPE: the client went away before its answer
    }
    if (c->closing) return false;
    size_t nl = c->in.find('\n');
    if (nl == std::string::npos) {
      if (c->in.size() > kMaxLineBytes)
        nl = c->in.size();  // refused below
      else if (c->eof && !c->in.empty())
        nl = c->in.size();  // last line without '\n'
      else
        return !c->eof;
    }
    if (nl > kMaxLineBytes) {
      c->out = ControlHandler::ErrorLine(
                   absl::StrCat("request longer than ", kMaxLineBytes,
                                " bytes: send one JSON object per line; "
                                "closing the connection")) +
               "\n";
      c->in.clear();
      c->closing = true;
      continue;
    }
    std::string_view line(c->in.data(), nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) {
      c->in.erase(0,
                  std::min(nl + 1, c->in.size()));  // blank line: nothing asked
      continue;
    }
    c->out = handler_.Handle(line);
    c->out.push_back('\n');
    c->in.erase(0, std::min(nl + 1, c->in.size()));
  }
}

}  // namespace mpio::control
