#include "engine/config/small_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace mpio::config_internal {
namespace {

absl::Status ErrnoStatus(int err, std::string message) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(std::move(message));
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(std::move(message));
    default:
      return absl::InvalidArgumentError(std::move(message));
  }
}

}  // namespace

absl::StatusOr<std::string> ReadSmallFile(const std::string& path,
                                          size_t max_bytes,
                                          absl::string_view what,
                                          bool regular_only) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer.
  int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | (regular_only ? O_NONBLOCK : 0);
  int fd = open(path.c_str(), flags);
  if (fd < 0) {
    int err = errno;
    return ErrnoStatus(err, absl::StrCat("cannot read ", what, " ", path, ": ",
                                         strerror(err)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode) ||
      (regular_only && !S_ISREG(st.st_mode))) {
    close(fd);
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot read ", what, " ", path, ": ",
        S_ISDIR(st.st_mode) ? "it is a directory" : "not a regular file"));
  }
  std::string content;
  char buf[4096];
  absl::Status status;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      status = ErrnoStatus(err, absl::StrCat("cannot read ", what, " ", path,
                                             ": ", strerror(err)));
      break;
    }
    if (n == 0) break;
    content.append(buf, static_cast<size_t>(n));
    if (content.size() > max_bytes) {
      status = absl::InvalidArgumentError(absl::StrCat(
          what, " ", path, " is larger than ", max_bytes, " bytes"));
      break;
    }
  }
  close(fd);
  std::fill(std::begin(buf), std::end(buf), '\0');
  if (!status.ok()) {
    std::fill(content.begin(), content.end(), '\0');
    return status;
  }
  return content;
}

}  // namespace mpio::config_internal
