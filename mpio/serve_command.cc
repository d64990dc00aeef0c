#include "mpio/serve_command.h"

#include <signal.h>

#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "engine/base/log.h"
#include "engine/config/config_file.h"
#include "mpio/daemon.h"
#include "mpio/target_options.h"

namespace mpio::cli {
namespace {

struct ServeArgs {
  std::string config_file;
  TargetOptions target;
  std::string nbd;
  std::string fuse_dir;
  std::string metrics;
  std::string control;
  std::string log_level;
  std::string log_file;
  double no_path_retry_s = -1;
};

absl::StatusOr<DaemonConfig> BuildConfig(const ServeArgs& a) {
  DaemonConfig c;
  if (!a.config_file.empty()) {
    auto parsed = ParseConfigFile(a.config_file);
    if (!parsed.ok()) return parsed.status();
    c = std::move(*parsed);
  }
  if (const char* env = getenv("MPIO_CONTROL"); env && *env)
    c.control_socket = env;
  if (!a.target.portals.empty()) {
    auto spec = MakeTargetSpec(a.target);
    if (!spec.ok()) return spec.status();
    c.targets.push_back(*spec);
    c.engine.initiator_iqn = a.target.initiator;
    c.engine.session.login_timeout = absl::Seconds(a.target.login_timeout_s);
    if (a.target.header_digest == "crc32c") c.engine.session.require_header_digest = true;
  }
  if (!a.target.plugin_dirs.empty())
    c.engine.plugin_dirs = a.target.plugin_dirs;
  if (!a.nbd.empty()) {
    if (a.nbd.rfind("unix:", 0) == 0) {
      c.nbd_unix = a.nbd.substr(5);
    } else if (a.nbd.rfind("tcp:", 0) == 0) {
      c.nbd_tcp = a.nbd.substr(4);
    } else if (a.nbd[0] == '/') {
      c.nbd_unix = a.nbd;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "--nbd '", a.nbd, "': expected unix:/PATH or tcp:HOST:PORT"));
    }
  }
  if (!a.fuse_dir.empty()) c.fuse_dir = a.fuse_dir;
  if (!a.metrics.empty()) {
    c.metrics_listen = a.metrics == "off" ? "" : a.metrics;
    c.metrics_explicit = true;
  }
  if (!a.control.empty()) c.control_socket = a.control;
  if (!a.log_level.empty()) c.log_level = a.log_level;
  if (!a.log_file.empty()) c.log_file = a.log_file;
  if (a.no_path_retry_s >= 0)
    c.engine.device.no_path_retry = absl::Seconds(a.no_path_retry_s);
  if (c.targets.empty()) {
    return absl::InvalidArgumentError(
        "no target: give --portal (and --target), or a [[target]] in --config");
  }
  return c;
}

int RunServe(const ServeArgs& a) {
  auto config = BuildConfig(a);
  if (!config.ok()) {
    std::cerr << "mpio serve: " << config.status().message() << "\n";
    return 2;
  }
  // Signals are taken synchronously by this thread: block them before any
  // other thread exists so that none of those gets them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  if (!config->log_file.empty()) {
    absl::Status s =
        SetLogFile(config->log_file,
                   static_cast<uint64_t>(config->log_max_file_mib) << 20);
    if (!s.ok()) {
      std::cerr << "mpio serve: " << s.message()
                << " (give a writable --log-file, or none for stderr)\n";
      return 2;
    }
  }

  Daemon daemon;
  absl::Status started = daemon.Start(*config);
  if (!started.ok()) {
    Log(LogLevel::kError, absl::StrCat("cannot start: ", started.message()));
    daemon.Stop();
    return 1;
  }
  Log(LogLevel::kInfo, "ready");
  for (;;) {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig == SIGHUP) {
      // After an outside rotation (logrotate moves the file, then HUPs).
      RequestLogReopen();
      if (a.config_file.empty()) {
        Log(LogLevel::kInfo, "SIGHUP: no --config file to reload");
        continue;
      }
      auto fresh = BuildConfig(a);
      if (!fresh.ok()) {
        Log(LogLevel::kError, absl::StrCat("SIGHUP: config not reloaded: ",
                                           fresh.status().message()));
        continue;
      }
      absl::Status s = daemon.Reload(*fresh);
      if (!s.ok()) Log(LogLevel::kError, absl::StrCat("SIGHUP: ", s.message()));
      continue;
    }
    Log(LogLevel::kInfo,
        sig == SIGTERM ? "SIGTERM: shutting down" : "SIGINT: shutting down");
    break;
  }
  daemon.Stop();
  Log(LogLevel::kInfo, "stopped");
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App* app) {
  auto args = std::make_shared<ServeArgs>();
  auto* cmd = app->add_subcommand("serve",
                                  "Run the multipath engine in the foreground: "
                                  "log in over every portal, export each "
                                  "device over NBD and/or as a FUSE file, "
                                  "serve the control socket and Prometheus "
                                  "metrics. SIGTERM/SIGINT drain I/O and exit "
                                  "0; SIGHUP reloads claim rules and log "
                                  "level from --config.");
  cmd->add_option("--config,-c", args->config_file,
                  "TOML config file (see examples/mpio.toml)");
  AddTargetOptions(cmd, &args->target, /*portals_required=*/false);
  cmd->add_option("--nbd", args->nbd,
                  "NBD listener: unix:/PATH (default none) or tcp:HOST:PORT "
                  "(loopback unless "
                  "allow_remote in the config)");
  cmd->add_option("--fuse", args->fuse_dir,
                  "Mount a FUSE directory with one file per device");
  cmd->add_option("--metrics", args->metrics,
                  "Serve Prometheus /metrics on HOST:PORT (default "
                  "127.0.0.1:9580; 'off' for none; a non-loopback address "
                  "exposes per-path data to that network)");
  cmd->add_option(
      "--control", args->control,
      "Control socket (default /run/mpio/control.sock, or $MPIO_CONTROL)");
  cmd->add_option("--log-level", args->log_level, "error | warn | info | debug")
      ->check(CLI::IsMember({"error", "warn", "info", "debug"}));
  cmd->add_option("--log-file", args->log_file,
                  "Log to this file instead of stderr; it is moved to FILE.1 "
                  "at [log] max_file_mib (default 16) and reopened on SIGHUP");
  cmd->add_option("--no-path-retry", args->no_path_retry_s,
                  "Seconds to queue I/O when all paths are down before failing "
                  "it (default 30)");
  cmd->callback([args] { throw CLI::RuntimeError(RunServe(*args)); });
}

}  // namespace mpio::cli
