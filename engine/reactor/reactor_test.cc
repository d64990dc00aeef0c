#include "engine/reactor/reactor.h"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>

#include "engine/base/sync.h"

namespace mpio {
namespace {

std::unique_ptr<Reactor> MakeReactor() {
  auto r = Reactor::Create("test");
  REQUIRE(r.ok());
  return std::move(r).value();
}

TEST_CASE("messages posted from many threads all run, in order per thread") {
  auto reactor = MakeReactor();
  reactor->Start();
  constexpr int kThreads = 4, kPerThread = 2000;
  std::vector<std::vector<int>> seen(kThreads);
  std::atomic<int> total{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; i++) {
        reactor->Post([&, t, i] {
          CHECK(reactor->InReactorThread());
          seen[t].push_back(i);
          total++;
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  reactor->RunSync([] {});
  CHECK(total == kThreads * kPerThread);
  for (int t = 0; t < kThreads; t++) {
    REQUIRE(seen[t].size() == kPerThread);
    for (int i = 0; i < kPerThread; i++) CHECK(seen[t][i] == i);
  }
  reactor->Stop();
  reactor->Join();
}

TEST_CASE("timers fire in order, periodic timers repeat, cancel stops them") {
  auto reactor = MakeReactor();
  std::vector<int> order;
  std::atomic<int> ticks{0};
  Notification done;
  Reactor::TimerId periodic = 0;
  reactor->Post([&] {
    reactor->After(absl::Milliseconds(30), [&] { order.push_back(3); });
    reactor->After(absl::Milliseconds(10), [&] { order.push_back(1); });
    reactor->After(absl::Milliseconds(20), [&] { order.push_back(2); });
    auto cancelled =
        reactor->After(absl::Milliseconds(15), [&] { order.push_back(99); });
    reactor->Cancel(cancelled);
    periodic = reactor->Every(absl::Milliseconds(5), [&] {
      if (++ticks == 5) reactor->Cancel(periodic);
    });
    reactor->After(absl::Milliseconds(100), [&] { done.Notify(); });
  });
  reactor->Start();
  done.WaitForNotification();
  reactor->RunSync([] {});
  CHECK(order == std::vector<int>{1, 2, 3});
  CHECK(ticks == 5);
}

TEST_CASE(
    "fd watches report readiness, can be paused, and unwatch inside callback") {
  auto reactor = MakeReactor();
  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
  std::atomic<int> reads{0};
  Notification got_three;
  Reactor::WatchId id = 0;
  reactor->Post([&] {
    id = reactor->Watch(sv[0], POLLIN, [&](uint32_t revents) {
      CHECK((revents & POLLIN) != 0);
      char buf[16];
      while (read(sv[0], buf, sizeof buf) > 0) {
      }
      if (++reads == 3) {
        reactor->Unwatch(id);
        got_three.Notify();
      }
    });
  });
  reactor->Start();
  for (int i = 0; i < 3; i++) {
    REQUIRE(write(sv[1], "x", 1) == 1);
    // Wait until the reactor consumed it before writing again.
    for (int spin = 0; spin < 2000 && reads.load() <= i; spin++) usleep(1000);
  }
  got_three.WaitForNotification();
  // After Unwatch, more data must not call back.
  REQUIRE(write(sv[1], "y", 1) == 1);
  reactor->RunSync([] {});
  usleep(20000);
  reactor->RunSync([] {});
  CHECK(reads == 3);
  reactor->Stop();
  reactor->Join();
  close(sv[0]);
  close(sv[1]);
}

TEST_CASE("a paused watch does not fire until resumed") {
  auto reactor = MakeReactor();
  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
  std::atomic<int> fired{0};
  Reactor::WatchId id = 0;
  reactor->Start();
  reactor->RunSync([&] {
    id = reactor->Watch(sv[0], 0, [&](uint32_t) {
      fired++;
      char b;
      while (read(sv[0], &b, 1) > 0) {
      }
    });
  });
  REQUIRE(write(sv[1], "x", 1) == 1);
  usleep(30000);
  reactor->RunSync([] {});
  CHECK(fired == 0);
  reactor->RunSync([&] { reactor->Modify(id, POLLIN); });
  for (int spin = 0; spin < 2000 && fired.load() == 0; spin++) usleep(1000);
  CHECK(fired == 1);
  reactor->Stop();
  reactor->Join();
  close(sv[0]);
  close(sv[1]);
}

// The kernel sends ring-exit task work to every task that used a ring,
// with TWA_SIGNAL: in the creating thread it breaks the next blocking call
// that has a timeout (recv with SO_RCVTIMEO, epoll_wait) with EINTR,
// although no signal was sent. That thread is `mpio`'s main thread or a
// test's; this failed control_server_test under load before the ring was
// made on a thread of its own.
TEST_CASE("closing a reactor does not interrupt the thread that created it") {
  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  timeval tv{0, 20'000};  // 20 ms per wait
  REQUIRE(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
  int interrupted = 0;
  for (int round = 0; round < 10; round++) {
    {
      auto reactor = MakeReactor();
      reactor->Start();
      reactor->RunSync([] {});
    }  // closed here; the kernel's exit work runs right after
    for (int i = 0; i < 5; i++) {
      char b;
      if (recv(sv[0], &b, 1, 0) < 0 && errno == EINTR) interrupted++;
    }
  }
  CHECK(interrupted == 0);
  close(sv[0]);
  close(sv[1]);
}

}  // namespace
}  // namespace mpio
