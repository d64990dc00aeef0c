// Control client: what the admin verbs (`mpio device list`, `mpio path set`,
// ...) use to talk to a running `mpio serve` over its control socket
// (newline-delimited JSON, see engine/control/control_server.h).
//
// Threads: any; each call opens its own connection.
// Failure: Unavailable when the daemon cannot be reached (the message names
// the socket path and the errno, and asks whether `mpio serve` runs),
// DeadlineExceeded when it does not answer in time, and Unknown carrying the
// daemon's own error text when it refused the request. Nothing is retried.
#ifndef MPIO_MPIO_CONTROL_CLIENT_H_
#define MPIO_MPIO_CONTROL_CLIENT_H_

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mpio::cli {

// The socket to use: `flag` when given, else $MPIO_CONTROL, else
// /run/mpio/control.sock.
std::string ResolveControlSocket(const std::string& flag);

// Sends `request` (one JSON object) and returns the "result" of the answer.
absl::StatusOr<nlohmann::json> CallControl(
    const std::string& socket_path, const nlohmann::json& request,
    absl::Duration timeout = absl::Seconds(30));

}  // namespace mpio::cli

#endif  // MPIO_MPIO_CONTROL_CLIENT_H_
