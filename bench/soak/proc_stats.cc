#include "bench/soak/proc_stats.h"

#include <dirent.h>

#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace mpio::bench {
namespace {

// Entries of a /proc directory, without "." and "..". With `skip_own_fd`
// the listing's own descriptor is left out (for /proc/self/fd).
absl::StatusOr<int> CountEntries(const char* dir, bool skip_own_fd) {
  DIR* d = opendir(dir);
  if (d == nullptr)
    return absl::UnavailableError(
        absl::StrCat("cannot list ", dir, ": ", strerror(errno)));
  const int own = skip_own_fd ? dirfd(d) : -1;
  int n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    if (own >= 0 && atoi(e->d_name) == own) continue;
    n++;
  }
  closedir(d);
  return n;
}

}  // namespace

absl::StatusOr<ProcStats> ReadProcStats() {
  ProcStats s;
  FILE* f = fopen("/proc/self/status", "re");
  if (f == nullptr)
    return absl::UnavailableError(
        absl::StrCat("cannot read /proc/self/status: ", strerror(errno)));
  char line[256];
  bool have_rss = false;
  while (fgets(line, sizeof line, f) != nullptr) {
    unsigned long long kib = 0;
    if (sscanf(line, "VmRSS: %llu kB", &kib) == 1) {
      s.rss_kib = kib;
      have_rss = true;
    }
  }
  fclose(f);
  if (!have_rss)
    return absl::UnavailableError("no VmRSS line in /proc/self/status");
  auto fds = CountEntries("/proc/self/fd", /*skip_own_fd=*/true);
  if (!fds.ok()) return fds.status();
  auto tasks = CountEntries("/proc/self/task", /*skip_own_fd=*/false);
  if (!tasks.ok()) return tasks.status();
  s.fds = *fds;
  s.threads = *tasks;
  return s;
}

}  // namespace mpio::bench
