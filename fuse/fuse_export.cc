#include "fuse/fuse_export.h"

#define FUSE_USE_VERSION 314
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "fuse/byte_range_io.h"
#include "fuse/mount_point.h"

namespace mpio::fuse {

// One exported device. Shared between the name table and open handles, so
// an open file survives RemoveDevice() (its I/O then fails with ENODEV).
struct FuseExport::ExportedFile {
  ExportedFile(std::string n, BlockDevice* d, uid_t u, gid_t g,
               struct timespec now)
      : name(std::move(n)), io(d) {
    mode = d->geometry().read_only ? 0400 : 0600;
    uid = u;
    gid = g;
    atime = mtime = ctime = now;
  }

  const std::string name;
  ByteRangeIo io;

  // Requests using `io` right now; RemoveDevice() waits for zero.
  std::atomic<int> inflight{0};
  std::atomic<bool> removed{false};
  Mutex drain_mu;  // with `drained`: wakes RemoveDevice() when inflight drops
  CondVar drained;

  // chmod/chown/utimens results; kept so `ls -l` shows what was set.
  Mutex attr_mu;
  mode_t mode ABSL_GUARDED_BY(attr_mu);
  uid_t uid ABSL_GUARDED_BY(attr_mu);
  gid_t gid ABSL_GUARDED_BY(attr_mu);
  struct timespec atime ABSL_GUARDED_BY(attr_mu);
  struct timespec mtime ABSL_GUARDED_BY(attr_mu);
  struct timespec ctime ABSL_GUARDED_BY(attr_mu);
};

// What fi->fh points at: keeps the device entry alive while open.
struct FuseExport::Handle {
  std::shared_ptr<ExportedFile> file;
};

namespace {

struct timespec Now() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

// A file name exported in the root directory.
absl::Status CheckName(absl::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.size() > 255 ||
      name.find('/') != absl::string_view::npos ||
      name.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "invalid FUSE file name '%s': need 1-255 bytes, no '/' or NUL, not "
        "'.' or '..'",
        name));
  }
  return absl::OkStatus();
}

int Errno(const absl::Status& status) {
  int e = ErrnoFromStatus(status);
  return e > 0 ? e : EIO;
}

}  // namespace

// libfuse's C callbacks. They find the export in the FUSE context and the
// device in the open handle (fi->fh), so the hot path takes no table lock.
struct FuseCallbacks {
  using File = FuseExport::ExportedFile;

  using Handle = FuseExport::Handle;

  // Counts a request against a device so RemoveDevice() can wait for it.
  class IoScope {
   public:
    explicit IoScope(File* f) : f_(f) {
      f_->inflight.fetch_add(1);
      live_ = !f_->removed.load();
    }
    ~IoScope() {
      if (f_->inflight.fetch_sub(1) == 1 && f_->removed.load()) {
        // Under the mutex, so RemoveDevice() is either still before its
        // check of inflight or already waiting.
        MutexLock lock(&f_->drain_mu);
        f_->drained.SignalAll();
      }
    }
    bool live() const { return live_; }

   private:
    File* f_;
    bool live_;
  };

  static FuseExport* Self() {
    return static_cast<FuseExport*>(fuse_get_context()->private_data);
  }
  static File* FileOf(struct fuse_file_info* fi) {
    if (fi == nullptr || fi->fh == 0) return nullptr;
    return reinterpret_cast<Handle*>(fi->fh)->file.get();
  }
  // The entry for an op that has a path and maybe a handle.
  static std::shared_ptr<File> Resolve(const char* path,
                                       struct fuse_file_info* fi) {
    if (fi != nullptr && fi->fh != 0) {
      return reinterpret_cast<Handle*>(fi->fh)->file;
    }
    if (path == nullptr) return nullptr;
    return Self()->Find(path);
  }

  static void FillFile(File* f, struct stat* st) {
    MutexLock lock(&f->attr_mu);
    st->st_mode = S_IFREG | f->mode;
    st->st_nlink = 1;
    st->st_uid = f->uid;
    st->st_gid = f->gid;
    st->st_size = static_cast<off_t>(f->io.size());
    st->st_blksize = std::max<uint32_t>(f->io.block_size(), 4096);
    st->st_blocks = static_cast<blkcnt_t>(f->io.size() / 512);
    st->st_atim = f->atime;
    st->st_mtim = f->mtime;
    st->st_ctim = f->ctime;
  }

  static void* Init(struct fuse_conn_info* conn, struct fuse_config* cfg) {
    // Write-through: a write is on the device when write() returns, and
    // fsync() has nothing of ours to flush first.
    conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
    cfg->nullpath_ok = 1;  // read/write need only fi->fh
    cfg->hard_remove = 1;
    cfg->use_ino = 0;
    cfg->kernel_cache = 0;
    cfg->auto_cache = 0;
    cfg->direct_io = 0;
    cfg->entry_timeout = 1.0;
    cfg->attr_timeout = 1.0;
    cfg->negative_timeout = 0;  // a new device shows up at once
    return fuse_get_context()->private_data;
  }

  static int GetAttr(const char* path, struct stat* st,
                     struct fuse_file_info* fi) {
    std::memset(st, 0, sizeof(*st));
    FuseExport* self = Self();
    if (fi == nullptr && path != nullptr && std::strcmp(path, "/") == 0) {
      st->st_mode = S_IFDIR | 0755;
      st->st_nlink = 2;
      st->st_uid = self->uid_;
      st->st_gid = self->gid_;
      st->st_atim = st->st_mtim = st->st_ctim = self->mount_time_;
      st->st_blksize = 4096;
      return 0;
    }
    std::shared_ptr<File> f = Resolve(path, fi);
    if (f == nullptr) return -ENOENT;
    FillFile(f.get(), st);
    return 0;
  }

  static int ReadDir(const char* path, void* buf, fuse_fill_dir_t filler, off_t,
                     struct fuse_file_info*, enum fuse_readdir_flags) {
    // With nullpath_ok the path may be null; the root is the only directory.
    if (path != nullptr && std::strcmp(path, "/") != 0) return -ENOTDIR;
    FuseExport* self = Self();
    std::vector<std::string> names;
    {
      ReaderMutexLock lock(&self->mu_);
      for (const auto& [name, file] : self->files_) names.push_back(name);
    }
    filler(buf, ".", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
    filler(buf, "..", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
    for (const std::string& name : names) {
      filler(buf, name.c_str(), nullptr, 0,
             static_cast<fuse_fill_dir_flags>(0));
    }
    return 0;
  }

  static int Open(const char* path, struct fuse_file_info* fi) {
    std::shared_ptr<File> f = Self()->Find(path);
    if (f == nullptr) return -ENOENT;
    if ((fi->flags & O_ACCMODE) != O_RDONLY &&
        f->io.device()->geometry().read_only) {
      return -EROFS;
    }
    // libfuse asks for atomic O_TRUNC: the kernel sends no truncate of its
    // own, so refuse here what truncate() would refuse.
    if ((fi->flags & O_TRUNC) != 0 && f->io.size() != 0) return -EPERM;
    auto* handle = new Handle{std::move(f)};
    {
      FuseExport* self = Self();
      MutexLock lock(&self->handles_mu_);
      self->handles_.insert(handle);
    }
    fi->fh = reinterpret_cast<uint64_t>(handle);
    // O_DIRECT: the caller wants no page cache; give it none.
    fi->direct_io = (fi->flags & O_DIRECT) != 0;
    // Drop cached pages at every open: another opener (or the array) may
    // have changed the data.
    fi->keep_cache = 0;
    return 0;
  }

  static int Release(const char*, struct fuse_file_info* fi) {
    auto* handle = reinterpret_cast<Handle*>(fi->fh);
    {
      FuseExport* self = Self();
      MutexLock lock(&self->handles_mu_);
      self->handles_.erase(handle);
    }
    delete handle;
    fi->fh = 0;
    return 0;
  }

  static int Read(const char*, char* buf, size_t size, off_t offset,
                  struct fuse_file_info* fi) {
    File* f = FileOf(fi);
    if (f == nullptr) return -EBADF;
    if (offset < 0) return -EINVAL;
    IoScope scope(f);
    if (!scope.live()) return -ENODEV;
    absl::StatusOr<size_t> n = f->io.Read(offset, buf, size);
    if (!n.ok()) return -Errno(n.status());
    return static_cast<int>(*n);
  }

  static int Write(const char*, const char* buf, size_t size, off_t offset,
                   struct fuse_file_info* fi) {
    File* f = FileOf(fi);
    if (f == nullptr) return -EBADF;
    if (offset < 0) return -EINVAL;
    IoScope scope(f);
    if (!scope.live()) return -ENODEV;
    // O_SYNC includes the O_DSYNC bit; both ask for durable data.
    const bool fua = (fi->flags & O_DSYNC) != 0;
    absl::StatusOr<size_t> n = f->io.Write(offset, buf, size, fua);
    if (!n.ok()) return -Errno(n.status());
    return static_cast<int>(*n);
  }

  static int Fsync(const char*, int, struct fuse_file_info* fi) {
    File* f = FileOf(fi);
    if (f == nullptr) return -EBADF;
    IoScope scope(f);
    if (!scope.live()) return -ENODEV;
    absl::Status s = f->io.Flush();
    return s.ok() ? 0 : -Errno(s);
  }

  // close(): nothing is buffered here, and close is not a sync point.
  static int Flush(const char*, struct fuse_file_info*) { return 0; }

  static int Fallocate(const char*, int mode, off_t offset, off_t length,
                       struct fuse_file_info* fi) {
    File* f = FileOf(fi);
    if (f == nullptr) return -EBADF;
    if (offset < 0 || length <= 0) return -EINVAL;
    IoScope scope(f);
    if (!scope.live()) return -ENODEV;
    const uint64_t end = static_cast<uint64_t>(offset) + length;
    const bool keep_size = (mode & FALLOC_FL_KEEP_SIZE) != 0;
    const int op = mode & ~FALLOC_FL_KEEP_SIZE;
    // Without KEEP_SIZE a range past the end would grow the file.
    if (!keep_size && end > f->io.size()) return -ENOSPC;
    absl::Status s;
    if (op == 0) {
      return 0;  // the blocks exist already
    } else if (op == FALLOC_FL_PUNCH_HOLE) {
      s = f->io.Zero(offset, length, /*may_unmap=*/true);
    } else if (op == FALLOC_FL_ZERO_RANGE) {
      s = f->io.Zero(offset, length, /*may_unmap=*/false);
    } else {
      return -EOPNOTSUPP;
    }
    return s.ok() ? 0 : -Errno(s);
  }

  static int Truncate(const char* path, off_t size, struct fuse_file_info* fi) {
    std::shared_ptr<File> f = Resolve(path, fi);
    if (f == nullptr) return -ENOENT;
    return static_cast<uint64_t>(size) == f->io.size() ? 0 : -EPERM;
  }

  static int Chmod(const char* path, mode_t mode, struct fuse_file_info* fi) {
    std::shared_ptr<File> f = Resolve(path, fi);
    if (f == nullptr)
      return path && std::strcmp(path, "/") == 0 ? -EPERM : -ENOENT;
    MutexLock lock(&f->attr_mu);
    f->mode = mode & 07777;
    f->ctime = Now();
    return 0;
  }

  static int Chown(const char* path, uid_t uid, gid_t gid,
                   struct fuse_file_info* fi) {
    std::shared_ptr<File> f = Resolve(path, fi);
    if (f == nullptr)
      return path && std::strcmp(path, "/") == 0 ? -EPERM : -ENOENT;
    MutexLock lock(&f->attr_mu);
    if (uid != static_cast<uid_t>(-1)) f->uid = uid;
    if (gid != static_cast<gid_t>(-1)) f->gid = gid;
    f->ctime = Now();
    return 0;
  }

  static int Utimens(const char* path, const struct timespec tv[2],
                     struct fuse_file_info* fi) {
    std::shared_ptr<File> f = Resolve(path, fi);
    if (f == nullptr) return path && std::strcmp(path, "/") == 0 ? 0 : -ENOENT;
    const struct timespec now = Now();
    auto pick = [&](const struct timespec& t, struct timespec& field) {
      if (t.tv_nsec == UTIME_OMIT) return;
      field = t.tv_nsec == UTIME_NOW ? now : t;
    };
    MutexLock lock(&f->attr_mu);
    if (tv == nullptr) {
      f->atime = f->mtime = now;
    } else {
      pick(tv[0], f->atime);
      pick(tv[1], f->mtime);
    }
    f->ctime = now;
    return 0;
  }

  static int StatFs(const char*, struct statvfs* st) {
    FuseExport* self = Self();
    std::memset(st, 0, sizeof(*st));
    uint64_t bytes = 0, files = 0;
    {
      ReaderMutexLock lock(&self->mu_);
      for (const auto& [name, file] : self->files_) {
        bytes += file->io.size();
        ++files;
      }
    }
    st->f_bsize = 4096;
    st->f_frsize = 4096;
    st->f_blocks = (bytes + 4095) / 4096;
    st->f_files = files;
    st->f_namemax = 255;
    return 0;  // bfree/bavail/ffree 0: the devices fill the file system
  }

  static int Access(const char* path, int) {
    if (path != nullptr && std::strcmp(path, "/") == 0) return 0;
    return Self()->Find(path) != nullptr ? 0 : -ENOENT;
  }

  // The set of files is the set of devices: no creating, linking, renaming.
  static int DenyCreate(const char*, mode_t, struct fuse_file_info*) {
    return -EPERM;
  }
  static int DenyMknod(const char*, mode_t, dev_t) { return -EPERM; }
  static int DenyMkdir(const char*, mode_t) { return -EPERM; }
  static int DenyPath(const char*) { return -EPERM; }
  static int DenyTwo(const char*, const char*) { return -EPERM; }
  static int DenyRename(const char*, const char*, unsigned int) {
    return -EPERM;
  }

  static struct fuse_operations Operations() {
    struct fuse_operations ops;
    std::memset(&ops, 0, sizeof(ops));
    ops.init = &Init;
    ops.getattr = &GetAttr;
    ops.readdir = &ReadDir;
    ops.open = &Open;
    ops.release = &Release;
    ops.read = &Read;
    ops.write = &Write;
    ops.fsync = &Fsync;
    ops.flush = &Flush;
    ops.fallocate = &Fallocate;
    ops.truncate = &Truncate;
    ops.chmod = &Chmod;
    ops.chown = &Chown;
    ops.utimens = &Utimens;
    ops.statfs = &StatFs;
    ops.access = &Access;
    ops.create = &DenyCreate;
    ops.mknod = &DenyMknod;
    ops.mkdir = &DenyMkdir;
    ops.unlink = &DenyPath;
    ops.rmdir = &DenyPath;
    ops.symlink = &DenyTwo;
    ops.link = &DenyTwo;
    ops.rename = &DenyRename;
    return ops;
  }
};

FuseExport::FuseExport(FuseOptions options)
    : options_(std::move(options)),
      uid_(getuid()),
      gid_(getgid()),
      mount_time_(Now()) {}

absl::StatusOr<std::unique_ptr<FuseExport>> FuseExport::Mount(
    std::string dir, FuseOptions options) {
  std::unique_ptr<FuseExport> self(new FuseExport(std::move(options)));
  absl::Status prepared = PrepareMountPoint(dir, &self->dir_);
  if (!prepared.ok()) return prepared;

  std::vector<std::string> opts = {
      absl::StrCat("fsname=", self->options_.fs_name), "subtype=mpio"};
  if (self->options_.allow_other) opts.push_back("allow_other");
  if (self->options_.default_permissions) {
    opts.push_back("default_permissions");
  }
  std::vector<std::string> argv_text = {"mpio-fuse", "-o",
                                        absl::StrJoin(opts, ",")};
  if (self->options_.debug) argv_text.push_back("-d");
  std::vector<char*> argv;
  for (std::string& a : argv_text) argv.push_back(a.data());
  struct fuse_args args =
      FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  const struct fuse_operations ops = FuseCallbacks::Operations();
  self->fuse_ = fuse_new(&args, &ops, sizeof(ops), self.get());
  fuse_opt_free_args(&args);
  if (self->fuse_ == nullptr) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "libfuse refused the options '%s' (its message is on stderr)",
        argv_text[2]));
  }
  if (fuse_mount(self->fuse_, self->dir_.c_str()) != 0) {
    fuse_destroy(self->fuse_);
    self->fuse_ = nullptr;
    return absl::FailedPreconditionError(absl::StrFormat(
        "mounting FUSE on %s failed (libfuse's message is on stderr): needs "
        "/dev/fuse and root or fusermount3 (package fuse3)%s",
        self->dir_,
        self->options_.allow_other
            ? "; allow_other needs user_allow_other in /etc/fuse.conf"
            : ""));
  }
  {
    MutexLock lock(&self->unmount_mu_);
    self->mounted_ = true;
  }
  struct ::fuse* f = self->fuse_;
  const unsigned max_threads = std::max(1u, self->options_.max_threads);
  self->loop_thread_ = std::thread([f, max_threads] {
    struct fuse_loop_config* config = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(config, max_threads);
    fuse_loop_cfg_set_clone_fd(config, 0);
    int rc = fuse_loop_mt(f, config);
    fuse_loop_cfg_destroy(config);
    if (rc != 0) FuseLog(absl::StrCat("FUSE loop ended with ", rc));
  });
  // Served by the loop just started: proves the mount works and gives the
  // connection's device number (for aborting it at Unmount()).
  struct stat st;
  if (stat(self->dir_.c_str(), &st) != 0) {
    const int err = errno;
    self->Unmount();
    return absl::FailedPreconditionError(absl::StrFormat(
        "FUSE mount on %s does not answer: %s", dir, strerror(err)));
  }
  self->mount_device_ = st.st_dev;
  return self;
}

FuseExport::~FuseExport() { Unmount(); }

void FuseExport::Unmount() {
  {
    MutexLock lock(&unmount_mu_);
    if (!mounted_) return;
    mounted_ = false;
  }
  fuse_session_exit(fuse_get_session(fuse_));
  // The kernel ends the connection when the mount goes; the loop threads'
  // reads of /dev/fuse then fail and the loop returns. Only our own mount
  // is unmounted: someone may have unmounted it and mounted something else.
  std::optional<MountInfoEntry> m = FindMount(dir_);
  if (m.has_value() && m->device == mount_device_) {
    absl::Status s = UnmountPath(dir_, /*lazy=*/false);
    if (absl::IsUnavailable(s)) {
      FuseLog(absl::StrFormat(
          "%s is busy (%s); detaching it and aborting its connection, so "
          "files still open on it (loop devices) fail from now on",
          dir_, s.message()));
      absl::Status lazy = UnmountPath(dir_, /*lazy=*/true);
      if (!lazy.ok()) FuseLog(lazy.message());
      AbortOrWait();
    } else if (!s.ok()) {
      FuseLog(s.message());
      AbortOrWait();
    }
  } else {
    // Unmounted behind our back (maybe lazily, with files still open).
    AbortOrWait();
  }
  if (loop_thread_.joinable()) loop_thread_.join();
  // The connection is gone already: this only closes /dev/fuse.
  fuse_unmount(fuse_);
  fuse_destroy(fuse_);
  fuse_ = nullptr;
  // The loop is gone, so nothing uses these any more.
  MutexLock lock(&handles_mu_);
  for (Handle* h : handles_) delete h;
  handles_.clear();
}

void FuseExport::AbortOrWait() {
  absl::Status abort = AbortFuseConnection(mount_device_);
  if (!abort.ok() && !absl::IsNotFound(abort)) {
    FuseLog(absl::StrFormat(
        "cannot abort the FUSE connection of %s (%s); waiting until the last "
        "file on it is closed",
        dir_, abort.message()));
  }
}

void FuseExport::Invalidate(absl::string_view file_name) {
  // Under unmount_mu_, so that Unmount() cannot free fuse_ meanwhile. The
  // result is ignored: ENOENT only means the kernel had nothing cached.
  MutexLock lock(&unmount_mu_);
  if (!mounted_) return;
  fuse_invalidate_path(fuse_, absl::StrCat("/", file_name).c_str());
}

std::shared_ptr<FuseExport::ExportedFile> FuseExport::Find(
    absl::string_view path) const {
  if (path.empty() || path[0] != '/') return nullptr;
  path.remove_prefix(1);
  ReaderMutexLock lock(&mu_);
  auto it = files_.find(path);
  return it == files_.end() ? nullptr : it->second;
}

absl::Status FuseExport::AddDevice(std::string file_name, BlockDevice* device) {
  absl::Status name_ok = CheckName(file_name);
  if (!name_ok.ok()) return name_ok;
  if (device == nullptr) return absl::InvalidArgumentError("null device");
  const DeviceGeometry& g = device->geometry();
  if (g.block_size == 0 || (g.block_size & (g.block_size - 1)) != 0 ||
      g.size_bytes < g.block_size) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "device %s has block size %u and size %u: need a power-of-two block "
        "size and at least one block",
        g.name, g.block_size, g.size_bytes));
  }
  {
    MutexLock lock(&mu_);
    if (files_.count(file_name) != 0) {
      return absl::AlreadyExistsError(absl::StrFormat(
          "%s/%s is exported already; remove it first", dir_, file_name));
    }
    files_.emplace(file_name, std::make_shared<ExportedFile>(
                                  file_name, device, uid_, gid_, Now()));
  }
  // Drop anything the kernel cached about an earlier file of this name.
  Invalidate(file_name);
  return absl::OkStatus();
}

absl::Status FuseExport::RemoveDevice(absl::string_view file_name) {
  std::shared_ptr<ExportedFile> file;
  {
    MutexLock lock(&mu_);
    auto it = files_.find(file_name);
    if (it == files_.end()) {
      return absl::NotFoundError(
          absl::StrFormat("%s/%s is not exported", dir_, file_name));
    }
    file = std::move(it->second);
    files_.erase(it);
  }
  file->removed.store(true);
  {
    MutexLock lock(&file->drain_mu);
    while (file->inflight.load() != 0) file->drained.Wait(&file->drain_mu);
  }
  Invalidate(file_name);
  return absl::OkStatus();
}

}  // namespace mpio::fuse
