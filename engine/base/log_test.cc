// The logger against real sinks: a capped file, /dev/full (every write
// fails with ENOSPC) and a FIFO nobody reads (every write blocks).
#include "engine/base/log.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace mpio {
namespace {

namespace fs = std::filesystem;

std::string TempDir() {
  char tmpl[] = "/tmp/mpio-log-test-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  return tmpl;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST_CASE(
    "a log file is capped and moved to FILE.1, so it cannot grow without "
    "bound") {
  std::string dir = TempDir();
  std::string path = dir + "/mpio.log";
  REQUIRE(SetLogFile(path, 4096).ok());
  for (int i = 0; i < 300; ++i)
    Log(LogLevel::kInfo, "line " + std::to_string(i));
  FlushLog(absl::Seconds(10));
  REQUIRE(fs::exists(path));
  REQUIRE(fs::exists(path + ".1"));
  CHECK(fs::file_size(path) <= 4096);
  CHECK(fs::file_size(path + ".1") <= 4096);
  CHECK(ReadAll(path).find("line 299") != std::string::npos);
  CHECK(ReadAll(path).find("INFO  line 299\n") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE(
    "after an outside rotation, a reopen request moves the log to the new "
    "file") {
  std::string dir = TempDir();
  std::string path = dir + "/mpio.log";
  REQUIRE(SetLogFile(path, 0).ok());
  Log(LogLevel::kInfo, "before the rotation");
  FlushLog(absl::Seconds(10));
  REQUIRE(rename(path.c_str(), (path + ".old").c_str()) == 0);
  RequestLogReopen();
  Log(LogLevel::kInfo, "after the rotation");
  FlushLog(absl::Seconds(10));
  CHECK(ReadAll(path + ".old").find("before the rotation") !=
        std::string::npos);
  CHECK(ReadAll(path + ".old").find("after the rotation") == std::string::npos);
  CHECK(ReadAll(path).find("after the rotation") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE(
    "a full disk loses lines, never the caller; the loss is reported once "
    "space is back") {
  LogCounters before = GetLogCounters();
  REQUIRE(SetLogFile("/dev/full", 0).ok());
  for (int i = 0; i < 50; ++i) Log(LogLevel::kWarn, "into a full disk");
  FlushLog(absl::Seconds(10));
  CHECK(GetLogCounters().lost - before.lost == 50);

  std::string dir = TempDir();
  std::string path = dir + "/after.log";
  REQUIRE(SetLogFile(path, 0).ok());
  Log(LogLevel::kInfo, "space is back");
  FlushLog(absl::Seconds(10));
  std::string text = ReadAll(path);
  CHECK(text.find("50 log lines lost (No space left on device)") !=
        std::string::npos);
  CHECK(text.find("space is back") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE(
    "a sink that blocks (a pipe nobody reads) drops lines instead of stalling "
    "Log()") {
  std::string dir = TempDir();
  std::string fifo = dir + "/fifo";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  // A reader must exist for the writer's open to succeed; it reads nothing
  // until the end.
  int reader = open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  REQUIRE(reader >= 0);
  REQUIRE(SetLogFile(fifo, 0).ok());
  LogCounters before = GetLogCounters();
  const std::string text(1000, 'x');
  // 4 MiB of lines: the pipe holds 64 KiB and the queue 1 MiB; were Log()
  // to block, this loop would never finish.
  for (int i = 0; i < 4096; ++i) Log(LogLevel::kInfo, text);
  uint64_t dropped = GetLogCounters().dropped - before.dropped;
  CHECK(dropped > 2000);
  CHECK(dropped < 4096);

  // Now drain the pipe: the writer catches up and says what was dropped.
  std::string got;
  char buf[65536];
  fcntl(reader, F_SETFL, 0);
  std::string after_path = dir + "/after.log";
  for (int rounds = 0; rounds < 10000; ++rounds) {
    ssize_t n = read(reader, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
    if (got.size() > (size_t{1} << 20)) {
      // Everything queued is out; a new line now carries the drop note.
      Log(LogLevel::kInfo, "caught up");
      FlushLog(absl::Milliseconds(1));
    }
    if (got.find("caught up") != std::string::npos) break;
  }
  CHECK(got.find("log lines dropped (the log sink did not keep up)") !=
        std::string::npos);
  REQUIRE(SetLogFile(after_path, 0).ok());  // close the FIFO's writer side
  close(reader);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mpio
