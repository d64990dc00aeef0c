// Reactor: one event loop on one thread, built on io_uring (liburing).
//
// It multiplexes socket readiness (one-shot POLL_ADD re-armed while a watch
// wants events), timers, and messages posted from other threads (an MPSC queue
// plus an eventfd wakeup). Every object that lives "on" a reactor (a device and
// its paths, an NBD server) is touched only from that reactor's thread, so
// none of them need locks.
//
// Threads: Post() and Stop() may be called from any thread. Everything else
// (Watch/Modify/Unwatch, timers) only from the reactor thread, i.e. from inside
// a callback, or before Run() starts.
// Failure: Create() fails when io_uring or eventfd cannot be set up (old
// kernel, RLIMIT_MEMLOCK); the message says which.
#ifndef MPIO_ENGINE_REACTOR_REACTOR_H_
#define MPIO_ENGINE_REACTOR_REACTOR_H_

#include <poll.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

struct io_uring;
struct io_uring_sqe;

namespace mpio {

class Reactor {
 public:
  // A message posted across threads without allocation: embed it in the
  // object it concerns. The reactor calls Run() once on its thread; the
  // poster keeps the object alive until then.
  class Message {
   public:
    virtual void Run() = 0;

   protected:
    ~Message() = default;

   private:
    friend class Reactor;
    std::atomic<Message*> next_{nullptr};
  };

  using WatchId = uint64_t;
  using TimerId = uint64_t;
  // revents as poll(2) reports them (POLLIN, POLLOUT, POLLERR, POLLHUP).
  using FdCallback = std::function<void(uint32_t revents)>;

  static absl::StatusOr<std::unique_ptr<Reactor>> Create(std::string name);
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // Runs the loop on the calling thread until Stop(). Returns after the
  // messages posted before Stop() have run.
  void Run();
  // Starts Run() on a new thread (joined by the destructor or Join()).
  void Start();
  void Join();
  // Any thread. Run() returns at its next turn.
  void Stop();
  bool InReactorThread() const;
  const std::string& name() const { return name_; }

  // Any thread. No allocation.
  void Post(Message* message);
  // Any thread. Allocates: for control-plane work, not per I/O.
  void Post(absl::AnyInvocable<void()> fn);
  // Runs fn on the reactor thread and waits for it (any thread but the
  // reactor's own, where it runs fn at once).
  void RunSync(absl::AnyInvocable<void()> fn);

  // Calls `cb` whenever fd has any of `events` (POLLIN/POLLOUT). Interest
  // persists until Unwatch(); events == 0 pauses the watch.
  WatchId Watch(int fd, uint32_t events, FdCallback cb);
  void Modify(WatchId id, uint32_t events);
  // Safe from inside the watch's own callback.
  void Unwatch(WatchId id);

  TimerId After(absl::Duration delay, std::function<void()> cb);
  TimerId Every(absl::Duration period, std::function<void()> cb);
  // Safe from inside the timer's own callback; unknown ids are ignored.
  void Cancel(TimerId id);

  // Monotonic clock, nanoseconds (CLOCK_MONOTONIC).
  static uint64_t NowNs();

 private:
  struct WatchState {
    int fd;
    uint32_t events;
    uint32_t armed_events = 0;  // mask of the POLL_ADD in flight, 0 if none
    uint64_t generation = 0;    // ties CQEs to the current arming
    FdCallback cb;
  };
  struct Timer {
    uint64_t due_ns;
    uint64_t period_ns;  // 0: one-shot
    std::function<void()> cb;
  };
  class FunctionMessage;

  Reactor(std::string name, std::unique_ptr<io_uring> ring, int event_fd);
  void ArmWatches();
  void RunDueTimers();
  void DrainMessages();
  void RearmEventFd();
  io_uring_sqe* GetSqe();
  uint64_t NextTimeoutNs() const;

  std::string name_;
  std::unique_ptr<io_uring> ring_;
  int event_fd_;
  bool event_armed_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<std::thread::id> thread_id_{};
  std::thread thread_;

  // MPSC intrusive stack of messages (reversed on drain to keep order).
  std::atomic<Message*> inbox_{nullptr};

  uint64_t next_id_ = 1;
  std::unordered_map<WatchId, std::unique_ptr<WatchState>> watches_;
  std::vector<std::unique_ptr<WatchState>> graveyard_;  // freed each turn
  std::vector<WatchId> dirty_watches_;
  std::map<std::pair<uint64_t, TimerId>, Timer> timers_;  // by due time
  std::unordered_map<TimerId, uint64_t> timer_due_;
};

}  // namespace mpio

#endif  // MPIO_ENGINE_REACTOR_REACTOR_H_
