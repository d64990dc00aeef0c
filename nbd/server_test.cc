// NbdServer on a real Reactor thread, with a MemoryBlockDevice behind it,
// driven by real clients (nbdinfo, nbdcopy from libnbd-bin; qemu-img, qemu-io
// from qemu-utils; fio) and by a raw socket client for malformed input,
// back-pressure and disconnects. A missing tool is a failure naming its
// Debian package, never a silent skip.
#include "nbd/server.h"

#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nbd/protocol.h"
#include "tests/support/memory_block_device.h"

namespace mpio {
namespace {

using testing::MemoryBlockDevice;

constexpr uint64_t kDiskSize = 64ull << 20;

// ---- helpers ---------------------------------------------------------------

void RequireTool(const std::string& tool, const std::string& package) {
  std::string cmd = absl::StrCat("command -v ", tool, " >/dev/null 2>&1");
  if (std::system(cmd.c_str()) != 0) {
    FAIL(tool << " not found: install the Debian package '" << package
              << "' (scripts/install-deps.sh)");
  }
}

struct CmdResult {
  int exit_code;
  std::string output;
};

// Runs a shell command bounded by `timeout`, capturing stdout+stderr.
CmdResult Run(const std::string& dir, const std::string& cmd,
              int timeout_s = 60) {
  std::string out = dir + "/cmd.out";
  std::string full =
      absl::StrCat("timeout ", timeout_s, " ", cmd, " >", out, " 2>&1");
  int rc = std::system(full.c_str());
  std::ifstream f(out);
  std::stringstream ss;
  ss << f.rdbuf();
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, ss.str()};
}

std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < n; i += 8) {
    uint64_t x = rng();
    std::memcpy(&v[i], &x, std::min<size_t>(8, n - i));
  }
  return v;
}

void WriteFile(const std::string& path, const std::vector<uint8_t>& data) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(data.data()),
          static_cast<std::streamsize>(data.size()));
}

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

// Wraps a device and completes every request on its own worker thread, like
// the engine's device reactor does. With hold(), requests wait until
// release().
class ThreadedDevice : public BlockDevice {
 public:
  explicit ThreadedDevice(BlockDevice* inner)
      : inner_(inner), worker_([this] { Loop(); }) {}
  ~ThreadedDevice() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      held_ = false;
    }
    cv_.notify_all();
    worker_.join();
  }
  const DeviceGeometry& geometry() const override { return inner_->geometry(); }
  void Submit(IoRequest* r) override {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(r);
    submitted_++;
    cv_.notify_all();
  }
  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = true;
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_ = false;
    }
    cv_.notify_all();
  }
  int submitted() {
    std::lock_guard<std::mutex> lock(mu_);
    return submitted_;
  }
  int completed() {
    std::lock_guard<std::mutex> lock(mu_);
    return completed_;
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || (!held_ && !queue_.empty()); });
      if (queue_.empty() && stop_) return;
      IoRequest* r = queue_.front();
      queue_.pop_front();
      lock.unlock();
      inner_->Submit(r);  // completes inline, on this thread
      lock.lock();
      completed_++;
    }
  }

  BlockDevice* inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<IoRequest*> queue_;
  bool held_ = false;
  bool stop_ = false;
  int submitted_ = 0;
  int completed_ = 0;
  std::thread worker_;
};

// Waits up to 10 s for `pred`.
template <typename Pred>
bool Eventually(Pred pred) {
  for (int i = 0; i < 1000; i++) {
    if (pred()) return true;
    usleep(10'000);
  }
  return pred();
}

// A minimal NBD client over a raw socket, for what real clients never send.
class RawClient {
 public:
  explicit RawClient(const std::string& socket_path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s",
                  socket_path.c_str());
    connected_ =
        connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawClient() { Close(); }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  bool connected() const { return connected_; }

  bool Send(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n =
          send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  // Reads exactly n bytes (10 s timeout). False on EOF/timeout.
  bool Recv(void* buf, size_t n) {
    auto* p = static_cast<uint8_t*>(buf);
    size_t got = 0;
    while (got < n) {
      pollfd pfd{fd_, POLLIN, 0};
      if (poll(&pfd, 1, 10'000) <= 0) return false;
      ssize_t r = recv(fd_, p + got, n - got, 0);
      if (r <= 0) return false;
      got += static_cast<size_t>(r);
    }
    return true;
  }
  std::string RecvString(size_t n) {
    std::string s(n, '\0');
    if (!Recv(s.data(), n)) return "";
    return s;
  }
  // True when the server closes the connection within 10 s.
  bool ClosedByPeer() {
    char c[4096];
    for (;;) {
      pollfd pfd{fd_, POLLIN, 0};
      if (poll(&pfd, 1, 10'000) <= 0) return false;
      ssize_t r = recv(fd_, c, sizeof(c), 0);
      if (r == 0) return true;
      if (r < 0) return errno == ECONNRESET;
    }
  }

  static std::string Be16(uint16_t v) {
    std::string s(2, '\0');
    nbd::StoreBe16(reinterpret_cast<uint8_t*>(s.data()), v);
    return s;
  }
  static std::string Be32(uint32_t v) {
    std::string s(4, '\0');
    nbd::StoreBe32(reinterpret_cast<uint8_t*>(s.data()), v);
    return s;
  }
  static std::string Be64(uint64_t v) {
    std::string s(8, '\0');
    nbd::StoreBe64(reinterpret_cast<uint8_t*>(s.data()), v);
    return s;
  }
  static std::string Option(uint32_t option, const std::string& data) {
    return Be64(nbd::kOptMagic) + Be32(option) +
           Be32(static_cast<uint32_t>(data.size())) + data;
  }

  // Greeting, flags, optional STRUCTURED_REPLY, GO. Returns the export size,
  // or 0 on failure.
  uint64_t Handshake(const std::string& name, bool structured) {
    std::string greeting = RecvString(nbd::kGreetingSize);
    if (greeting.substr(0, 8) != "NBDMAGIC") return 0;
    Send(Be32(nbd::kClientFlagFixedNewstyle | nbd::kClientFlagNoZeroes));
    if (structured) {
      Send(Option(nbd::kOptStructuredReply, ""));
      if (ReadOptionReply().type != nbd::kRepAck) return 0;
    }
    Send(Option(nbd::kOptGo,
                Be32(static_cast<uint32_t>(name.size())) + name + Be16(0)));
    uint64_t size = 0;
    for (;;) {
      OptReply r = ReadOptionReply();
      if (r.type == nbd::kRepInfo && r.data.size() == 12) {
        size =
            nbd::LoadBe64(reinterpret_cast<const uint8_t*>(r.data.data()) + 2);
      } else if (r.type == nbd::kRepAck) {
        return size;
      } else if (r.type != nbd::kRepInfo) {
        return 0;
      }
    }
  }
  struct OptReply {
    uint32_t type = 0;
    std::string data;
  };
  OptReply ReadOptionReply() {
    uint8_t h[20];
    if (!Recv(h, sizeof(h))) return {};
    OptReply r;
    r.type = nbd::LoadBe32(h + 12);
    r.data = RecvString(nbd::LoadBe32(h + 16));
    return r;
  }

  static std::string Request(uint16_t type, uint16_t flags, uint64_t handle,
                             uint64_t offset, uint32_t length) {
    return Be32(nbd::kRequestMagic) + Be16(flags) + Be16(type) + Be64(handle) +
           Be64(offset) + Be32(length);
  }
  struct Simple {
    bool ok = false;
    uint32_t error = 0;
    uint64_t handle = 0;
  };
  Simple ReadSimple() {
    uint8_t h[16];
    Simple s;
    if (!Recv(h, sizeof(h)) || nbd::LoadBe32(h) != nbd::kSimpleReplyMagic) {
      return s;
    }
    s.ok = true;
    s.error = nbd::LoadBe32(h + 4);
    s.handle = nbd::LoadBe64(h + 8);
    return s;
  }
  struct Chunk {
    bool ok = false;
    uint16_t flags = 0, type = 0;
    uint64_t handle = 0;
    std::string payload;
  };
  Chunk ReadChunk() {
    uint8_t h[20];
    Chunk c;
    if (!Recv(h, sizeof(h)) || nbd::LoadBe32(h) != nbd::kStructuredReplyMagic) {
      return c;
    }
    c.flags = nbd::LoadBe16(h + 4);
    c.type = nbd::LoadBe16(h + 6);
    c.handle = nbd::LoadBe64(h + 8);
    uint32_t len = nbd::LoadBe32(h + 16);
    c.payload = len ? RecvString(len) : "";
    c.ok = c.payload.size() == len;
    return c;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// A reactor thread, a server on it, a 64 MiB memory disk exported as "disk"
// (alias "alias") on a Unix socket in a fresh temp directory.
struct Harness {
  std::unique_ptr<Reactor> reactor;
  MemoryBlockDevice disk{"disk", kDiskSize};
  std::unique_ptr<ThreadedDevice> threaded;
  std::unique_ptr<NbdServer> server;
  std::string dir;
  std::string sock;
  std::vector<std::string> log;
  std::mutex log_mu;

  explicit Harness(NbdServerOptions options = {},
                   bool threaded_device = false) {
    char tmpl[] = "/tmp/mpio-nbd-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    sock = dir + "/nbd.sock";
    auto r = Reactor::Create("nbd-test");
    REQUIRE(r.ok());
    reactor = std::move(*r);
    reactor->Start();
    options.log = [this](absl::string_view m) {
      std::lock_guard<std::mutex> lock(log_mu);
      log.emplace_back(m);
    };
    auto s = NbdServer::Create(reactor.get(), options);
    REQUIRE(s.ok());
    server = std::move(*s);
    BlockDevice* dev = &disk;
    if (threaded_device) {
      threaded = std::make_unique<ThreadedDevice>(&disk);
      dev = threaded.get();
    }
    REQUIRE(server->AddExport("disk", dev, {"alias"}, "test disk").ok());
    REQUIRE(server->ListenUnix(sock).ok());
  }
  ~Harness() {
    if (threaded) threaded->Release();
    server.reset();
    threaded.reset();
    reactor->Stop();
    reactor->Join();
    std::system(absl::StrCat("rm -rf ", dir).c_str());
  }
  std::string Uri(const std::string& name = "disk") const {
    return absl::StrCat("'nbd+unix:///", name, "?socket=", sock, "'");
  }
  NbdExportStats Stats() {
    auto s = server->GetStats("disk");
    REQUIRE(s.ok());
    return *s;
  }
};

// ---- real clients
// ------------------------------------------------------------

TEST_CASE("nbdinfo --list sees every export with size and description") {
  RequireTool("nbdinfo", "libnbd-bin");
  Harness h;
  MemoryBlockDevice second("second", 1 << 20, 4096);
  REQUIRE(h.server->AddExport("second", &second).ok());
  CmdResult r = Run(h.dir, absl::StrCat("nbdinfo --json --list ", h.Uri("")));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("\"export-name\": \"disk\"") != std::string::npos);
  CHECK(r.output.find("\"export-name\": \"second\"") != std::string::npos);
  CHECK(r.output.find("\"description\": \"test disk\"") != std::string::npos);
  CHECK(r.output.find("\"export-size\": 67108864") != std::string::npos);
  CHECK(r.output.find("\"export-size\": 1048576") != std::string::npos);
}

TEST_CASE("nbdinfo on one export shows block sizes and capabilities") {
  RequireTool("nbdinfo", "libnbd-bin");
  Harness h;
  CmdResult r = Run(h.dir, absl::StrCat("nbdinfo --json ", h.Uri("alias")));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("\"block_size_minimum\": 512") != std::string::npos);
  CHECK(r.output.find("\"block_size_preferred\": 4096") != std::string::npos);
  CHECK(r.output.find("\"block_size_maximum\": 33554432") != std::string::npos);
  CHECK(r.output.find("\"can_multi_conn\": true") != std::string::npos);
  CHECK(r.output.find("\"can_flush\": true") != std::string::npos);
  CHECK(r.output.find("\"can_fua\": true") != std::string::npos);
  CHECK(r.output.find("\"can_trim\": true") != std::string::npos);
  CHECK(r.output.find("\"can_zero\": true") != std::string::npos);
  CHECK(r.output.find("\"is_read_only\": false") != std::string::npos);
  CHECK(r.output.find("\"structured\": true") != std::string::npos);
  // Unknown export: a clean error, and the server goes on.
  CmdResult bad = Run(h.dir, absl::StrCat("nbdinfo ", h.Uri("nope")));
  CHECK(bad.exit_code != 0);
  CHECK(Run(h.dir, absl::StrCat("nbdinfo --size ", h.Uri())).output ==
        "67108864\n");
}

TEST_CASE("nbdcopy 64 MiB in and out; qemu-img compare agrees") {
  RequireTool("nbdcopy", "libnbd-bin");
  RequireTool("qemu-img", "qemu-utils");
  Harness h({}, /*threaded_device=*/true);
  std::vector<uint8_t> data = RandomBytes(kDiskSize, 1);
  std::string in = h.dir + "/in.img", out = h.dir + "/out.img";
  WriteFile(in, data);
  CmdResult r = Run(h.dir, absl::StrCat("nbdcopy ", in, " ", h.Uri()));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(h.disk.Snapshot() == data);
  r = Run(h.dir, absl::StrCat("nbdcopy ", h.Uri(), " ", out));
  REQUIRE(r.exit_code == 0);
  CHECK(ReadFile(out) == data);
  CHECK(h.Stats().bytes_written >= kDiskSize);
  CHECK(h.Stats().bytes_read >= kDiskSize);
  CHECK(h.Stats().errors == 0);

  r = Run(h.dir,
          absl::StrCat("qemu-img compare -f raw -F raw ", in, " ", h.Uri()));
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  // Change one byte on the export: compare must notice.
  std::vector<uint8_t> changed = data;
  changed[12345 * 512] ^= 0xff;
  WriteFile(in, changed);
  r = Run(h.dir,
          absl::StrCat("qemu-img compare -f raw -F raw ", in, " ", h.Uri()));
  CHECK_MESSAGE(r.exit_code == 1, r.output);
}

TEST_CASE("fio randrw with crc32c verify over the nbd engine") {
  RequireTool("fio", "fio");
  Harness h({}, /*threaded_device=*/true);
  CmdResult r =
      Run(h.dir,
          absl::StrCat("fio --name=nbd --ioengine=nbd --uri=", h.Uri(),
                       " --rw=randrw --bs=4k --size=32m --io_size=64m"
                       " --iodepth=16 --verify=crc32c --verify_fatal=1"
                       " --runtime=30 --output-format=terse"),
          120);
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("verify") == std::string::npos);  // no verify errors
  CHECK(h.Stats().errors == 0);
  CHECK(h.Stats().writes > 1000);
  CHECK(h.Stats().reads > 1000);
}

TEST_CASE("qemu-io FUA write, flush, trim and write-zeroes reach the device") {
  RequireTool("qemu-io", "qemu-utils");
  Harness h;
  std::vector<uint8_t> ones(kDiskSize, 0x11);
  {
    // Pre-fill so that zeroing and trimming are visible.
    RawClient c(h.sock);
    REQUIRE(c.Handshake("disk", false) == kDiskSize);
    std::string payload(1 << 20, '\x11');
    REQUIRE(
        c.Send(RawClient::Request(nbd::kCmdWrite, 0, 1, 0, 1 << 20) + payload));
    REQUIRE(c.ReadSimple().error == 0);
  }
  CmdResult r =
      Run(h.dir, absl::StrCat("qemu-io -f raw",
                              " -c 'write -f -P 0xab 0 64k'",  // FUA
                              " -c 'flush'", " -c 'discard 64k 64k'",
                              " -c 'write -z 128k 64k'",
                              " -c 'write -z -u 192k 64k'", " ", h.Uri()));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(h.disk.fua_writes.load() >= 1);
  CHECK(h.disk.flushes.load() >= 1);
  CHECK(h.disk.discards.load() >= 1);
  CHECK(h.disk.zeroes.load() >= 2);
  std::vector<uint8_t> snap = h.disk.Snapshot();
  auto all = [&](size_t from, size_t len, uint8_t v) {
    for (size_t i = from; i < from + len; i++) {
      if (snap[i] != v) return false;
    }
    return true;
  };
  CHECK(all(0, 64 << 10, 0xab));
  CHECK(all(64 << 10, 192 << 10, 0));
  CHECK(all(256 << 10, 768 << 10, 0x11));
}

TEST_CASE("TCP on loopback with an ephemeral port; non-loopback refused") {
  RequireTool("nbdinfo", "libnbd-bin");
  Harness h;
  REQUIRE(h.server->ListenTcp("127.0.0.1", 0).ok());
  uint16_t port = h.server->tcp_port();
  REQUIRE(port != 0);
  CmdResult r = Run(
      h.dir, absl::StrCat("nbdinfo --size nbd://127.0.0.1:", port, "/disk"));
  CHECK_MESSAGE(r.output == "67108864\n", r.output);
  absl::Status remote = h.server->ListenTcp("0.0.0.0", 0);
  CHECK(remote.code() == absl::StatusCode::kPermissionDenied);
  CHECK(h.server->ListenTcp("", 0).code() ==
        absl::StatusCode::kPermissionDenied);
}

// ---- sockets and exports
// -----------------------------------------------------

TEST_CASE("Unix socket: mode 0660, stale file replaced, others refused") {
  Harness h;
  struct stat st;
  REQUIRE(stat(h.sock.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0660);
  // A live server on the path is not stale.
  CHECK(h.server->ListenUnix(h.sock).code() ==
        absl::StatusCode::kFailedPrecondition);
  // A regular file is never removed.
  std::string file = h.dir + "/file";
  WriteFile(file, {1, 2, 3});
  CHECK(h.server->ListenUnix(file).code() ==
        absl::StatusCode::kFailedPrecondition);
  CHECK(ReadFile(file).size() == 3);
  // A stale socket (bound, nobody listening) is replaced.
  std::string stale = h.dir + "/stale.sock";
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", stale.c_str());
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  close(fd);
  REQUIRE(h.server->ListenUnix(stale).ok());
  RawClient c(stale);
  CHECK(c.Handshake("disk", true) == kDiskSize);
  // Stop removes the socket files it created.
  h.server->Stop();
  CHECK(stat(h.sock.c_str(), &st) != 0);
  CHECK(stat(stale.c_str(), &st) != 0);
}

TEST_CASE("AddExport validation and RemoveExport closes its connections") {
  Harness h;
  MemoryBlockDevice other("other", 1 << 20);
  CHECK(h.server->AddExport("disk", &other).code() ==
        absl::StatusCode::kAlreadyExists);
  CHECK(h.server->AddExport("x", &other, {"alias"}).code() ==
        absl::StatusCode::kAlreadyExists);
  CHECK(h.server->AddExport("", &other).code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(h.server->AddExport("y", nullptr).code() ==
        absl::StatusCode::kInvalidArgument);
  REQUIRE(h.server->AddExport("other", &other, {"o2"}).ok());

  RawClient c(h.sock);
  REQUIRE(c.Handshake("o2", false) == (1 << 20));
  RawClient d(h.sock);
  REQUIRE(d.Handshake("", false) == kDiskSize);  // default: first added
  REQUIRE(h.server->RemoveExport("other").ok());
  CHECK(c.ClosedByPeer());
  CHECK(h.server->GetStats("other").status().code() ==
        absl::StatusCode::kNotFound);
  CHECK(h.server->RemoveExport("other").code() == absl::StatusCode::kNotFound);
  // The other export's connection is untouched.
  REQUIRE(d.Send(RawClient::Request(nbd::kCmdFlush, 0, 7, 0, 0)));
  auto s = d.ReadSimple();
  CHECK(s.ok);
  CHECK(s.handle == 7);
  RawClient e(h.sock);
  CHECK(e.Handshake("o2", false) == 0);  // gone
}

// ---- raw protocol
// --------------------------------------------------------------

TEST_CASE("garbage handshakes close that connection only") {
  Harness h;
  RawClient good(h.sock);
  REQUIRE(good.Handshake("disk", true) == kDiskSize);

  std::vector<std::string> garbage = {
      std::string("\xff\xff\xff\xff", 4),         // bad flags
      RawClient::Be32(1) + std::string(16, 'x'),  // bad magic
      RawClient::Be32(1) + RawClient::Option(nbd::kOptExportName, "nope"),
      RawClient::Be32(1) + RawClient::Option(nbd::kOptAbort, ""),
  };
  for (const std::string& g : garbage) {
    RawClient c(h.sock);
    REQUIRE(c.RecvString(nbd::kGreetingSize).size() == nbd::kGreetingSize);
    REQUIRE(c.Send(g));
    CHECK(c.ClosedByPeer());
  }
  // Random bytes, many times.
  for (uint32_t seed = 0; seed < 20; seed++) {
    RawClient c(h.sock);
    std::vector<uint8_t> junk = RandomBytes(200, seed);
    c.Send(std::string(junk.begin(), junk.end()));
  }
  // The good client still works.
  REQUIRE(good.Send(RawClient::Request(nbd::kCmdRead, 0, 42, 0, 512)));
  auto chunk = good.ReadChunk();
  CHECK(chunk.ok);
  CHECK(chunk.handle == 42);
  CHECK(chunk.type == nbd::kReplyTypeOffsetData);
  CHECK(chunk.payload.size() == 8 + 512);
}

TEST_CASE("a client that never finishes the handshake is dropped") {
  NbdServerOptions opts;
  opts.handshake_timeout = absl::Milliseconds(200);
  Harness h(opts);
  RawClient idle(h.sock);
  REQUIRE(idle.RecvString(nbd::kGreetingSize).size() == nbd::kGreetingSize);
  RawClient done(h.sock);
  REQUIRE(done.Handshake("disk", false) == kDiskSize);
  CHECK(idle.ClosedByPeer());
  // Finished handshakes are not subject to it.
  usleep(300'000);
  REQUIRE(done.Send(RawClient::Request(nbd::kCmdFlush, 0, 1, 0, 0)));
  CHECK(done.ReadSimple().ok);
  std::lock_guard<std::mutex> lock(h.log_mu);
  CHECK(std::find(h.log.begin(), h.log.end(), "nbd: handshake timed out") !=
        h.log.end());
}

TEST_CASE("bad requests get error replies and the connection goes on") {
  Harness h;
  RawClient c(h.sock);
  REQUIRE(c.Handshake("disk", false) == kDiskSize);
  auto expect = [&](const std::string& req, uint32_t error, uint64_t handle) {
    REQUIRE(c.Send(req));
    auto s = c.ReadSimple();
    REQUIRE(s.ok);
    CHECK(s.handle == handle);
    CHECK(s.error == error);
  };
  using R = RawClient;
  expect(R::Request(nbd::kCmdRead, 0, 1, kDiskSize, 512), nbd::kEinval, 1);
  expect(R::Request(nbd::kCmdRead, 0, 2, 1, 512), nbd::kEinval, 2);
  expect(R::Request(nbd::kCmdRead, 0, 3, 0, nbd::kMaxPayload + 512),
         nbd::kEinval, 3);
  expect(R::Request(77, 0, 4, 0, 512), nbd::kEinval, 4);
  expect(R::Request(nbd::kCmdRead, 0x80, 5, 0, 512), nbd::kEinval, 5);
  // Writes past the end: ENOSPC, payload skipped.
  expect(R::Request(nbd::kCmdWrite, 0, 6, kDiskSize - 512, 1024) +
             std::string(1024, 'w'),
         nbd::kEnospc, 6);
  // Oversized write: 33 MiB of payload skipped, then EINVAL.
  expect(R::Request(nbd::kCmdWrite, 0, 7, 0, 33u << 20) +
             std::string(33u << 20, 'w'),
         nbd::kEinval, 7);
  // Device errors map through ErrnoFromStatus (DataLoss -> EIO).
  h.disk.fail_next = 1;
  expect(R::Request(nbd::kCmdFlush, 0, 8, 0, 0), nbd::kEio, 8);
  // Still in sync: a real write and read-back.
  std::string payload(4096, 'q');
  expect(R::Request(nbd::kCmdWrite, 0, 9, 8192, 4096) + payload, 0, 9);
  REQUIRE(c.Send(R::Request(nbd::kCmdRead, 0, 10, 8192, 4096)));
  auto s = c.ReadSimple();
  CHECK(s.error == 0);
  CHECK(c.RecvString(4096) == payload);
  CHECK(h.Stats().errors == 8);
  // Bad request magic: no way to resynchronise, so the server hangs up.
  REQUIRE(c.Send(std::string(28, 'z')));
  CHECK(c.ClosedByPeer());
}

TEST_CASE("structured replies: data chunk, error chunk with message") {
  Harness h;
  RawClient c(h.sock);
  REQUIRE(c.Handshake("disk", true) == kDiskSize);
  std::string payload(8192, 'p');
  REQUIRE(c.Send(
      RawClient::Request(nbd::kCmdWrite, nbd::kCmdFlagFua, 1, 4096, 8192) +
      payload));
  auto done = c.ReadChunk();
  CHECK(done.ok);
  CHECK(done.type == nbd::kReplyTypeNone);
  CHECK(done.flags == nbd::kReplyFlagDone);
  CHECK(h.disk.fua_writes.load() == 1);

  REQUIRE(c.Send(
      RawClient::Request(nbd::kCmdRead, nbd::kCmdFlagDf, 2, 4096, 8192)));
  auto data = c.ReadChunk();
  REQUIRE(data.ok);
  CHECK(data.type == nbd::kReplyTypeOffsetData);
  CHECK(data.flags == nbd::kReplyFlagDone);
  CHECK(nbd::LoadBe64(reinterpret_cast<const uint8_t*>(data.payload.data())) ==
        4096);
  CHECK(data.payload.substr(8) == payload);

  REQUIRE(c.Send(RawClient::Request(nbd::kCmdRead, 0, 3, kDiskSize, 512)));
  auto err = c.ReadChunk();
  REQUIRE(err.ok);
  CHECK(err.type == nbd::kReplyTypeError);
  CHECK(err.flags == nbd::kReplyFlagDone);
  const auto* p = reinterpret_cast<const uint8_t*>(err.payload.data());
  CHECK(nbd::LoadBe32(p) == nbd::kEinval);
  uint16_t len = nbd::LoadBe16(p + 4);
  CHECK(err.payload.substr(6, len).find("end of the export") !=
        std::string::npos);
}

TEST_CASE("back-pressure: at most max_inflight requests reach the device") {
  NbdServerOptions opts;
  opts.max_inflight_per_connection = 4;
  Harness h(opts, /*threaded_device=*/true);
  RawClient c(h.sock);
  REQUIRE(c.Handshake("disk", false) == kDiskSize);
  h.threaded->Hold();
  std::string batch;
  for (uint64_t i = 0; i < 20; i++) {
    batch += RawClient::Request(nbd::kCmdRead, 0, 100 + i, i * 4096, 4096);
  }
  REQUIRE(c.Send(batch));
  REQUIRE(Eventually([&] { return h.threaded->submitted() == 4; }));
  usleep(100'000);
  CHECK(h.threaded->submitted() == 4);  // the server stopped reading
  h.threaded->Release();
  std::vector<bool> seen(20, false);
  for (int i = 0; i < 20; i++) {
    auto s = c.ReadSimple();
    REQUIRE(s.ok);
    CHECK(s.error == 0);
    REQUIRE(s.handle >= 100);
    REQUIRE(s.handle < 120);
    seen[s.handle - 100] = true;
    CHECK(c.RecvString(4096).size() == 4096);
  }
  CHECK(std::count(seen.begin(), seen.end(), true) == 20);
  CHECK(h.threaded->submitted() == 20);
}

TEST_CASE("a client that vanishes with requests in flight") {
  Harness h({}, /*threaded_device=*/true);
  {
    RawClient c(h.sock);
    REQUIRE(c.Handshake("disk", true) == kDiskSize);
    h.threaded->Hold();
    std::string batch;
    for (uint64_t i = 0; i < 16; i++) {
      batch += RawClient::Request(nbd::kCmdWrite, 0, i, i * 65536, 65536) +
               std::string(65536, static_cast<char>('a' + i));
    }
    batch += RawClient::Request(nbd::kCmdRead, 0, 99, 0, 1 << 20);
    REQUIRE(c.Send(batch));
    REQUIRE(Eventually([&] { return h.threaded->submitted() == 17; }));
    c.Close();  // gone, with 17 requests at the device
  }
  usleep(50'000);
  h.threaded->Release();
  REQUIRE(Eventually([&] { return h.threaded->completed() == 17; }));
  // The writes landed; the server survived and serves others.
  std::vector<uint8_t> snap = h.disk.Snapshot();
  CHECK(snap[15 * 65536] == 'a' + 15);
  RawClient d(h.sock);
  CHECK(d.Handshake("disk", false) == kDiskSize);
  CHECK(Eventually([&] { return h.Stats().connections == 1; }));
}

TEST_CASE("DISC: in-flight requests are answered, then the server closes") {
  Harness h({}, /*threaded_device=*/true);
  RawClient c(h.sock);
  REQUIRE(c.Handshake("disk", false) == kDiskSize);
  h.threaded->Hold();
  REQUIRE(c.Send(RawClient::Request(nbd::kCmdWrite, 0, 1, 0, 512) +
                 std::string(512, 'd') +
                 RawClient::Request(nbd::kCmdDisc, 0, 2, 0, 0)));
  REQUIRE(Eventually([&] { return h.threaded->submitted() == 1; }));
  h.threaded->Release();
  auto s = c.ReadSimple();
  CHECK(s.ok);
  CHECK(s.handle == 1);
  CHECK(c.ClosedByPeer());
  CHECK(h.disk.Snapshot()[0] == 'd');
}

TEST_CASE("many concurrent clients, each on its own region") {
  Harness h({}, /*threaded_device=*/true);
  constexpr int kClients = 8;
  constexpr uint64_t kRegion = kDiskSize / kClients;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < kClients; i++) {
    threads.emplace_back([&, i] {
      RawClient c(h.sock);
      if (c.Handshake("disk", i % 2 == 0) != kDiskSize) {
        failures++;
        return;
      }
      std::vector<uint8_t> data = RandomBytes(kRegion, 100 + i);
      const uint64_t base = i * kRegion;
      constexpr uint32_t kChunk = 256 << 10;
      std::string batch;
      for (uint64_t off = 0; off < kRegion; off += kChunk) {
        batch += RawClient::Request(nbd::kCmdWrite, 0, off, base + off, kChunk);
        batch.append(reinterpret_cast<const char*>(&data[off]), kChunk);
      }
      // Sending everything before reading any reply: the server must keep
      // reading replies out while we are still sending.
      std::thread sender([&] { c.Send(batch); });
      for (uint64_t off = 0; off < kRegion; off += kChunk) {
        bool ok = (i % 2 == 0) ? c.ReadChunk().ok : c.ReadSimple().error == 0;
        if (!ok) failures++;
      }
      sender.join();
      for (uint64_t off = 0; off < kRegion; off += kChunk) {
        c.Send(RawClient::Request(nbd::kCmdRead, 0, off, base + off, kChunk));
        std::string got;
        if (i % 2 == 0) {
          auto chunk = c.ReadChunk();
          got = chunk.payload.size() > 8 ? chunk.payload.substr(8) : "";
        } else {
          if (c.ReadSimple().error != 0) failures++;
          got = c.RecvString(kChunk);
        }
        if (got.size() != kChunk ||
            std::memcmp(got.data(), &data[off], kChunk) != 0) {
          failures++;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures.load() == 0);
  CHECK(h.Stats().bytes_written == kDiskSize);
  CHECK(h.Stats().bytes_read == kDiskSize);
}

}  // namespace
}  // namespace mpio
