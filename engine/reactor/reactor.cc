#include "engine/reactor/reactor.h"

#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/base/sync.h"

namespace mpio {
namespace {

// user_data layout: tag (8 bits) | generation (24 bits) | id (32 bits).
constexpr uint64_t kTagWatch = 1;
constexpr uint64_t kTagEventFd = 2;
constexpr uint64_t kTagIgnore = 3;  // poll removals: their CQE carries nothing

uint64_t Encode(uint64_t tag, uint64_t generation, uint64_t id) {
  return (tag << 56) | ((generation & 0xffffff) << 32) | (id & 0xffffffff);
}
uint64_t TagOf(uint64_t d) { return d >> 56; }
uint64_t GenerationOf(uint64_t d) { return (d >> 32) & 0xffffff; }
uint64_t IdOf(uint64_t d) { return d & 0xffffffff; }

constexpr unsigned kRingEntries = 256;
// The loop wakes at least this often even when idle, so that a missed
// wakeup can never stall work for long.
constexpr uint64_t kMaxSleepNs = 1'000'000'000;

}  // namespace

class Reactor::FunctionMessage final : public Reactor::Message {
 public:
  explicit FunctionMessage(absl::AnyInvocable<void()> fn)
      : fn_(std::move(fn)) {}
  void Run() override {
    fn_();
    delete this;
  }

 private:
  absl::AnyInvocable<void()> fn_;
};

absl::StatusOr<std::unique_ptr<Reactor>> Reactor::Create(std::string name) {
  auto ring = std::make_unique<io_uring>();
  // Made on a thread that ends at once, not on the caller's. The kernel
  // keeps a list of the tasks that used a ring and, when the ring is
  // closed, queues exit work to each of them with TWA_SIGNAL; in a thread
  // still alive that breaks the next blocking call with a timeout (recv
  // with SO_RCVTIMEO, epoll_wait) with EINTR although no signal was sent.
  // The caller is `mpio`'s main thread or a test's: it must not see that.
  // The reactor thread uses the ring too, but is joined before the close.
  int rc = 0;
  std::thread([&] {
    rc = io_uring_queue_init(kRingEntries, ring.get(), 0);
  }).join();
  if (rc < 0) {
    return absl::UnavailableError(absl::StrCat(
        "reactor ", name, ": io_uring_queue_init failed: ", strerror(-rc),
        " (needs Linux >= 5.6 and enough RLIMIT_MEMLOCK)"));
  }
  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) {
    int err = errno;
    io_uring_queue_exit(ring.get());
    return absl::UnavailableError(
        absl::StrCat("reactor ", name, ": eventfd failed: ", strerror(err)));
  }
  return std::unique_ptr<Reactor>(
      new Reactor(std::move(name), std::move(ring), efd));
}

Reactor::Reactor(std::string name, std::unique_ptr<io_uring> ring, int event_fd)
    : name_(std::move(name)), ring_(std::move(ring)), event_fd_(event_fd) {}

Reactor::~Reactor() {
  Stop();
  Join();
  // Run what is still queued so posters waiting on it are released.
  DrainMessages();
  io_uring_queue_exit(ring_.get());
  close(event_fd_);
}

void Reactor::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Reactor::Join() {
  if (thread_.joinable() && std::this_thread::get_id() != thread_.get_id()) {
    thread_.join();
  }
}

void Reactor::Stop() {
  stop_.store(true);
  uint64_t one = 1;
  ssize_t n = write(event_fd_, &one, sizeof(one));
  (void)n;  // EAGAIN means a wakeup is already pending: fine.
}

bool Reactor::InReactorThread() const {
  return thread_id_.load() == std::this_thread::get_id();
}

uint64_t Reactor::NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull +
         static_cast<uint64_t>(ts.tv_nsec);
}

void Reactor::Post(Message* message) {
  Message* head = inbox_.load(std::memory_order_relaxed);
  do {
    message->next_.store(head, std::memory_order_relaxed);
  } while (!inbox_.compare_exchange_weak(
      head, message, std::memory_order_release, std::memory_order_relaxed));
  // Only the poster that makes the inbox non-empty needs to wake the loop:
  // the loop empties the inbox with one exchange and looks again before
  // sleeping.
  if (head == nullptr) {
    uint64_t one = 1;
    ssize_t n = write(event_fd_, &one, sizeof(one));
    (void)n;
  }
}

void Reactor::Post(absl::AnyInvocable<void()> fn) {
  Post(new FunctionMessage(std::move(fn)));
}

void Reactor::RunSync(absl::AnyInvocable<void()> fn) {
  if (InReactorThread()) {
    fn();
    return;
  }
  Notification done;
  Post([&] {
    fn();
    done.Notify();
  });
  done.WaitForNotification();
}

void Reactor::DrainMessages() {
  Message* list = inbox_.exchange(nullptr, std::memory_order_acquire);
  // The stack is newest first; reverse it so messages run in posting order.
  Message* ordered = nullptr;
  while (list != nullptr) {
    Message* next = list->next_.load(std::memory_order_relaxed);
    list->next_.store(ordered, std::memory_order_relaxed);
    ordered = list;
    list = next;
  }
  while (ordered != nullptr) {
    Message* next = ordered->next_.load(std::memory_order_relaxed);
    ordered->Run();  // may free `ordered`
    ordered = next;
  }
}

Reactor::WatchId Reactor::Watch(int fd, uint32_t events, FdCallback cb) {
  WatchId id = next_id_++;
  auto state = std::make_unique<WatchState>();
  state->fd = fd;
  state->events = events;
  state->cb = std::move(cb);
  watches_.emplace(id, std::move(state));
  dirty_watches_.push_back(id);
  return id;
}

void Reactor::Modify(WatchId id, uint32_t events) {
  auto it = watches_.find(id);
  if (it == watches_.end() || it->second->events == events) return;
  it->second->events = events;
  dirty_watches_.push_back(id);
}

void Reactor::Unwatch(WatchId id) {
  auto it = watches_.find(id);
  if (it == watches_.end()) return;
  WatchState* w = it->second.get();
  if (w->armed_events != 0) {
    io_uring_sqe* sqe = GetSqe();
    io_uring_prep_poll_remove(sqe, Encode(kTagWatch, w->generation, id));
    io_uring_sqe_set_data64(sqe, Encode(kTagIgnore, 0, 0));
  }
  // The state may be running its own callback right now: free it at the end
  // of this loop turn, not here.
  graveyard_.push_back(std::move(it->second));
  watches_.erase(it);
}

io_uring_sqe* Reactor::GetSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
  while (sqe == nullptr) {
    // The submission queue is full: hand what we have to the kernel.
    io_uring_submit(ring_.get());
    sqe = io_uring_get_sqe(ring_.get());
  }
  return sqe;
}

void Reactor::ArmWatches() {
  for (WatchId id : dirty_watches_) {
    auto it = watches_.find(id);
    if (it == watches_.end()) continue;
    WatchState* w = it->second.get();
    if (w->armed_events == w->events) continue;
    if (w->armed_events != 0) {
      io_uring_sqe* sqe = GetSqe();
      io_uring_prep_poll_remove(sqe, Encode(kTagWatch, w->generation, id));
      io_uring_sqe_set_data64(sqe, Encode(kTagIgnore, 0, 0));
      w->armed_events = 0;
    }
    w->generation = (w->generation + 1) & 0xffffff;
    if (w->events != 0) {
      io_uring_sqe* sqe = GetSqe();
      io_uring_prep_poll_add(sqe, w->fd, w->events);
      io_uring_sqe_set_data64(sqe, Encode(kTagWatch, w->generation, id));
      w->armed_events = w->events;
    }
  }
  dirty_watches_.clear();
  if (!event_armed_) {
    io_uring_sqe* sqe = GetSqe();
    io_uring_prep_poll_add(sqe, event_fd_, POLLIN);
    io_uring_sqe_set_data64(sqe, Encode(kTagEventFd, 0, 0));
    event_armed_ = true;
  }
}

Reactor::TimerId Reactor::After(absl::Duration delay,
                                std::function<void()> cb) {
  TimerId id = next_id_++;
  uint64_t due = NowNs() + static_cast<uint64_t>(absl::ToInt64Nanoseconds(
                               std::max(delay, absl::ZeroDuration())));
  timers_.emplace(std::make_pair(due, id), Timer{due, 0, std::move(cb)});
  timer_due_[id] = due;
  return id;
}

Reactor::TimerId Reactor::Every(absl::Duration period,
                                std::function<void()> cb) {
  TimerId id = After(period, std::move(cb));
  uint64_t p = static_cast<uint64_t>(absl::ToInt64Nanoseconds(period));
  timers_[std::make_pair(timer_due_[id], id)].period_ns = p == 0 ? 1 : p;
  return id;
}

void Reactor::Cancel(TimerId id) {
  auto it = timer_due_.find(id);
  if (it == timer_due_.end()) return;
  timers_.erase(std::make_pair(it->second, id));
  timer_due_.erase(it);
}

void Reactor::RunDueTimers() {
  const uint64_t now = NowNs();
  while (!timers_.empty() && timers_.begin()->first.first <= now) {
    auto node = timers_.extract(timers_.begin());
    TimerId id = node.key().second;
    Timer& t = node.mapped();
    std::function<void()> cb;
    if (t.period_ns != 0) {
      // Re-insert before running, so Cancel() from inside the callback works
      // and a slow callback does not make the timer fire in a burst.
      cb = t.cb;
      uint64_t due = now + t.period_ns;
      node.key() = std::make_pair(due, id);
      t.due_ns = due;
      timer_due_[id] = due;
      timers_.insert(std::move(node));
    } else {
      cb = std::move(t.cb);
      timer_due_.erase(id);
    }
    cb();
  }
}

uint64_t Reactor::NextTimeoutNs() const {
  if (inbox_.load(std::memory_order_acquire) != nullptr) return 0;
  if (timers_.empty()) return kMaxSleepNs;
  uint64_t now = NowNs();
  uint64_t due = timers_.begin()->first.first;
  return due <= now ? 0 : std::min(due - now, kMaxSleepNs);
}

void Reactor::Run() {
  thread_id_.store(std::this_thread::get_id());
  // libiscsi 1.19 sends Data-Out with writev(), which raises SIGPIPE on a
  // connection the target reset; the default action kills the process.
  // Blocked on this thread, the signal stays pending and writev returns
  // EPIPE, which libiscsi handles as a dead connection. Per thread, so an
  // embedding program keeps its own SIGPIPE handling elsewhere.
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, nullptr);
  std::vector<io_uring_cqe> batch;
  batch.reserve(kRingEntries);
  while (!stop_.load()) {
    DrainMessages();
    RunDueTimers();
    ArmWatches();
    graveyard_.clear();

    uint64_t timeout = NextTimeoutNs();
    __kernel_timespec ts{};
    ts.tv_sec = static_cast<int64_t>(timeout / 1'000'000'000);
    ts.tv_nsec = static_cast<long long>(timeout % 1'000'000'000);
    io_uring_cqe* cqe = nullptr;
    int rc =
        io_uring_submit_and_wait_timeout(ring_.get(), &cqe, 1, &ts, nullptr);
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY) {
      // Nothing sensible to do but retry; the timeout bounds the spin.
      continue;
    }
    // Copy the completions out first: callbacks submit new work.
    batch.clear();
    unsigned head;
    io_uring_for_each_cqe(ring_.get(), head, cqe) { batch.push_back(*cqe); }
    io_uring_cq_advance(ring_.get(), static_cast<unsigned>(batch.size()));

    for (const io_uring_cqe& c : batch) {
      uint64_t data = c.user_data;
      switch (TagOf(data)) {
        case kTagEventFd: {
          uint64_t value;
          ssize_t n = read(event_fd_, &value, sizeof(value));
          (void)n;
          event_armed_ = false;
          break;
        }
        case kTagWatch: {
          auto it = watches_.find(IdOf(data));
          if (it == watches_.end()) break;
          WatchState* w = it->second.get();
          if (w->generation != GenerationOf(data) || w->armed_events == 0)
            break;
          w->armed_events = 0;
          dirty_watches_.push_back(it->first);
          if (c.res < 0) {
            // -ECANCELED after a removal we raced with; anything else means
            // the fd is unusable: report it as an error event.
            if (c.res == -ECANCELED) break;
            w->cb(POLLERR);
          } else {
            w->cb(static_cast<uint32_t>(c.res));
          }
          break;
        }
        default:
          break;
      }
    }
  }
  DrainMessages();
  thread_id_.store(std::thread::id());
}

}  // namespace mpio
