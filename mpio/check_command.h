// `mpio check`: a preflight lint of the running daemon's setup. Asks
// `mpio serve` (control socket verb "check") for the facts of every path
// (local interface, subnet, MTU, MSS, interface binding, CHAP), the timers
// and the claim decision, and prints each finding with its severity, the
// device/path it concerns, what is wrong and the fix (a command or a config
// line). The rules live in engine/control/preflight.h.
// Exit status: 0 clean (info notes only), 1 a warning or error was found
// (or there is no device to check), 2 bad arguments, 3 the daemon could not
// be reached or refused.
#ifndef MPIO_MPIO_CHECK_COMMAND_H_
#define MPIO_MPIO_CHECK_COMMAND_H_

#include <CLI/CLI.hpp>

namespace mpio::cli {
void AddCheckCommand(CLI::App* app);
}

#endif  // MPIO_MPIO_CHECK_COMMAND_H_
