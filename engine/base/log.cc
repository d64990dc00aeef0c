#include "engine/base/log.h"

#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

namespace mpio {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_mu;
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
  static const char* kNames[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm t;
  gmtime_r(&tv.tv_sec, &t);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &t);
  char ms[24];
  snprintf(ms, sizeof ms, "%03ld", static_cast<long>(tv.tv_usec / 1000));
  std::string line = std::string(stamp) + "." + ms + "Z " +
                     kNames[static_cast<int>(level)] + " ";
  line.append(text.data(), text.size());
  line += '\n';
  std::lock_guard<std::mutex> lock(g_mu);
  ssize_t n = write(STDERR_FILENO, line.data(), line.size());
  (void)n;
}

}  // namespace mpio
