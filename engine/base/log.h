// Logging: one line per event on stderr, "2026-12-01T18:40:00.123Z INFO  text".
// Level set once at start (and on SIGHUP); Log() is thread-safe and takes a
// lock only around the write. A failing stderr (full disk, closed pipe) is
// ignored: logging never stops the engine.
#ifndef MPIO_ENGINE_BASE_LOG_H_
#define MPIO_ENGINE_BASE_LOG_H_

#include <string_view>

namespace mpio {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// "error" | "warn" | "info" | "debug"; false for anything else.
bool ParseLogLevel(std::string_view text, LogLevel* level);
void Log(LogLevel level, std::string_view text);

}  // namespace mpio

#endif  // MPIO_ENGINE_BASE_LOG_H_
