// mpio: a userspace multipath iSCSI initiator. One verb per file.
#include <CLI/CLI.hpp>
#include <iostream>

#include "mpio/admin_commands.h"
#include "mpio/bench_command.h"
#include "mpio/check_command.h"
#include "mpio/discover_command.h"
#include "mpio/mount_command.h"
#include "mpio/serve_command.h"

int main(int argc, char** argv) {
  CLI::App app{
      "mpio: multipath iSCSI in userspace. Logs in to a target over several "
      "portals, groups "
      "the paths to each LUN into one device, routes I/O with a path selection "
      "plugin, and "
      "exports each device over NBD and FUSE.\nRun 'mpio VERB --help' for a "
      "verb's options."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "mpio 0.1.0");
  mpio::cli::AddDiscoverCommand(&app);
  mpio::cli::AddBenchCommand(&app);
  mpio::cli::AddServeCommand(&app);
  mpio::cli::AddMountCommands(&app);
  mpio::cli::AddAdminCommands(&app);
  mpio::cli::AddCheckCommand(&app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" that exit 0; real usage errors
    // exit 2 like every verb's own argument checks.
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return 0;
}
