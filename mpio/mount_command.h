// `mpio mount` / `mpio umount`: a multipathed LUN's filesystem on a
// directory in one step. mount starts a background `mpio serve` with a FUSE
// export, attaches the device file to a loop device (optionally makes a
// filesystem on it) and mounts it; umount undoes all of it in reverse.
// State lives in /run/mpio/mounts/<dir>/ (pid, loop device, log).
#ifndef MPIO_MPIO_MOUNT_COMMAND_H_
#define MPIO_MPIO_MOUNT_COMMAND_H_

#include <CLI/CLI.hpp>

namespace mpio::cli {
void AddMountCommands(CLI::App* app);
}

#endif  // MPIO_MPIO_MOUNT_COMMAND_H_
