#include "engine/base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>

#include "absl/strings/str_cat.h"

namespace mpio {
namespace {

// Enough for minutes of chatter from a flapping 8-path setup; beyond it the
// sink is not keeping up and lines are dropped rather than memory grown.
constexpr size_t kQueueLimitBytes = size_t{1} << 20;
constexpr size_t kMaxLineBytes = size_t{16} << 10;

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

std::string FormatLine(LogLevel level, std::string_view text) {
  static const char* kNames[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm t;
  gmtime_r(&tv.tv_sec, &t);
  char stamp[48];
  size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &t);
  snprintf(stamp + n, sizeof stamp - n, ".%03ldZ ",
           static_cast<long>(tv.tv_usec / 1000));
  std::string line = absl::StrCat(stamp, kNames[static_cast<int>(level)], " ");
  if (text.size() > kMaxLineBytes) {
    line.append(text.data(), kMaxLineBytes);
    line += " [line truncated]";
  } else {
    line.append(text.data(), text.size());
  }
  line += '\n';
  return line;
}

// Where lines go. Only the writer thread writes; SetLogFile/ReopenLogFile
// swap it under Logger::sink_mu.
struct Sink {
  int fd = STDERR_FILENO;
  std::string path;  // empty: stderr
  uint64_t max_bytes = 0;
  uint64_t size = 0;  // of the current file

  bool is_file() const { return !path.empty(); }

  absl::Status Open() {
    int f = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (f < 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot open log file ", path, ": ", strerror(errno)));
    }
    struct stat st;
    size = fstat(f, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
    if (fd >= 0 && fd != STDERR_FILENO) close(fd);
    fd = f;
    return absl::OkStatus();
  }

  void RotateIfFull(size_t next) {
    if (max_bytes == 0 || size + next <= max_bytes || size == 0) return;
    std::string old = path + ".1";
    rename(path.c_str(), old.c_str());
    (void)Open();  // on failure the old fd keeps the (renamed) file
  }

  // 0, or the errno that stopped the write.
  int Write(const std::string& line) {
    if (is_file()) RotateIfFull(line.size());
    size_t done = 0;
    while (done < line.size()) {
      ssize_t n = write(fd, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return n < 0 ? errno : EIO;
      done += static_cast<size_t>(n);
      size += static_cast<uint64_t>(n);
    }
    return 0;
  }
};

struct Logger {
  std::mutex mu;
  std::condition_variable wake;  // lines queued
  std::condition_variable idle;  // queue empty and nothing being written
  std::deque<std::string> queue;
  size_t queued_bytes = 0;
  bool started = false;
  bool synchronous = false;  // no writer thread could be started
  bool writing = false;
  LogCounters totals;
  LogCounters unreported;
  int last_errno = 0;

  std::atomic<bool> reopen_requested{false};
  std::mutex sink_mu;  // the writer holds it while writing: may block long
  Sink sink;
};

// Never destroyed: the writer thread may still run while exit() tears down
// statics.
std::atomic<Logger*> g_logger{nullptr};

Logger* Instance() {
  Logger* l = g_logger.load(std::memory_order_acquire);
  if (l != nullptr) return l;
  auto* fresh = new Logger;
  if (g_logger.compare_exchange_strong(l, fresh)) return fresh;
  delete fresh;
  return l;
}

// A forked child (the plugin loader's trial run) has no writer thread, and
// the parent's mutexes may have been held at fork time: the child gets a
// fresh logger that writes inline to the same sink.
void ResetInChild() {
  Logger* old = g_logger.load(std::memory_order_relaxed);
  auto* fresh = new Logger;
  fresh->started = true;
  fresh->synchronous = true;
  if (old != nullptr) {
    fresh->sink.fd = old->sink.fd;
    fresh->sink.path = old->sink.path;
    fresh->sink.max_bytes = old->sink.max_bytes;
    fresh->sink.size = old->sink.size;
  }
  g_logger.store(fresh, std::memory_order_release);
}

// Writes one batch outside Logger::mu; returns how many lines were lost and
// the last errno. A note about earlier losses goes first and is dropped from
// the unreported counts only when it was written.
void WriteBatch(Logger* l, const std::deque<std::string>& batch,
                const LogCounters& to_report, int report_errno, bool* reported,
                uint64_t* lost_now, int* errno_now) {
  std::lock_guard<std::mutex> sink_lock(l->sink_mu);
  *reported = false;
  if (l->reopen_requested.exchange(false) && l->sink.is_file()) {
    if (absl::Status s = l->sink.Open(); !s.ok()) {
      (void)l->sink.Write(FormatLine(
          LogLevel::kError, absl::StrCat(s.message(), "; still writing here")));
    }
  }
  if (to_report.dropped != 0 || to_report.lost != 0) {
    std::string what;
    if (to_report.dropped != 0) {
      absl::StrAppend(&what, to_report.dropped,
                      " log lines dropped (the log sink did not keep up)");
    }
    if (to_report.lost != 0) {
      absl::StrAppend(&what, what.empty() ? "" : "; ", to_report.lost,
                      " log lines lost (", strerror(report_errno), ")");
    }
    *reported = l->sink.Write(FormatLine(LogLevel::kWarn, what)) == 0;
  }
  for (const std::string& line : batch) {
    int err = l->sink.Write(line);
    if (err != 0) {
      ++*lost_now;
      *errno_now = err;
    }
  }
}

void WriterLoop(Logger* l) {
  std::unique_lock<std::mutex> lock(l->mu);
  for (;;) {
    l->wake.wait(lock, [l] { return !l->queue.empty(); });
    std::deque<std::string> batch;
    batch.swap(l->queue);
    l->queued_bytes = 0;
    LogCounters to_report = l->unreported;
    int report_errno = l->last_errno;
    l->writing = true;
    lock.unlock();

    bool reported = false;
    uint64_t lost_now = 0;
    int errno_now = 0;
    WriteBatch(l, batch, to_report, report_errno, &reported, &lost_now,
               &errno_now);

    lock.lock();
    if (reported) {
      l->unreported.dropped -= to_report.dropped;
      l->unreported.lost -= to_report.lost;
    }
    if (lost_now != 0) {
      l->totals.lost += lost_now;
      l->unreported.lost += lost_now;
      l->last_errno = errno_now;
    }
    l->writing = false;
    if (l->queue.empty()) l->idle.notify_all();
  }
}

void FlushAtExit() { FlushLog(absl::Seconds(2)); }

// Under Logger::mu.
void StartWriter(Logger* l) {
  l->started = true;
  try {
    std::thread(WriterLoop, l).detach();
    std::atexit(FlushAtExit);
    pthread_atfork(nullptr, nullptr, ResetInChild);
  } catch (const std::system_error&) {
    l->synchronous = true;  // out of threads: write inline, as before
  }
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

bool ParseLogLevel(std::string_view t, LogLevel* level) {
  if (t == "error")
    *level = LogLevel::kError;
  else if (t == "warn")
    *level = LogLevel::kWarn;
  else if (t == "info")
    *level = LogLevel::kInfo;
  else if (t == "debug")
    *level = LogLevel::kDebug;
  else
    return false;
  return true;
}

void Log(LogLevel level, std::string_view text) {
  if (static_cast<int>(level) > g_level.load()) return;
  std::string line = FormatLine(level, text);
  Logger* l = Instance();
  std::unique_lock<std::mutex> lock(l->mu);
  if (!l->started) StartWriter(l);
  if (l->synchronous) {
    lock.unlock();
    std::lock_guard<std::mutex> sink_lock(l->sink_mu);
    (void)l->sink.Write(line);
    return;
  }
  if (l->queued_bytes + line.size() > kQueueLimitBytes) {
    ++l->totals.dropped;
    ++l->unreported.dropped;
    return;
  }
  l->queued_bytes += line.size();
  l->queue.push_back(std::move(line));
  l->wake.notify_one();
}

absl::Status SetLogFile(const std::string& path, uint64_t max_bytes) {
  Logger* l = Instance();
  std::lock_guard<std::mutex> sink_lock(l->sink_mu);
  Sink fresh;
  fresh.fd = -1;
  fresh.path = path;
  fresh.max_bytes = max_bytes;
  absl::Status s = fresh.Open();
  if (!s.ok()) return s;
  if (l->sink.is_file()) close(l->sink.fd);
  l->sink = fresh;
  return absl::OkStatus();
}

void RequestLogReopen() { Instance()->reopen_requested = true; }

void FlushLog(absl::Duration timeout) {
  Logger* l = Instance();
  std::unique_lock<std::mutex> lock(l->mu);
  if (!l->started || l->synchronous) return;
  l->idle.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                   [l] { return l->queue.empty() && !l->writing; });
}

LogCounters GetLogCounters() {
  Logger* l = Instance();
  std::lock_guard<std::mutex> lock(l->mu);
  return l->totals;
}

}  // namespace mpio
