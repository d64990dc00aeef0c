#include "mpio/mount_command.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "mpio/run_tool.h"
#include "mpio/target_options.h"

extern char** environ;

namespace mpio::cli {
namespace {

namespace fs = std::filesystem;

struct MountArgs {
  TargetOptions target;
  std::string device;
  std::string dir;
  std::string mkfs;
  std::string options;
  double wait_s = 60;
};

std::string StateDir(const std::string& dir) {
  std::string abs = fs::absolute(dir).lexically_normal().string();
  std::string name = absl::StrReplaceAll(abs, {{"/", "_"}});
  return absl::StrCat("/run/mpio/mounts/", name);
}

bool IsMountPoint(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  std::string abs = fs::absolute(dir).lexically_normal().string();
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string a, b, c, root, mp;
    ss >> a >> b >> c >> root >> mp;
    if (mp == abs) return true;
  }
  return false;
}

std::string Tail(const std::string& file, size_t lines) {
  std::ifstream in(file);
  std::vector<std::string> all;
  std::string l;
  while (std::getline(in, l)) all.push_back(l);
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size();
       i++) {
    out += "    " + all[i] + "\n";
  }
  return out;
}

int Fail(const std::string& msg) {
  std::cerr << "mpio mount: " << msg << "\n";
  return 1;
}

int RunMount(const MountArgs& a) {
  if (IsMountPoint(a.dir))
    return Fail(absl::StrCat(a.dir, " is already a mount point"));
  const std::string state = StateDir(a.dir);
  if (fs::exists(state + "/state.json")) {
    return Fail(absl::StrCat(a.dir, " has mpio mount state in ", state,
                             "; run `mpio umount ", a.dir, "` first"));
  }
  std::error_code ec;
  fs::create_directories(state + "/fuse", ec);
  fs::create_directories(a.dir, ec);
  const std::string log = state + "/serve.log";
  const std::string control = state + "/control.sock";

  // --log-file caps the log (it lives in /run, a small tmpfs); stdout and
  // stderr still go to the same file for what bypasses the logger (a crash
  // report).
  std::vector<std::string> argv = {"/proc/self/exe", "serve",     "--fuse",
                                   state + "/fuse",  "--control", control,
                                   "--log-file",     log};
  for (const auto& p : a.target.portals)
    argv.insert(argv.end(), {"--portal", p});
  if (!a.target.target.empty())
    argv.insert(argv.end(), {"--target", a.target.target});
  for (int l : a.target.luns)
    argv.insert(argv.end(), {"--lun", std::to_string(l)});
  for (const auto& d : a.target.plugin_dirs)
    argv.insert(argv.end(), {"--plugin-dir", d});
  argv.insert(argv.end(), {"--initiator", a.target.initiator});
  if (!a.target.chap_user.empty())
    argv.insert(argv.end(), {"--chap-user", a.target.chap_user});
  if (!a.target.chap_secret_file.empty()) {
    argv.insert(argv.end(), {"--chap-secret-file", a.target.chap_secret_file});
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  std::vector<char*> args;
  for (auto& s : argv) args.push_back(s.data());
  args.push_back(nullptr);
  pid_t pid;
  int rc =
      posix_spawn(&pid, "/proc/self/exe", &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    return Fail(absl::StrCat("cannot start mpio serve: ", strerror(rc)));

  // Wait for the device files to appear in the FUSE directory.
  std::vector<std::string> files;
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(int(a.wait_s * 1000));
  std::cerr << "mpio mount: logging in (daemon pid " << pid << ", log " << log
            << ")\n";
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return Fail(absl::StrCat(
          "mpio serve exited before the device appeared; its log:\n",
          Tail(log, 15)));
    }
    files.clear();
    for (auto& e : fs::directory_iterator(state + "/fuse", ec)) {
      if (e.is_regular_file(ec)) files.push_back(e.path().filename().string());
    }
    std::ifstream in(log);
    std::string content((std::istreambuf_iterator<char>(in)), {});
    if (!files.empty() && content.find(" ready") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto abandon = [&](const std::string& msg) {
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
    fs::remove_all(state, ec);
    return Fail(msg);
  };
  if (files.empty()) {
    return abandon(absl::StrCat("no device appeared within ", a.wait_s,
                                " s; log:\n", Tail(log, 15)));
  }
  std::string chosen;
  for (const auto& f : files) {
    if (a.device.empty() ? files.size() == 1 : f.rfind(a.device, 0) == 0) {
      if (!chosen.empty())
        return abandon(
            absl::StrCat("--device '", a.device, "' matches several devices"));
      chosen = f;
    }
  }
  if (chosen.empty()) {
    std::string list;
    for (auto& f : files) list += " " + f;
    return abandon(absl::StrCat(
        a.device.empty() ? "several devices found, pick one with --device:"
                         : "no device matches --device; found:",
        list));
  }
  const std::string file = state + "/fuse/" + chosen;
  auto loop = RunTool({"losetup", "--find", "--show", file});
  if (!loop.ok()) return abandon(std::string(loop.status().message()));
  std::string loopdev(absl::StripAsciiWhitespace(*loop));
  auto detach = [&](const std::string& msg) {
    (void)RunTool({"losetup", "-d", loopdev});
    return abandon(msg);
  };
  if (!a.mkfs.empty()) {
    auto probe = RunTool({"blkid", "-p", "-o", "value", "-s", "TYPE", loopdev});
    if (probe.ok() && !absl::StripAsciiWhitespace(*probe).empty()) {
      std::cerr << "mpio mount: " << chosen << " already holds a "
                << absl::StripAsciiWhitespace(*probe)
                << " filesystem; not formatting it\n";
    } else {
      auto mk = RunTool({"mkfs." + a.mkfs, "-q", loopdev});
      if (!mk.ok()) return detach(std::string(mk.status().message()));
    }
  }
  std::vector<std::string> mount = {"mount"};
  if (!a.options.empty()) mount.insert(mount.end(), {"-o", a.options});
  mount.insert(mount.end(), {loopdev, a.dir});
  auto m = RunTool(mount);
  if (!m.ok()) return detach(std::string(m.status().message()));
  nlohmann::json j = {{"pid", pid},
                      {"loop", loopdev},
                      {"dir", fs::absolute(a.dir).string()},
                      {"device", chosen},
                      {"control", control},
                      {"log", log}};
  std::ofstream(state + "/state.json") << j.dump(2) << "\n";
  std::cout << "Mounted " << chosen << " on " << a.dir << " (" << loopdev
            << ", daemon pid " << pid << ")\n"
            << "  per-path numbers: mpio path list --control " << control
            << "\n"
            << "  undo:             mpio umount " << a.dir << "\n";
  return 0;
}

int RunUmount(const std::string& dir) {
  const std::string state = StateDir(dir);
  std::ifstream in(state + "/state.json");
  if (!in) {
    std::cerr << "mpio umount: " << dir
              << " was not mounted by `mpio mount` (no " << state
              << "/state.json)\n";
    return 1;
  }
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) {
    std::cerr << "mpio umount: " << state << "/state.json is unreadable\n";
    return 1;
  }
  int errors = 0;
  if (IsMountPoint(dir)) {
    auto u = RunTool({"umount", dir});
    if (!u.ok()) {
      std::cerr << "mpio umount: " << u.status().message() << "\n";
      return 1;  // still busy: keep everything else in place
    }
  }
  auto d = RunTool({"losetup", "-d", j.value("loop", "")});
  if (!d.ok()) {
    std::cerr << "mpio umount: " << d.status().message() << "\n";
    errors++;
  }
  pid_t pid = j.value("pid", 0);
  if (pid > 0 && kill(pid, SIGTERM) == 0) {
    for (int i = 0; i < 300 && kill(pid, 0) == 0; i++) {
      waitpid(pid, nullptr, WNOHANG);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (kill(pid, 0) == 0) {
      std::cerr << "mpio umount: daemon " << pid << " did not stop in 30 s\n";
      errors++;
    }
  }
  if (errors == 0) {
    std::error_code ec;
    fs::remove_all(state, ec);
    std::cout << "Unmounted " << dir << "\n";
  }
  return errors ? 1 : 0;
}

}  // namespace

void AddMountCommands(CLI::App* app) {
  auto args = std::make_shared<MountArgs>();
  auto* m =
      app->add_subcommand("mount",
                          "Mount a multipathed LUN's filesystem in one step: "
                          "starts `mpio serve` in the "
                          "background with a FUSE export, attaches the device "
                          "file to a loop device and "
                          "mounts it on DIR. Undo with `mpio umount DIR`.");
  AddTargetOptions(m, &args->target);
  m->add_option(
      "--device,-d", args->device,
      "Device identity or prefix (needed when the target has several LUNs)");
  m->add_option(
      "--mkfs", args->mkfs,
      "Make this filesystem (e.g. ext4) first if the device has none");
  m->add_option("--options,-o", args->options, "Mount options");
  m->add_option("--wait", args->wait_s, "Seconds to wait for the device")
      ->capture_default_str();
  m->add_option("dir", args->dir, "Mount point")->required();
  m->callback([args] { throw CLI::RuntimeError(RunMount(*args)); });

  auto dir = std::make_shared<std::string>();
  auto* u =
      app->add_subcommand("umount",
                          "Undo `mpio mount DIR`: unmount, detach the loop "
                          "device, stop the daemon (draining its I/O).");
  u->add_option("dir", *dir, "Mount point")->required();
  u->callback([dir] { throw CLI::RuntimeError(RunUmount(*dir)); });
}

}  // namespace mpio::cli
