#include "engine/claim/plugin_registry.h"

#include <dirent.h>
#include <dlfcn.h>
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#ifndef MPIO_PLUGIN_BUILD_DIR
#define MPIO_PLUGIN_BUILD_DIR ""
#endif
#ifndef MPIO_PLUGIN_INSTALL_DIR
#define MPIO_PLUGIN_INSTALL_DIR "/usr/local/lib/mpio/plugins"
#endif

namespace mpio {
namespace {

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? absl::StrCat("SIG", abbrev) : absl::StrCat("signal ", sig);
}

// Runs create("") + destroy() of `ops` in a forked child; "" when the child
// exited 0, else why the plugin is refused. The child runs only the
// plugin's create()/destroy() and _exit()s: no atexit handlers, no stdio
// flush of the parent's buffers. (The parent may have threads; glibc keeps
// malloc usable in the child, and plugins take no other locks.)
std::string TrialRun(const mpio_plugin& ops, absl::Duration timeout) {
  const pid_t pid = fork();
  if (pid < 0) {
    // Cannot fork (out of processes): load without the trial rather than
    // refuse a plugin for the host's trouble.
    return "";
  }
  if (pid == 0) {
    prctl(PR_SET_DUMPABLE, 0);  // a crash here leaves no core behind
    char err[256] = {0};
    void* inst = ops.create("", err, sizeof(err));
    if (inst != nullptr) ops.destroy(inst);
    _exit(0);
  }
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return "";  // reaped elsewhere: no verdict
    if (absl::Now() >= deadline) {
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return absl::StrCat(
          "create()/destroy() with default options did not return within ",
          absl::FormatDuration(timeout),
          " in a trial run (hangs?); refusing it");
    }
    const timespec nap = {0, 2 * 1000 * 1000};
    nanosleep(&nap, nullptr);
  }
  if (WIFSIGNALED(status)) {
    return absl::StrCat(
        "create()/destroy() with default options crashed in a trial run "
        "(killed by ",
        SignalName(WTERMSIG(status)),
        "); refusing it: plugins run in-process, a crash would take the "
        "engine down");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    return absl::StrCat(
        "create()/destroy() with default options ended the trial run with "
        "exit status ",
        WEXITSTATUS(status),
        " (crashed under a sanitizer, or called exit()); refusing it");
  }
  return "";
}

}  // namespace

const char* PluginKindName(uint32_t kind) {
  switch (kind) {
    case MPIO_PLUGIN_PSP:
      return "PSP";
    case MPIO_PLUGIN_SATP:
      return "SATP";
  }
  return "unknown";
}

std::string PluginInstance::Describe() const {
  if (plugin_->ops.describe == nullptr) return "{}";
  char buf[512];
  plugin_->ops.describe(instance_, buf, sizeof(buf));
  return buf;
}

PluginRegistry::~PluginRegistry() {
  // Handles stay open until the registry dies: instances may still point
  // into the code.
  for (auto& p : plugins_) {
    if (p->handle) dlclose(p->handle);
  }
}

std::vector<std::string> PluginRegistry::DefaultDirectories() {
  std::vector<std::string> dirs;
  if (const char* env = getenv("MPIO_PLUGIN_DIR"); env && *env)
    dirs.push_back(env);
  if (*MPIO_PLUGIN_BUILD_DIR) dirs.push_back(MPIO_PLUGIN_BUILD_DIR);
  dirs.push_back(MPIO_PLUGIN_INSTALL_DIR);
  return dirs;
}

std::vector<std::string> PluginRegistry::LoadDirectory(const std::string& dir) {
  std::vector<std::string> errors;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return errors;  // a missing directory is not an error
  std::vector<std::string> files;
  while (dirent* e = readdir(d)) {
    if (absl::EndsWith(e->d_name, ".so"))
      files.push_back(absl::StrCat(dir, "/", e->d_name));
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    absl::Status s = LoadFile(f);
    if (!s.ok()) errors.push_back(std::string(s.message()));
  }
  return errors;
}

absl::Status PluginRegistry::LoadFile(const std::string& path) {
  auto refuse = [&](std::string why) {
    return absl::InvalidArgumentError(absl::StrCat("plugin ", path, ": ", why));
  };
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr)
    return refuse(absl::StrCat("cannot load: ", dlerror()));
  auto close_and = [&](std::string why) {
    dlclose(handle);
    return refuse(std::move(why));
  };
  auto entry = reinterpret_cast<mpio_plugin_entry_fn>(
      dlsym(handle, MPIO_PLUGIN_ENTRY_SYMBOL));
  if (entry == nullptr) {
    return close_and(absl::StrCat("no entry symbol '", MPIO_PLUGIN_ENTRY_SYMBOL,
                                  "' (not an mpio plugin?)"));
  }
  const mpio_plugin* desc = entry();
  if (desc == nullptr) return close_and("entry returned no descriptor");
  if (desc->abi_version != MPIO_PLUGIN_ABI_VERSION) {
    return close_and(absl::StrCat(
        "ABI version ", desc->abi_version, ", but this engine speaks version ",
        MPIO_PLUGIN_ABI_VERSION, "; rebuild the plugin"));
  }
  if (desc->struct_size < offsetof(mpio_plugin, select)) {
    return close_and(
        absl::StrCat("descriptor too small (", desc->struct_size, " bytes)"));
  }
  auto p = std::make_unique<LoadedPlugin>();
  p->path = path;
  p->handle = handle;
  // Copy what the plugin has; newer fields we know of stay NULL.
  std::memcpy(&p->ops, desc,
              std::min<size_t>(desc->struct_size, sizeof(mpio_plugin)));
  const mpio_plugin& ops = p->ops;
  if (ops.kind != MPIO_PLUGIN_PSP && ops.kind != MPIO_PLUGIN_SATP) {
    return close_and(absl::StrCat("unknown plugin kind ", ops.kind));
  }
  if (ops.name == nullptr || *ops.name == '\0')
    return close_and("plugin has no name");
  if (ops.create == nullptr || ops.destroy == nullptr) {
    return close_and("create/destroy callbacks missing");
  }
  if (ops.kind == MPIO_PLUGIN_PSP && ops.select == nullptr) {
    return close_and("PSP without a select callback");
  }
  if (ops.kind == MPIO_PLUGIN_SATP &&
      (ops.claim == nullptr || ops.classify == nullptr)) {
    return close_and("SATP without claim/classify callbacks");
  }
  if (ops.aliases) {
    for (const char* const* a = ops.aliases; *a; a++)
      p->aliases.emplace_back(*a);
  }
  auto clash = [&](const std::string& n) -> const LoadedPlugin* {
    return Find(static_cast<mpio_plugin_kind>(ops.kind), n);
  };
  if (const LoadedPlugin* other = clash(ops.name)) {
    return close_and(absl::StrCat(PluginKindName(ops.kind), " name '", ops.name,
                                  "' already provided by ", other->path));
  }
  for (const auto& a : p->aliases) {
    if (const LoadedPlugin* other = clash(a)) {
      return close_and(
          absl::StrCat("alias '", a, "' already provided by ", other->path));
    }
  }
  if (trial_timeout_ > absl::ZeroDuration()) {
    if (std::string why = TrialRun(ops, trial_timeout_); !why.empty())
      return close_and(std::move(why));
  }
  plugins_.push_back(std::move(p));
  return absl::OkStatus();
}

const LoadedPlugin* PluginRegistry::Find(mpio_plugin_kind kind,
                                         const std::string& name) const {
  for (const auto& p : plugins_) {
    if (p->ops.kind != static_cast<uint32_t>(kind)) continue;
    if (strcasecmp(p->ops.name, name.c_str()) == 0) return p.get();
    for (const auto& a : p->aliases) {
      if (strcasecmp(a.c_str(), name.c_str()) == 0) return p.get();
    }
  }
  return nullptr;
}

absl::StatusOr<std::unique_ptr<PluginInstance>> PluginRegistry::Create(
    mpio_plugin_kind kind, const std::string& name,
    const std::string& options) const {
  const LoadedPlugin* p = Find(kind, name);
  if (p == nullptr) {
    std::string known;
    for (const auto& q : plugins_) {
      if (q->ops.kind == static_cast<uint32_t>(kind))
        absl::StrAppend(&known, known.empty() ? "" : ", ", q->ops.name);
    }
    return absl::NotFoundError(
        absl::StrCat("no ", PluginKindName(kind), " named '", name,
                     "'; loaded: ", known.empty() ? "(none)" : known));
  }
  char err[512] = {0};
  void* inst = p->ops.create(options.c_str(), err, sizeof(err));
  if (inst == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        PluginKindName(kind), " ", p->ops.name, " (", p->path,
        ") refused options '", options, "': ", *err ? err : "no reason given"));
  }
  return std::make_unique<PluginInstance>(p, inst, options);
}

}  // namespace mpio
