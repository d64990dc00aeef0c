// CHAP secrets for mpio.toml: read from a file or an environment variable,
// never from the config text itself (config files get copied, pasted into
// bug reports and are often world-readable).
//
// Pure functions apart from the file read / getenv; any thread (getenv is
// not safe against a concurrent setenv, which mpio never does after start).
// Error messages name the file or the variable and never contain the secret
// or any part of the file's content. Nothing is left open on failure.
#ifndef MPIO_ENGINE_CONFIG_SECRET_H_
#define MPIO_ENGINE_CONFIG_SECRET_H_

#include <string>

#include "absl/status/statusor.h"

namespace mpio {

// The file's content without trailing "\n" / "\r\n". Refuses a missing or
// unreadable file (NotFound / PermissionDenied / InvalidArgument with the
// errno text), an empty secret, a secret spread over several lines and a
// file too big to be a secret.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path);

// The variable's value; refuses a bad name, an unset or empty variable.
absl::StatusOr<std::string> ReadSecretEnv(const std::string& name);

}  // namespace mpio

#endif  // MPIO_ENGINE_CONFIG_SECRET_H_
