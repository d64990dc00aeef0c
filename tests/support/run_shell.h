// Runs a shell command line for a test and collects what it prints: one
// implementation for the tests that drive real clients (curl, promtool,
// mkfs, fio, lab.sh).
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace mpio::testing {

struct ShellResult {
  int status = -1;     // exit status; -1 when it could not run or was killed
  std::string output;  // stdout (add 2>&1 to the command for stderr)
};

inline ShellResult RunShell(const std::string& command) {
  ShellResult r;
  FILE* f = popen(command.c_str(), "r");
  if (f == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) r.output.append(buf, n);
  const int st = pclose(f);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace mpio::testing
