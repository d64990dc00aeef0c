// Durations as people write them in mpio.toml: "500ms", "5s", "2m", "1h",
// "1.5s", "1m30s". Every number needs a unit (a bare "5" could mean seconds
// or milliseconds, the classic config mistake), except a plain "0".
//
// Pure functions, any thread. Errors are InvalidArgument with a message that
// quotes the text and says what is expected; nothing is left behind.
#ifndef MPIO_ENGINE_CONFIG_DURATION_H_
#define MPIO_ENGINE_CONFIG_DURATION_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace mpio {

// Parses one or more <number><unit> groups, unit one of ms, s, m, h; the
// number may have a fraction ("1.5s"). Never negative, never infinite.
absl::StatusOr<absl::Duration> ParseConfigDuration(absl::string_view text);

// "1.2s", "500ms", "2m": how a duration is shown back in messages.
std::string FormatConfigDuration(absl::Duration d);

}  // namespace mpio

#endif  // MPIO_ENGINE_CONFIG_DURATION_H_
