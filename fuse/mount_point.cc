#include "fuse/mount_point.h"

#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "engine/base/log.h"

extern char** environ;

namespace mpio::fuse {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo (octal).
std::string Unescape(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' &&
        s[i + 1] <= '3' && s[i + 2] >= '0' && s[i + 2] <= '7' &&
        s[i + 3] >= '0' && s[i + 3] <= '7') {
      out.push_back(static_cast<char>((s[i + 1] - '0') * 64 +
                                      (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Runs argv[0] from PATH with stdout/stderr inherited; returns its exit code.
absl::StatusOr<int> RunCommand(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ);
  if (rc != 0) {
    return absl::NotFoundError(
        absl::StrFormat("cannot run %s: %s (install the fuse3 package)",
                        args[0], strerror(rc)));
  }
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) return absl::InternalError("waitpid failed");
  }
  if (!WIFEXITED(wstatus)) return 128 + WTERMSIG(wstatus);
  return WEXITSTATUS(wstatus);
}

}  // namespace

void FuseLog(absl::string_view message) {
  Log(LogLevel::kWarn, std::string_view(absl::StrCat("fuse: ", message)));
}

std::vector<MountInfoEntry> ParseMountInfo(absl::string_view text) {
  std::vector<MountInfoEntry> entries;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    // id parent maj:min root mount-point options [optional...] - type source
    if (f.size() < 7) continue;
    size_t dash = 6;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (dash + 1 >= f.size()) continue;  // no file system type
    MountInfoEntry e;
    std::pair<absl::string_view, absl::string_view> mm =
        absl::StrSplit(f[2], absl::MaxSplits(':', 1));
    unsigned major = 0, minor = 0;
    if (!absl::SimpleAtoi(mm.first, &major) ||
        !absl::SimpleAtoi(mm.second, &minor)) {
      continue;
    }
    e.device = makedev(major, minor);
    e.mount_point = Unescape(f[4]);
    e.fs_type = Unescape(f[dash + 1]);
    e.source = dash + 2 < f.size() ? Unescape(f[dash + 2]) : "";
    entries.push_back(std::move(e));
  }
  return entries;
}

std::optional<MountInfoEntry> FindMount(absl::string_view path) {
  std::ifstream in("/proc/self/mountinfo");
  std::stringstream text;
  text << in.rdbuf();
  std::optional<MountInfoEntry> found;
  for (MountInfoEntry& e : ParseMountInfo(text.str())) {
    if (e.mount_point == path) found = std::move(e);  // later lines are on top
  }
  return found;
}

namespace {

// The absolute path of `dir` without touching `dir` itself (a dead FUSE
// mount cannot be stat'ed): the parent is resolved, the last part appended.
absl::Status CanonicalMountPath(const std::string& dir, std::string* out) {
  std::string path = dir;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const size_t slash = path.rfind('/');
  std::string parent = slash == std::string::npos
                           ? "."
                           : (slash == 0 ? "/" : path.substr(0, slash));
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.empty() || base == "." || base == "..") {
    parent = path;  // resolve it whole; it is not a mount root we must avoid
    base.clear();
  }
  char real[PATH_MAX];
  if (realpath(parent.c_str(), real) == nullptr) {
    const int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(absl::StrFormat(
          "mount point %s does not exist; create the directory first", dir));
    }
    return absl::FailedPreconditionError(absl::StrFormat(
        "cannot resolve mount point %s: %s", dir, strerror(err)));
  }
  *out = real;
  if (!base.empty()) *out = absl::StrCat(*out == "/" ? "" : *out, "/", base);
  return absl::OkStatus();
}

}  // namespace

absl::Status PrepareMountPoint(const std::string& dir, std::string* canonical) {
  std::string path;
  absl::Status resolved = CanonicalMountPath(dir, &path);
  if (!resolved.ok()) return resolved;
  constexpr int kAttempts = 4;  // dead mounts may be stacked
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    std::optional<MountInfoEntry> m = FindMount(path);
    if (!m.has_value()) {
      struct stat st;
      if (stat(path.c_str(), &st) != 0) {
        const int err = errno;
        if (err == ENOENT) {
          return absl::NotFoundError(absl::StrFormat(
              "mount point %s does not exist; create the directory first",
              path));
        }
        return absl::FailedPreconditionError(absl::StrFormat(
            "cannot stat mount point %s: %s", path, strerror(err)));
      }
      if (!S_ISDIR(st.st_mode)) {
        return absl::FailedPreconditionError(
            absl::StrFormat("mount point %s is not a directory", path));
      }
      *canonical = path;
      return absl::OkStatus();
    }
    // statfs always reaches a FUSE server (stat may be answered from the
    // kernel's attribute cache), so it tells a dead mount from a live one.
    struct statfs sfs;
    if (statfs(path.c_str(), &sfs) == 0 ||
        (errno != ENOTCONN && errno != ECONNABORTED)) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "%s is already a mount point (%s from %s); unmount it or choose "
          "another directory",
          path, m->fs_type, m->source));
    }
    FuseLog(absl::StrFormat(
        "%s is a dead FUSE mount (%s from %s: %s), left by a process that "
        "exited without unmounting; detaching it",
        path, m->fs_type, m->source, strerror(errno)));
    absl::Status s = UnmountPath(path, /*lazy=*/true);
    if (!s.ok()) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "%s is a dead FUSE mount and detaching it failed: %s; run "
          "'fusermount3 -uz %s' as its owner or root",
          path, s.message(), path));
    }
  }
  return absl::FailedPreconditionError(
      absl::StrFormat("%s is still a dead FUSE mount after %d detach attempts",
                      path, kAttempts));
}

absl::Status UnmountPath(const std::string& dir, bool lazy) {
  if (geteuid() == 0) {
    if (umount2(dir.c_str(), lazy ? MNT_DETACH : 0) == 0) {
      return absl::OkStatus();
    }
    const int err = errno;
    std::string msg =
        absl::StrFormat("umount %s failed: %s", dir, strerror(err));
    if (err == EBUSY) return absl::UnavailableError(msg);
    return absl::FailedPreconditionError(msg);
  }
  std::vector<std::string> args = {"fusermount3", "-u"};
  if (lazy) args.push_back("-z");
  args.push_back(dir);
  absl::StatusOr<int> rc = RunCommand(args);
  if (!rc.ok()) return rc.status();
  if (*rc != 0) {
    return absl::UnavailableError(
        absl::StrFormat("fusermount3 -u %s exited with %d", dir, *rc));
  }
  return absl::OkStatus();
}

absl::Status AbortFuseConnection(dev_t device) {
  // fusectl names a connection by the kernel's dev_t: major << 20 | minor.
  const std::string id =
      absl::StrCat((uint64_t{major(device)} << 20) | minor(device));
  auto write_abort = [&](const std::string& root) -> absl::Status {
    const std::string path = absl::StrCat(root, "/", id, "/abort");
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      return absl::NotFoundError(
          absl::StrFormat("open %s: %s", path, strerror(errno)));
    }
    ssize_t n = write(fd, "1", 1);
    const int err = errno;
    close(fd);
    if (n != 1) {
      return absl::InternalError(
          absl::StrFormat("write %s: %s", path, strerror(err)));
    }
    return absl::OkStatus();
  };
  if (write_abort("/sys/fs/fuse/connections").ok()) return absl::OkStatus();
  if (geteuid() != 0) {
    return absl::PermissionDeniedError(
        "aborting a FUSE connection needs fusectl at /sys/fs/fuse/connections");
  }
  // fusectl is a single-instance file system: a private mount shows the same
  // connections, and is gone again right after.
  char tmpl[] = "/tmp/mpio-fusectl-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp: ", strerror(errno)));
  }
  absl::Status status;
  if (mount("fusectl", tmpl, "fusectl", MS_NOSUID | MS_NODEV | MS_NOEXEC,
            nullptr) != 0) {
    status = absl::FailedPreconditionError(
        absl::StrFormat("mount fusectl: %s", strerror(errno)));
  } else {
    status = write_abort(tmpl);
    umount2(tmpl, MNT_DETACH);
  }
  rmdir(tmpl);
  return status;
}

}  // namespace mpio::fuse
