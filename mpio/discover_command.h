// `mpio discover`: log in over every portal, list targets, LUNs and the
// multipath devices they form, then log out.
#ifndef MPIO_MPIO_DISCOVER_COMMAND_H_
#define MPIO_MPIO_DISCOVER_COMMAND_H_

#include <CLI/CLI.hpp>

namespace mpio::cli {
void AddDiscoverCommand(CLI::App* app);
}

#endif  // MPIO_MPIO_DISCOVER_COMMAND_H_
