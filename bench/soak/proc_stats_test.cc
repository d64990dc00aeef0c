#include "bench/soak/proc_stats.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

namespace mpio::bench {
namespace {

TEST_CASE(
    "open descriptors are counted, and closing them brings the count back") {
  auto before = ReadProcStats();
  REQUIRE(before.ok());
  std::vector<int> fds;
  for (int i = 0; i < 5; i++)
    fds.push_back(open("/dev/null", O_RDONLY | O_CLOEXEC));
  auto during = ReadProcStats();
  REQUIRE(during.ok());
  CHECK(during->fds == before->fds + 5);
  for (int fd : fds) close(fd);
  auto after = ReadProcStats();
  REQUIRE(after.ok());
  CHECK(after->fds == before->fds);
}

TEST_CASE("a running thread is counted, and a joined one is not") {
  auto before = ReadProcStats();
  REQUIRE(before.ok());
  std::atomic<bool> stop{false}, started{false};
  std::thread t([&] {
    started = true;
    while (!stop) std::this_thread::yield();
  });
  while (!started) std::this_thread::yield();
  auto during = ReadProcStats();
  stop = true;
  t.join();
  REQUIRE(during.ok());
  CHECK(during->threads == before->threads + 1);
  auto after = ReadProcStats();
  REQUIRE(after.ok());
  CHECK(after->threads == before->threads);
}

TEST_CASE("touched memory shows in the resident size") {
  auto before = ReadProcStats();
  REQUIRE(before.ok());
  CHECK(before->rss_kib > 0);
  const size_t n = 64 << 20;
  std::vector<char> big(n);
  for (size_t i = 0; i < n; i += 4096) big[i] = static_cast<char>(i);
  auto during = ReadProcStats();
  REQUIRE(during.ok());
  CHECK(during->rss_kib >= before->rss_kib + 60 * 1024);
  CHECK(big[4096] == static_cast<char>(4096));
}

}  // namespace
}  // namespace mpio::bench
