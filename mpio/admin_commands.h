// The admin verbs that talk to a running `mpio serve` over its control
// socket, like `esxcli storage nmp ...` and `multipath -ll`:
//   mpio device list|set|reclaim, mpio path list|set|fail,
//   mpio rule add|remove|list, mpio events.
// Every verb takes --control PATH (else $MPIO_CONTROL, else
// /run/mpio/control.sock) and --json where it lists something.
// Exit status: 0 done, 1 the daemon refused or could not be reached,
// 2 bad arguments.
#ifndef MPIO_MPIO_ADMIN_COMMANDS_H_
#define MPIO_MPIO_ADMIN_COMMANDS_H_

#include <CLI/CLI.hpp>

namespace mpio::cli {
void AddAdminCommands(CLI::App* app);
}

#endif  // MPIO_MPIO_ADMIN_COMMANDS_H_
