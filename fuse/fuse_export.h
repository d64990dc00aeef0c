// FuseExport: a FUSE file system (libfuse3, high-level API) that shows each
// multipath device as one regular file in its root directory, so a
// workstation can `losetup` and mount it, or point fio at it.
//
// Each file has the device's size, mode 0600 and belongs to the user who
// mounted. Reads and writes may have any offset and length (partial blocks
// are read-modify-written under a per-block lock, see ByteRangeIo); whole
// blocks go to the device straight from libfuse's buffer. fsync/fdatasync
// send a SYNCHRONIZE CACHE; close() does not. O_SYNC/O_DSYNC writes go out
// with FUA. fallocate: PUNCH_HOLE writes zeroes that may unmap (a punched
// hole must read back as zeroes, which UNMAP alone does not promise),
// ZERO_RANGE writes zeroes that keep the blocks, plain allocation inside the
// file succeeds as a no-op, anything else is EOPNOTSUPP. The size is fixed:
// truncate to another size is EPERM (so `dd` needs conv=notrunc), writes at
// or past the end are ENOSPC. chmod/chown/utimens are kept in memory.
//
// Caching: files opened with O_DIRECT bypass the page cache (direct_io).
// Other opens use the page cache write-through (no writeback cache, so a
// write reaches the device before write() returns) and drop cached pages at
// every open (no keep_cache), so each new opener sees what the device holds.
// Two processes that keep a file open at once and both write through the page
// cache can still read stale pages; such users should open with O_DIRECT.
//
// Threads: Mount() starts libfuse's multithreaded loop on threads owned by
// this object; every FUSE request blocks one of them until the device
// answers. AddDevice/RemoveDevice/Unmount are thread-safe and may be called
// from any thread except those loop threads (i.e. not from a BlockDevice
// completion running inline in a FUSE request).
// Ownership: devices are borrowed; a device must stay alive until
// RemoveDevice() for it returns or the export is unmounted.
// Failure: Mount() fails cleanly (nothing left mounted). A device error
// reaches the caller as errno via ErrnoFromStatus. A dead FUSE mount left on
// `dir` by a crashed process is detached at Mount(); a live mount of anything
// on `dir` is refused.
#ifndef MPIO_FUSE_FUSE_EXPORT_H_
#define MPIO_FUSE_FUSE_EXPORT_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/base/sync.h"
#include "engine/device/block_device.h"

struct fuse;

namespace mpio::fuse {

struct FuseOptions {
  // Let users other than the mounting one open the files (their mode still
  // applies with default_permissions). A non-root mounter needs
  // `user_allow_other` in /etc/fuse.conf.
  bool allow_other = false;
  // The kernel checks the files' mode bits (recommended).
  bool default_permissions = true;
  // Upper bound on libfuse worker threads, i.e. on requests in flight.
  unsigned max_threads = 16;
  // Shown as the mount's source in /proc/mounts; the type is "fuse.mpio".
  std::string fs_name = "mpio";
  // libfuse's request trace on stderr.
  bool debug = false;
};

class FuseExport {
 public:
  // Mounts an empty export on `dir` (an existing directory).
  static absl::StatusOr<std::unique_ptr<FuseExport>> Mount(
      std::string dir, FuseOptions options = {});

  FuseExport(const FuseExport&) = delete;
  FuseExport& operator=(const FuseExport&) = delete;
  ~FuseExport();  // Unmount()

  // Shows `device` as DIR/file_name. InvalidArgument for a name with '/' or
  // an unusable geometry; AlreadyExists if the name is taken.
  absl::Status AddDevice(std::string file_name, BlockDevice* device);
  // Removes the file. Open handles stay valid but fail with ENODEV; returns
  // once no request is using the device any more. NotFound if absent.
  absl::Status RemoveDevice(absl::string_view file_name);

  // Ends the loop, unmounts and joins the threads. If files are still open
  // (e.g. a loop device is attached), the mount is detached and its
  // connection aborted, so those files fail from then on. Idempotent.
  void Unmount();

  const std::string& dir() const { return dir_; }

 private:
  struct ExportedFile;
  struct Handle;
  friend struct FuseCallbacks;

  explicit FuseExport(FuseOptions options);
  std::shared_ptr<ExportedFile> Find(absl::string_view path) const;
  void Invalidate(absl::string_view file_name);
  // Aborts our FUSE connection if it still exists (see Unmount()).
  void AbortOrWait();

  const FuseOptions options_;
  std::string dir_;  // canonical
  uid_t uid_;
  gid_t gid_;
  struct timespec mount_time_;
  dev_t mount_device_ = 0;  // st_dev of the mounted file system

  struct ::fuse* fuse_ = nullptr;
  std::thread loop_thread_;

  Mutex unmount_mu_;
  bool mounted_ ABSL_GUARDED_BY(unmount_mu_) = false;

  // Open handles: freed at release, or at Unmount() for files the kernel
  // never released (connection aborted while they were open).
  Mutex handles_mu_;
  std::unordered_set<Handle*> handles_ ABSL_GUARDED_BY(handles_mu_);

  mutable SharedMutex mu_;
  std::map<std::string, std::shared_ptr<ExportedFile>, std::less<>> files_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace mpio::fuse

#endif  // MPIO_FUSE_FUSE_EXPORT_H_
