// FuseExport through the real kernel FUSE driver (needs root and /dev/fuse):
// a MemoryBlockDevice mounted in a temp dir, exercised with plain syscalls.
#include "fuse/fuse_export.h"

#include <dirent.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fuse/mount_point.h"
#include "tests/support/memory_block_device.h"

namespace mpio::fuse {
namespace {

using mpio::testing::MemoryBlockDevice;

constexpr uint64_t kSize = 16 << 20;

std::string MakeTempDir() {
  char tmpl[] = "/tmp/mpio-fuse-test-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  return tmpl;
}

std::vector<uint8_t> Pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  std::mt19937 rng(seed);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// A page-aligned buffer for O_DIRECT.
struct AlignedBuffer {
  explicit AlignedBuffer(size_t n) : size(n) {
    REQUIRE(posix_memalign(&data, 4096, n) == 0);
  }
  ~AlignedBuffer() { free(data); }
  uint8_t* bytes() { return static_cast<uint8_t*>(data); }
  void* data = nullptr;
  size_t size;
};

struct Mounted {
  Mounted() : mem("mem0", kSize, 512), dir(MakeTempDir()) {
    absl::StatusOr<std::unique_ptr<FuseExport>> e = FuseExport::Mount(dir);
    REQUIRE_MESSAGE(e.ok(), e.status().ToString());
    exp = std::move(*e);
    REQUIRE(exp->AddDevice("dev0", &mem).ok());
    path = dir + "/dev0";
  }
  ~Mounted() {
    exp.reset();
    rmdir(dir.c_str());
  }
  MemoryBlockDevice mem;
  std::string dir;
  std::string path;
  std::unique_ptr<FuseExport> exp;
};

std::set<std::string> List(const std::string& dir) {
  std::set<std::string> names;
  DIR* d = opendir(dir.c_str());
  REQUIRE(d != nullptr);
  while (struct dirent* e = readdir(d)) names.insert(e->d_name);
  closedir(d);
  return names;
}

TEST_CASE("root lists the devices with their size, mode and owner") {
  Mounted m;
  MemoryBlockDevice second("mem1", 1 << 20, 4096);
  REQUIRE(m.exp->AddDevice("dev1", &second).ok());
  CHECK(m.exp->AddDevice("dev1", &second).code() ==
        absl::StatusCode::kAlreadyExists);
  CHECK(m.exp->AddDevice("a/b", &second).code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(List(m.dir) == std::set<std::string>{".", "..", "dev0", "dev1"});
  struct stat st;
  REQUIRE(stat(m.path.c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(st.st_size == static_cast<off_t>(kSize));
  CHECK(st.st_uid == getuid());
  REQUIRE(stat((m.dir + "/dev1").c_str(), &st) == 0);
  CHECK(st.st_size == 1 << 20);
  struct statvfs vfs;
  REQUIRE(statvfs(m.dir.c_str(), &vfs) == 0);
  CHECK(vfs.f_blocks * vfs.f_frsize == kSize + (1 << 20));

  REQUIRE(m.exp->RemoveDevice("dev1").ok());
  CHECK(m.exp->RemoveDevice("dev1").code() == absl::StatusCode::kNotFound);
  CHECK(List(m.dir) == std::set<std::string>{".", "..", "dev0"});
  CHECK(stat((m.dir + "/dev1").c_str(), &st) == -1);
  CHECK(errno == ENOENT);
  // The set of files is fixed by the devices.
  CHECK(open((m.dir + "/new").c_str(), O_CREAT | O_RDWR, 0600) == -1);
  CHECK(unlink(m.path.c_str()) == -1);
}

TEST_CASE("pread/pwrite, aligned and unaligned, through the page cache") {
  Mounted m;
  int fd = open(m.path.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  std::vector<uint8_t> model(kSize, 0);
  std::mt19937 rng(42);
  for (int i = 0; i < 200; ++i) {
    const uint64_t off = (i % 3 == 0) ? (rng() % (kSize / 4096)) * 4096
                                      : rng() % (kSize - 70000);
    const size_t len =
        (i % 3 == 0) ? 4096 * (1 + rng() % 16) : 1 + rng() % 70000;
    std::vector<uint8_t> data = Pattern(len, i);
    REQUIRE(pwrite(fd, data.data(), len, off) == static_cast<ssize_t>(len));
    std::memcpy(&model[off], data.data(), len);
  }
  // The device has every byte (write-through), before any fsync.
  CHECK(m.mem.Snapshot() == model);
  for (int i = 0; i < 100; ++i) {
    const uint64_t off = rng() % (kSize - 70000);
    const size_t len = 1 + rng() % 70000;
    std::vector<uint8_t> got(len);
    REQUIRE(pread(fd, got.data(), len, off) == static_cast<ssize_t>(len));
    REQUIRE(std::memcmp(got.data(), &model[off], len) == 0);
  }
  // End of file: short read, then 0; writing past the end is ENOSPC.
  std::vector<uint8_t> buf(8192);
  CHECK(pread(fd, buf.data(), buf.size(), kSize - 100) == 100);
  CHECK(pread(fd, buf.data(), buf.size(), kSize) == 0);
  errno = 0;
  CHECK(pwrite(fd, buf.data(), 10, kSize) == -1);
  CHECK((errno == ENOSPC || errno == EFBIG));
  close(fd);
}

TEST_CASE("O_DIRECT reads and writes bypass the page cache") {
  Mounted m;
  int fd = open(m.path.c_str(), O_RDWR | O_DIRECT);
  REQUIRE(fd >= 0);
  AlignedBuffer w(64 * 1024), r(64 * 1024);
  std::vector<uint8_t> p = Pattern(w.size, 5);
  std::memcpy(w.bytes(), p.data(), p.size());
  REQUIRE(pwrite(fd, w.data, w.size, 1 << 20) == static_cast<ssize_t>(w.size));
  std::vector<uint8_t> snap = m.mem.Snapshot();
  CHECK(std::memcmp(&snap[1 << 20], p.data(), p.size()) == 0);
  const uint64_t reads_before = m.mem.reads;
  for (int i = 0; i < 3; ++i) {
    std::memset(r.data, 0, r.size);
    REQUIRE(pread(fd, r.data, r.size, 1 << 20) == static_cast<ssize_t>(r.size));
    CHECK(std::memcmp(r.data, p.data(), p.size()) == 0);
  }
  CHECK(m.mem.reads >= reads_before + 3);  // each read reached the device
  // Unaligned O_DIRECT I/O works too (FUSE direct_io has no alignment rule).
  uint8_t small[7] = {1, 2, 3, 4, 5, 6, 7};
  REQUIRE(pwrite(fd, small, 7, 3) == 7);
  uint8_t back[7];
  REQUIRE(pread(fd, back, 7, 3) == 7);
  CHECK(std::memcmp(small, back, 7) == 0);
  close(fd);
}

TEST_CASE("concurrent unaligned writers to one block lose no update") {
  Mounted m;
  constexpr int kThreads = 6, kRounds = 300;
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Half the writers bypass the page cache, half go through it.
      int fd = open(m.path.c_str(), O_RDWR | (t % 2 ? O_DIRECT : 0));
      if (fd < 0) {
        errors++;
        return;
      }
      for (int i = 1; i <= kRounds; ++i) {
        uint8_t v[5];
        std::memset(v, (i + t) & 0xff, sizeof(v));
        if (pwrite(fd, v, sizeof(v), 4096 + 50 * t + 1) != 5) errors++;
      }
      close(fd);
    });
  }
  for (auto& th : threads) th.join();
  CHECK(errors == 0);
  std::vector<uint8_t> snap = m.mem.Snapshot();
  for (int t = 0; t < kThreads; ++t) {
    for (int j = 0; j < 5; ++j) {
      CHECK(snap[4096 + 50 * t + 1 + j] == ((kRounds + t) & 0xff));
    }
  }
}

TEST_CASE("fsync flushes the device, close does not; O_SYNC writes use FUA") {
  Mounted m;
  int fd = open(m.path.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  uint8_t b[512] = {9};
  REQUIRE(pwrite(fd, b, sizeof(b), 0) == 512);
  const uint64_t before = m.mem.flushes;
  REQUIRE(fsync(fd) == 0);
  CHECK(m.mem.flushes == before + 1);
  REQUIRE(fdatasync(fd) == 0);
  CHECK(m.mem.flushes == before + 2);
  close(fd);
  CHECK(m.mem.flushes == before + 2);

  fd = open(m.path.c_str(), O_RDWR | O_DSYNC | O_DIRECT);
  REQUIRE(fd >= 0);
  AlignedBuffer a(4096);
  std::memset(a.data, 1, a.size);
  const uint64_t fua_before = m.mem.fua_writes;
  REQUIRE(pwrite(fd, a.data, a.size, 8192) == 4096);
  CHECK(m.mem.fua_writes == fua_before + 1);
  close(fd);
}

TEST_CASE("fallocate: punch hole, zero range, allocate, unsupported modes") {
  Mounted m;
  int fd = open(m.path.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  std::vector<uint8_t> data = Pattern(1 << 20, 11);
  REQUIRE(pwrite(fd, data.data(), data.size(), 0) == (1 << 20));
  std::vector<uint8_t> expect = data;

  const uint64_t z0 = m.mem.zeroes;
  REQUIRE(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1000,
                    20000) == 0);
  std::memset(&expect[1000], 0, 20000);
  CHECK(m.mem.zeroes == z0 + 1);
  REQUIRE(fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 300000,
                    4096) == 0);
  std::memset(&expect[300000], 0, 4096);
  CHECK(m.mem.zeroes == z0 + 2);
  std::vector<uint8_t> snap = m.mem.Snapshot();
  CHECK(std::memcmp(snap.data(), expect.data(), expect.size()) == 0);
  // Reads through the file see the zeroes, not stale cached pages.
  std::vector<uint8_t> got(1 << 20);
  REQUIRE(pread(fd, got.data(), got.size(), 0) == (1 << 20));
  CHECK(got == expect);

  CHECK(fallocate(fd, 0, 0, 4096) == 0);
  CHECK(posix_fallocate(fd, 0, kSize) == 0);
  CHECK(fallocate(fd, 0, kSize - 10, 4096) == -1);  // would grow the file
  CHECK(errno == ENOSPC);
  CHECK(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, 4096) == -1);
  CHECK(errno == EOPNOTSUPP);
  close(fd);
}

TEST_CASE("size is fixed; chmod, chown and utimens are kept") {
  Mounted m;
  CHECK(truncate(m.path.c_str(), kSize) == 0);
  CHECK(truncate(m.path.c_str(), 4096) == -1);
  CHECK(errno == EPERM);
  int fd = open(m.path.c_str(), O_RDWR | O_TRUNC);
  CHECK(fd == -1);
  CHECK(errno == EPERM);
  if (fd >= 0) close(fd);
  REQUIRE(chmod(m.path.c_str(), 0640) == 0);
  REQUIRE(chown(m.path.c_str(), 1234, 5678) == 0);
  struct timespec times[2] = {{1000, 0}, {2000, 0}};
  REQUIRE(utimensat(AT_FDCWD, m.path.c_str(), times, 0) == 0);
  struct stat st;
  REQUIRE(stat(m.path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
  CHECK(st.st_uid == 1234);
  CHECK(st.st_gid == 5678);
  CHECK(st.st_mtim.tv_sec == 2000);
  CHECK(st.st_size == static_cast<off_t>(kSize));
}

TEST_CASE("a device error reaches the reader as EIO") {
  Mounted m;
  int fd = open(m.path.c_str(), O_RDWR | O_DIRECT);
  REQUIRE(fd >= 0);
  AlignedBuffer a(4096);
  m.mem.fail_next = 1;
  errno = 0;
  CHECK(pread(fd, a.data, a.size, 0) == -1);
  CHECK(errno == EIO);
  CHECK(pread(fd, a.data, a.size, 0) == 4096);  // one failure only
  m.mem.fail_next = 1;
  CHECK(pwrite(fd, a.data, a.size, 0) == -1);
  CHECK(errno == EIO);
  close(fd);
}

TEST_CASE("RemoveDevice with the file open: later I/O gets ENODEV") {
  Mounted m;
  int fd = open(m.path.c_str(), O_RDWR | O_DIRECT);
  REQUIRE(fd >= 0);
  REQUIRE(m.exp->RemoveDevice("dev0").ok());
  AlignedBuffer a(4096);
  CHECK(pread(fd, a.data, a.size, 0) == -1);
  CHECK(errno == ENODEV);
  close(fd);
}

TEST_CASE("Unmount leaves no mount, even with a file still open") {
  MemoryBlockDevice mem("mem0", 1 << 20);
  std::string dir = MakeTempDir();
  {
    auto e = FuseExport::Mount(dir);
    REQUIRE(e.ok());
    REQUIRE((*e)->AddDevice("dev0", &mem).ok());
    CHECK(FindMount(dir).has_value());
    CHECK(FindMount(dir)->fs_type == "fuse.mpio");
    // A second export on a live mount is refused.
    auto again = FuseExport::Mount(dir);
    CHECK(again.status().code() == absl::StatusCode::kFailedPrecondition);
    (*e)->Unmount();
    CHECK(!FindMount(dir).has_value());
    (*e)->Unmount();  // idempotent
  }
  {
    auto e = FuseExport::Mount(dir);
    REQUIRE(e.ok());
    REQUIRE((*e)->AddDevice("dev0", &mem).ok());
    int fd = open((dir + "/dev0").c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    (*e)->Unmount();  // busy: detached and aborted
    CHECK(!FindMount(dir).has_value());
    uint8_t b[16];
    CHECK(pread(fd, b, sizeof(b), 0) == -1);
    close(fd);
  }
  {
    // Someone else detached the mount while a file was open: Unmount()
    // still ends the loop (by aborting the connection) and returns.
    auto e = FuseExport::Mount(dir);
    REQUIRE(e.ok());
    REQUIRE((*e)->AddDevice("dev0", &mem).ok());
    int fd = open((dir + "/dev0").c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    REQUIRE(umount2(dir.c_str(), MNT_DETACH) == 0);
    (*e)->Unmount();
    CHECK(!FindMount(dir).has_value());
    uint8_t b[16];
    CHECK(pread(fd, b, sizeof(b), 0) == -1);
    close(fd);
  }
  CHECK(rmdir(dir.c_str()) == 0);
}

TEST_CASE("options reach the mount: allow_other, default_permissions") {
  MemoryBlockDevice mem("mem0", 1 << 20);
  std::string dir = MakeTempDir();
  auto mount_options = [&]() {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
      if (line.find(" " + dir + " ") != std::string::npos) return line;
    }
    return std::string();
  };
  {
    FuseOptions o;
    o.allow_other = true;
    o.default_permissions = false;
    o.max_threads = 2;
    o.fs_name = "mpio-test";
    auto e = FuseExport::Mount(dir, o);
    REQUIRE_MESSAGE(e.ok(), e.status().ToString());
    REQUIRE((*e)->AddDevice("dev0", &mem).ok());
    const std::string line = mount_options();
    CHECK(line.find("allow_other") != std::string::npos);
    CHECK(line.find("default_permissions") == std::string::npos);
    CHECK(line.find(" mpio-test ") != std::string::npos);
    // Two threads still serve parallel requests.
    std::vector<std::thread> readers;
    std::atomic<int> ok{0};
    for (int i = 0; i < 4; ++i) {
      readers.emplace_back([&] {
        int fd = open((dir + "/dev0").c_str(), O_RDONLY);
        uint8_t b[4096];
        if (fd >= 0 && pread(fd, b, sizeof(b), 0) == 4096) ok++;
        if (fd >= 0) close(fd);
      });
    }
    for (auto& t : readers) t.join();
    CHECK(ok == 4);
  }
  {
    auto e = FuseExport::Mount(dir);
    REQUIRE(e.ok());
    const std::string line = mount_options();
    CHECK(line.find("allow_other") == std::string::npos);
    CHECK(line.find("default_permissions") != std::string::npos);
  }
  CHECK(rmdir(dir.c_str()) == 0);
}

TEST_CASE("a dead mount left by a killed process is cleared at Mount()") {
  std::string dir = MakeTempDir();
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    MemoryBlockDevice mem("mem0", 1 << 20);
    auto e = FuseExport::Mount(dir);
    char ok = e.ok() && (*e)->AddDevice("dev0", &mem).ok() ? 'y' : 'n';
    (void)!write(pipe_fds[1], &ok, 1);
    for (;;) pause();  // until SIGKILL
  }
  close(pipe_fds[1]);
  char ok = 0;
  REQUIRE(read(pipe_fds[0], &ok, 1) == 1);
  close(pipe_fds[0]);
  kill(child, SIGKILL);
  int wstatus;
  REQUIRE(waitpid(child, &wstatus, 0) == child);
  REQUIRE(ok == 'y');
  struct statfs sfs;
  CHECK(statfs(dir.c_str(), &sfs) == -1);
  CHECK(errno == ENOTCONN);
  struct stat st;

  MemoryBlockDevice mem("mem0", 1 << 20);
  auto e = FuseExport::Mount(dir);
  REQUIRE_MESSAGE(e.ok(), e.status().ToString());
  REQUIRE((*e)->AddDevice("dev0", &mem).ok());
  REQUIRE(stat((dir + "/dev0").c_str(), &st) == 0);
  CHECK(st.st_size == 1 << 20);
  (*e)->Unmount();
  CHECK(!FindMount(dir).has_value());
  CHECK(rmdir(dir.c_str()) == 0);
}

}  // namespace
}  // namespace mpio::fuse
