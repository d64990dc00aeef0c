#include "mpio/control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/control/control_server.h"

namespace mpio::cli {
namespace {

std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name ? name : absl::StrCat("errno ", err);
}

// Closes the fd on every return path.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

std::string ResolveControlSocket(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv(control::kControlSocketEnv); env && *env)
    return env;
  return control::kDefaultControlSocket;
}

absl::StatusOr<nlohmann::json> CallControl(const std::string& path,
                                           const nlohmann::json& request,
                                           absl::Duration timeout) {
  auto unreachable = [&](int err) {
    std::string hint = "is `mpio serve` running?";
    if (err == EACCES || err == EPERM)
      hint = "the socket is root's only: run as root";
    return absl::UnavailableError(
        absl::StrCat("cannot reach the mpio daemon at ", path, ": ", hint, " (",
                     ErrnoName(err), ")"));
  };
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("control socket path too long: ", path));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  Fd s;
  s.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s.fd < 0) return unreachable(errno);
  if (connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return unreachable(errno);
  }
  const std::string line =
      request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
      "\n";
  size_t off = 0;
  while (off < line.size()) {
    const ssize_t n =
        send(s.fd, line.data() + off, line.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return unreachable(errno);
    off += static_cast<size_t>(n);
  }
  const absl::Time deadline = absl::Now() + timeout;
  std::string in;
  for (;;) {
    const size_t nl = in.find('\n');
    if (nl != std::string::npos) {
      in.resize(nl);
      break;
    }
    const int64_t left_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left_ms <= 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("the mpio daemon at ", path, " did not answer within ",
                       absl::FormatDuration(timeout),
                       " (it may be busy logging in to a target; try again)"));
    }
    pollfd p{s.fd, POLLIN, 0};
    const int rc = poll(&p, 1, static_cast<int>(left_ms));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) continue;  // timeout: checked above
    char buf[65536];
    const ssize_t n = recv(s.fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return unreachable(errno);
    if (n == 0) {
      return absl::UnavailableError(
          absl::StrCat("the mpio daemon at ", path,
                       " closed the connection without an answer"));
    }
    in.append(buf, static_cast<size_t>(n));
  }
  nlohmann::json answer = nlohmann::json::parse(in, nullptr, false);
  if (answer.is_discarded() || !answer.is_object() || !answer.contains("ok")) {
    return absl::InternalError(
        absl::StrCat("the mpio daemon at ", path,
                     " sent an answer that is not a control response "
                     "(is it another program's socket?)"));
  }
  if (answer["ok"] != true) {
    const auto& err = answer["error"];
    return absl::UnknownError(
        err.is_string() ? err.get<std::string>()
                        : std::string("the daemon refused the request"));
  }
  return answer.contains("result") ? answer["result"] : nlohmann::json();
}

}  // namespace mpio::cli
