// Real clients against the FUSE file (needs root, /dev/fuse, loop devices):
// fio with crc32c verification, and losetup + mkfs.ext4 + mount + fsck.ext4.
// A missing tool fails the test and names the Debian package to install.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "fuse/fuse_export.h"
#include "fuse/mount_point.h"
#include "tests/support/memory_block_device.h"
#include "tests/support/run_shell.h"

namespace mpio::fuse {
namespace {

using mpio::testing::MemoryBlockDevice;

bool InPath(const std::string& tool) {
  const char* path = getenv("PATH");
  std::string dirs = path ? path : "";
  dirs += ":/usr/sbin:/sbin";
  for (absl::string_view d : absl::StrSplit(dirs, ':', absl::SkipEmpty())) {
    if (access(absl::StrCat(d, "/", tool).c_str(), X_OK) == 0) return true;
  }
  return false;
}

void RequireTool(const std::string& tool, const std::string& package) {
  REQUIRE_MESSAGE(InPath(tool), tool,
                  " is missing: install the Debian "
                  "package '",
                  package, "'");
}

struct Result {
  int code;
  std::string output;
};

// Runs a shell command line (built only from our own temp paths), bounded by
// `timeout` seconds, and returns its exit code and combined output.
Result Run(const std::string& command, int timeout = 120) {
  std::string line =
      absl::StrCat("timeout -k 5 ", timeout, " ", command, " 2>&1");
  auto r = testing::RunShell(line);
  const int code = r.status < 0 ? 128 : r.status;
  MESSAGE("$ ", command, " -> ", code);
  return {code, std::move(r.output)};
}

std::string MakeTempDir(const char* what) {
  std::string tmpl = absl::StrCat("/tmp/mpio-fuse-", what, "-XXXXXX");
  REQUIRE(mkdtemp(tmpl.data()) != nullptr);
  return tmpl;
}

struct Export {
  explicit Export(uint64_t size) : mem("mem0", size, 512) {
    dir = MakeTempDir("clients");
    auto e = FuseExport::Mount(dir);
    REQUIRE_MESSAGE(e.ok(), e.status().ToString());
    exp = std::move(*e);
    REQUIRE(exp->AddDevice("dev", &mem).ok());
    file = dir + "/dev";
  }
  ~Export() {
    exp.reset();
    rmdir(dir.c_str());
  }
  MemoryBlockDevice mem;
  std::string dir, file;
  std::unique_ptr<FuseExport> exp;
};

TEST_CASE("fio randrw with crc32c verification, buffered and O_DIRECT") {
  RequireTool("fio", "fio");
  RequireTool("timeout", "coreutils");
  Export e(64 << 20);
  for (int direct : {0, 1}) {
    CAPTURE(direct);
    const uint64_t writes_before = e.mem.writes;
    Result r = Run(absl::StrCat(
        "fio --name=mpio-fuse --filename=", e.file,
        " --ioengine=psync --rw=randrw --bs=4k --size=32M --verify=crc32c "
        "--do_verify=1 --verify_fatal=1 --runtime=60 --direct=",
        direct, " --allow_file_create=0"));
    INFO(r.output);
    CHECK(r.code == 0);
    CHECK(r.output.find("err= 0") != std::string::npos);
    CHECK(r.output.find("verify:") == std::string::npos);  // no verify error
    CHECK(e.mem.writes > writes_before);
  }
}

TEST_CASE("fio verification is real: a corrupted block fails verify_only") {
  RequireTool("fio", "fio");
  RequireTool("timeout", "coreutils");
  Export e(16 << 20);
  const std::string job = absl::StrCat(
      "fio --name=mpio-fuse --filename=", e.file,
      " --ioengine=psync --rw=write --bs=4k --size=4M --verify=crc32c "
      "--allow_file_create=0 ");
  Result r = Run(job + "--do_verify=0");
  REQUIRE_MESSAGE(r.code == 0, r.output);
  r = Run(job + "--verify_only");
  CHECK_MESSAGE(r.code == 0, r.output);
  // Overwrite part of block 5 through the file (a fresh open sees it).
  int fd = open(e.file.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  std::string junk(100, 'x');
  REQUIRE(pwrite(fd, junk.data(), junk.size(), 5 * 4096 + 300) == 100);
  close(fd);
  r = Run(job + "--verify_only");
  CHECK_MESSAGE(r.code != 0, r.output);
}

// Undoes the loop device and the ext4 mount whatever happened in the test.
struct LoopCleanup {
  std::string loop, mnt;
  bool mounted = false;
  ~LoopCleanup() {
    if (mounted) Run(absl::StrCat("umount ", mnt));
    if (!loop.empty()) Run(absl::StrCat("losetup -d ", loop));
    if (!mnt.empty()) rmdir(mnt.c_str());
  }
};

TEST_CASE("losetup + mkfs.ext4 + mount + files + fsck.ext4 -n") {
  RequireTool("losetup", "mount");
  RequireTool("mount", "mount");
  RequireTool("umount", "mount");
  RequireTool("mkfs.ext4", "e2fsprogs");
  RequireTool("fsck.ext4", "e2fsprogs");
  RequireTool("timeout", "coreutils");
  Export e(128 << 20);
  LoopCleanup c;
  c.mnt = MakeTempDir("ext4");

  Result r = Run(absl::StrCat("losetup -f --show ", e.file));
  REQUIRE_MESSAGE(r.code == 0, r.output);
  c.loop = std::string(absl::StripAsciiWhitespace(r.output));
  REQUIRE(c.loop.rfind("/dev/loop", 0) == 0);

  r = Run(absl::StrCat("mkfs.ext4 -q -F ", c.loop));
  REQUIRE_MESSAGE(r.code == 0, r.output);
  // mkfs discards the device first: loop turns that into PUNCH_HOLE.
  CHECK(e.mem.zeroes > 0);
  r = Run(absl::StrCat("mount -t ext4 ", c.loop, " ", c.mnt));
  REQUIRE_MESSAGE(r.code == 0, r.output);
  c.mounted = true;

  // Files of odd sizes, written, synced and read back.
  std::vector<std::string> contents;
  std::mt19937 rng(99);
  for (int i = 0; i < 6; ++i) {
    std::string data(1 + rng() % (3 << 20), '\0');
    for (char& ch : data) ch = static_cast<char>(rng());
    std::ofstream(absl::StrCat(c.mnt, "/file", i), std::ios::binary) << data;
    contents.push_back(std::move(data));
  }
  const uint64_t flushes_before = e.mem.flushes;
  REQUIRE(Run(absl::StrCat("sync -f ", c.mnt, "/file0")).code == 0);
  CHECK(e.mem.flushes > flushes_before);  // the journal commit flushed
  for (int i = 0; i < 6; ++i) {
    std::ifstream in(absl::StrCat(c.mnt, "/file", i), std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    CHECK(s.str() == contents[i]);
  }
  r = Run(absl::StrCat("umount ", c.mnt));
  REQUIRE_MESSAGE(r.code == 0, r.output);
  c.mounted = false;

  r = Run(absl::StrCat("fsck.ext4 -n -f ", c.loop));
  INFO(r.output);
  CHECK(r.code == 0);

  // Remount read-only: the files survived unmount.
  r = Run(absl::StrCat("mount -t ext4 -o ro ", c.loop, " ", c.mnt));
  REQUIRE_MESSAGE(r.code == 0, r.output);
  c.mounted = true;
  for (int i = 0; i < 6; ++i) {
    std::ifstream in(absl::StrCat(c.mnt, "/file", i), std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    CHECK(s.str() == contents[i]);
  }
  r = Run(absl::StrCat("umount ", c.mnt));
  CHECK(r.code == 0);
  c.mounted = r.code != 0;

  r = Run(absl::StrCat("losetup -d ", c.loop));
  CHECK(r.code == 0);
  if (r.code == 0) c.loop.clear();
}

}  // namespace
}  // namespace mpio::fuse
