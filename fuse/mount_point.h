// Mount-point housekeeping for the FUSE export: finds what is mounted where
// (/proc/self/mountinfo), clears a dead FUSE mount left by a crashed
// process, and unmounts.
//
// A FUSE server that dies without unmounting leaves its mount behind: every
// stat() of the directory then fails with ENOTCONN ("Transport endpoint is
// not connected") until someone unmounts it. PrepareMountPoint() detects that
// and detaches it lazily, so restarting mpio just works; a live mount of
// anything is refused, because mounting over it would hide it.
//
// Threads: all functions are thread-safe (no shared state). They may block
// (system calls, fusermount3).
// Failure: each returns a status saying what was wrong and what to do;
// nothing is left half done except that a lazily detached dead mount stays
// detached.
#ifndef MPIO_FUSE_MOUNT_POINT_H_
#define MPIO_FUSE_MOUNT_POINT_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mpio::fuse {

// One line of /proc/<pid>/mountinfo (proc(5)); escapes (\040) undone.
struct MountInfoEntry {
  dev_t device = 0;  // st_dev of files in this mount
  std::string mount_point;
  std::string fs_type;  // e.g. "fuse.mpio", "ext4"
  std::string source;
};

std::vector<MountInfoEntry> ParseMountInfo(absl::string_view text);

// The last (top-most) mount whose mount point is `path` (an absolute,
// canonical path), from /proc/self/mountinfo.
std::optional<MountInfoEntry> FindMount(absl::string_view path);

// Makes `dir` ready to mount on: an existing directory that is not a mount
// point. A dead FUSE mount on it is detached (with a line on stderr); a live
// mount fails with FailedPrecondition. Returns the canonical path.
absl::Status PrepareMountPoint(const std::string& dir, std::string* canonical);

// Unmounts `dir`: umount2() as root, else fusermount3. `lazy` detaches even
// when files are still open (MNT_DETACH / fusermount3 -z).
absl::Status UnmountPath(const std::string& dir, bool lazy);

// Aborts the FUSE connection whose mount has st_dev `device`, through the
// fusectl file system (mounted privately for the call if needed; root only).
// Every open file of that mount then fails with ENOTCONN and the server's
// /dev/fuse reads end.
absl::Status AbortFuseConnection(dev_t device);

// Logs "fuse: <message>" at warning level (engine/base/log.h).
void FuseLog(absl::string_view message);

}  // namespace mpio::fuse

#endif  // MPIO_FUSE_MOUNT_POINT_H_
