#include "engine/control/control_server.h"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

namespace mpio::control {
namespace {

using nlohmann::json;

std::unique_ptr<Engine> MakeEngine() {
  EngineOptions o;
  o.plugin_dirs = {"/nonexistent/mpio-control-test"};
  auto e = Engine::Create(o);
  REQUIRE(e.ok());
  return std::move(e).value();
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/mpio-control-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

int Connect(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{10, 0};  // a hung server fails the test instead of hanging it
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

void SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;  // the server may close on us (oversized line)
    off += static_cast<size_t>(n);
  }
}

// Reads until `lines` newlines or EOF/timeout; returns what arrived.
std::vector<std::string> ReadLines(int fd, size_t lines, bool* eof = nullptr) {
  std::vector<std::string> out;
  std::string buf;
  char chunk[4096];
  while (out.size() < lines) {
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      if (eof) *eof = n == 0;
      break;
    }
    buf.append(chunk, static_cast<size_t>(n));
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      out.push_back(buf.substr(0, nl));
      buf.erase(0, nl + 1);
    }
  }
  return out;
}

json Parse(const std::string& line) {
  json j = json::parse(line, nullptr, false);
  REQUIRE(!j.is_discarded());
  return j;
}

TEST_CASE(
    "start: creates the directory, mode 0600, answers, removes the socket on "
    "exit") {
  auto engine = MakeEngine();
  TempDir tmp;
  const std::string path = tmp.path + "/run/mpio/control.sock";
  {
    auto server = ControlServer::Start(engine.get(), path);
    REQUIRE(server.ok());
    struct stat st;
    REQUIRE(stat(path.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(stat((tmp.path + "/run/mpio").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0755);

    int fd = Connect(path);
    REQUIRE(fd >= 0);
    // Two requests in one write, answered in order.
    SendAll(fd, "{\"cmd\":\"ping\"}\n{\"cmd\":\"device.list\"}\r\n");
    auto lines = ReadLines(fd, 2);
    REQUIRE(lines.size() == 2);
    CHECK(Parse(lines[0])["result"]["pong"] == true);
    CHECK(Parse(lines[1])["result"] == json::array());
    close(fd);

    // A second daemon on the same socket is refused while the first lives.
    auto second = ControlServer::Start(engine.get(), path);
    REQUIRE(!second.ok());
    CHECK(second.status().code() == absl::StatusCode::kAlreadyExists);
  }
  struct stat st;
  CHECK(stat(path.c_str(), &st) != 0);  // removed
}

TEST_CASE(
    "start: replaces a stale socket, refuses a regular file and a too-long "
    "path") {
  auto engine = MakeEngine();
  TempDir tmp;
  const std::string path = tmp.path + "/stale.sock";
  {
    // A socket file nobody listens on, as a crashed daemon leaves behind.
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    close(fd);
  }
  {
    auto server = ControlServer::Start(engine.get(), path);
    REQUIRE(server.ok());
    int fd = Connect(path);
    REQUIRE(fd >= 0);
    close(fd);
  }
  const std::string file = tmp.path + "/plain";
  std::ofstream(file) << "x";
  auto refused = ControlServer::Start(engine.get(), file);
  REQUIRE(!refused.ok());
  CHECK(std::string(refused.status().message()).find("not a socket") !=
        std::string::npos);
  auto too_long = ControlServer::Start(engine.get(),
                                       tmp.path + "/" + std::string(200, 'a'));
  CHECK(too_long.status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("malformed JSON keeps the connection; an oversized line closes it") {
  auto engine = MakeEngine();
  TempDir tmp;
  const std::string path = tmp.path + "/c.sock";
  auto server = ControlServer::Start(engine.get(), path);
  REQUIRE(server.ok());

  int fd = Connect(path);
  REQUIRE(fd >= 0);
  SendAll(fd, "this is not json\n\n{\"cmd\":\"ping\"}\n");
  auto lines = ReadLines(fd, 2);
  REQUIRE(lines.size() == 2);
  CHECK(Parse(lines[0])["ok"] == false);
  CHECK(Parse(lines[1])["ok"] == true);  // the blank line got no answer

  std::string huge(ControlServer::kMaxLineBytes + 10, ' ');
  SendAll(fd, huge);  // no newline, over the limit
  bool eof = false;
  lines = ReadLines(fd, 2, &eof);
  REQUIRE(lines.size() == 1);
  json err = Parse(lines[0]);
  CHECK(err["ok"] == false);
  CHECK(err["error"].get<std::string>().find("longer than") !=
        std::string::npos);
  CHECK(eof);
  close(fd);

  // The server still serves others.
  fd = Connect(path);
  REQUIRE(fd >= 0);
  SendAll(fd, "{\"cmd\":\"ping\"}\n");
  lines = ReadLines(fd, 1);
  REQUIRE(lines.size() == 1);
  CHECK(Parse(lines[0])["ok"] == true);
  close(fd);
}

TEST_CASE("many clients at once, and clients that vanish mid-request") {
  auto engine = MakeEngine();
  TempDir tmp;
  const std::string path = tmp.path + "/c.sock";
  auto server = ControlServer::Start(engine.get(), path);
  REQUIRE(server.ok());

  // Vanishing clients: half a request, a request whose answer is never read.
  for (int i = 0; i < 5; i++) {
    int fd = Connect(path);
    REQUIRE(fd >= 0);
    SendAll(fd, i % 2 ? "{\"cmd\":\"dev" : "{\"cmd\":\"rule.list\"}\n");
    close(fd);
  }

  constexpr int kClients = 12, kRequests = 40;
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; t++) {
    threads.emplace_back([&, t] {
      int fd = Connect(path);
      if (fd < 0) return;
      for (int i = 0; i < kRequests; i++) {
        const std::string id = std::to_string(t * 1000 + i + 1);
        // Each client adds and removes its own rules, interleaved with others.
        SendAll(fd, "{\"cmd\":\"rule.add\",\"id\":" + id +
                        ",\"satp\":\"default_aa\"}\n");
        SendAll(fd, "{\"cmd\":\"rule.remove\",\"id\":" + id + "}\n");
        auto lines = ReadLines(fd, 2);
        if (lines.size() != 2) break;
        json a = json::parse(lines[0], nullptr, false);
        json b = json::parse(lines[1], nullptr, false);
        if (a.is_object() && b.is_object() && a["ok"] == true &&
            b["ok"] == true && b["result"]["removed"] == std::stoi(id)) {
          good++;
        }
      }
      close(fd);
    });
  }
  for (auto& th : threads) th.join();
  CHECK(good.load() == kClients * kRequests);
  size_t left = 99;
  engine->RunOnReactor([&] { left = engine->rules().rules().size(); });
  CHECK(left == 0);
}

TEST_CASE(
    "more than kMaxClients connections: the extra ones are told and closed") {
  auto engine = MakeEngine();
  TempDir tmp;
  const std::string path = tmp.path + "/c.sock";
  auto server = ControlServer::Start(engine.get(), path);
  REQUIRE(server.ok());
  std::vector<int> fds;
  for (size_t i = 0; i < ControlServer::kMaxClients; i++) {
    int fd = Connect(path);
    REQUIRE(fd >= 0);
    fds.push_back(fd);
  }
  // Make sure the server has taken all of them before the extra one.
  SendAll(fds.back(), "{\"cmd\":\"ping\"}\n");
  REQUIRE(ReadLines(fds.back(), 1).size() == 1);
  int extra = Connect(path);
  REQUIRE(extra >= 0);
  bool eof = false;
  auto lines = ReadLines(extra, 2, &eof);
  REQUIRE(lines.size() == 1);
  CHECK(Parse(lines[0])["error"].get<std::string>().find("too many") !=
        std::string::npos);
  CHECK(eof);
  close(extra);
  for (int fd : fds) close(fd);
}

}  // namespace
}  // namespace mpio::control
