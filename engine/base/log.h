// Logging: one line per event, "2026-12-01T18:40:00.123Z INFO  text", on
// stderr or in a size-capped file.
//
// Log() never blocks on the sink and never fails: it formats the line and
// queues it (bounded, 1 MiB) for a writer thread. The engine calls Log() on
// its reactor thread, so a stderr pipe nobody reads, a terminal on hold, or
// a full disk must not stall I/O. When the queue is full, lines are dropped;
// when the sink refuses a write (ENOSPC, EIO, EPIPE), the line is lost. Both
// are counted, and the first line written once the sink works again says how
// many were dropped or lost and why.
#ifndef MPIO_ENGINE_BASE_LOG_H_
#define MPIO_ENGINE_BASE_LOG_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace mpio {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// "error" | "warn" | "info" | "debug"; false for anything else.
bool ParseLogLevel(std::string_view text, LogLevel* level);
void Log(LogLevel level, std::string_view text);

// Writes to `path` (appending) instead of stderr. When the file grows past
// `max_bytes` it is renamed to `path`.1 (replacing an older one) and a new
// one is started, so the log never takes more than about 2 x max_bytes.
absl::Status SetLogFile(const std::string& path, uint64_t max_bytes);
// Asks the writer thread to reopen the log file before its next write
// (after an outside rotation; SIGHUP does this). Never blocks: the caller is
// the signal-handling thread, and the writer may be stuck on the sink. A
// failure to reopen is logged to the old file, which stays in use. A no-op
// for stderr.
void RequestLogReopen();

// Waits until every queued line has been handed to the sink, or `timeout`.
// Called at exit, so the last lines of a short-lived command are not lost.
void FlushLog(absl::Duration timeout);

struct LogCounters {
  uint64_t dropped = 0;  // queue full: the sink did not keep up
  uint64_t lost = 0;     // the sink refused the write
};
LogCounters GetLogCounters();

}  // namespace mpio

#endif  // MPIO_ENGINE_BASE_LOG_H_
