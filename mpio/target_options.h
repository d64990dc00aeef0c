// Command-line options shared by every verb that logs in to a target:
// --portal IP[:PORT][%IFACE] (repeatable), --target IQN, --lun N,
// --initiator IQN, CHAP from a file or the environment (never the command
// line: it would show in `ps`), --plugin-dir.
#ifndef MPIO_MPIO_TARGET_OPTIONS_H_
#define MPIO_MPIO_TARGET_OPTIONS_H_

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/core/engine.h"

namespace mpio::cli {

struct TargetOptions {
  std::vector<std::string> portals;
  std::string target;
  std::vector<int> luns;
  std::string initiator = "iqn.2026-12.org.mpio:initiator";
  std::string chap_user;
  std::string chap_secret_file;
  std::string target_chap_user;
  std::string target_chap_secret_file;
  std::vector<std::string> plugin_dirs;
  double login_timeout_s = 5;
  std::string header_digest = "prefer-none";
};

void AddTargetOptions(CLI::App* app, TargetOptions* o,
                      bool portals_required = true);
// Builds the engine inputs; errors say which option is wrong and why.
absl::StatusOr<TargetSpec> MakeTargetSpec(const TargetOptions& o);
EngineOptions MakeEngineOptions(const TargetOptions& o);

}  // namespace mpio::cli

#endif  // MPIO_MPIO_TARGET_OPTIONS_H_
