// Internal to mpio_config: reads a small file whole (the config file, a
// CHAP secret file), with errors that name the file and the errno text.
//
// Any thread. On failure the partial content is wiped (it may be a secret)
// and the descriptor closed. Codes: NotFound (ENOENT, ENOTDIR),
// PermissionDenied (EACCES, EPERM), InvalidArgument otherwise (a directory,
// a non-regular file when refused, a file over `max_bytes`).
#ifndef MPIO_ENGINE_CONFIG_SMALL_FILE_H_
#define MPIO_ENGINE_CONFIG_SMALL_FILE_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mpio::config_internal {

// `what` names the file in messages: "config file", "secret file".
// `regular_only` refuses FIFOs and devices (a secret file that is
// /dev/stdin or a FIFO would block the daemon's start); the config file
// may be a pipe, for `--config <(generate-config)`.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path,
                                          size_t max_bytes,
                                          absl::string_view what,
                                          bool regular_only);

}  // namespace mpio::config_internal

#endif  // MPIO_ENGINE_CONFIG_SMALL_FILE_H_
