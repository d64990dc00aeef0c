// `mpio serve`: run the engine as a service (foreground, logs on stderr).
#ifndef MPIO_MPIO_SERVE_COMMAND_H_
#define MPIO_MPIO_SERVE_COMMAND_H_

#include <CLI/CLI.hpp>

namespace mpio::cli {
void AddServeCommand(CLI::App* app);
}

#endif  // MPIO_MPIO_SERVE_COMMAND_H_
