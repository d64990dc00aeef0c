// RunTool: runs a system tool (losetup, mount, mkfs) without a shell and
// returns its exit status and output; errors say which tool failed and why.
#ifndef MPIO_MPIO_RUN_TOOL_H_
#define MPIO_MPIO_RUN_TOOL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mpio::cli {

// stdout+stderr of the tool on success (exit 0); an error with them otherwise.
absl::StatusOr<std::string> RunTool(const std::vector<std::string>& argv);

}  // namespace mpio::cli

#endif  // MPIO_MPIO_RUN_TOOL_H_
