#include "tests/integration/lab_env.h"

#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/base/sync.h"
#include "tests/support/run_shell.h"

namespace mpio::testing {

std::string LabScript() { return MPIO_SOURCE_DIR "/tests/lab/lab.sh"; }
std::string PluginDir() { return MPIO_PLUGIN_DIR; }

absl::StatusOr<std::string> Shell(const std::string& command) {
  auto r = testing::RunShell(command + " 2>&1");
  if (r.status != 0)
    return absl::InternalError(
        absl::StrCat("`", command, "` failed: ", r.output));
  return std::move(r.output);
}

absl::Status SyncIo(BlockDevice* dev, IoOp op, uint64_t offset,
                    std::vector<uint8_t>* buf, uint64_t length) {
  IoRequest r;
  iovec iov{buf ? buf->data() : nullptr, buf ? buf->size() : 0};
  r.op = op;
  r.offset = offset;
  r.length = length ? length : (buf ? buf->size() : 0);
  r.iov = buf ? &iov : nullptr;
  r.iovcnt = buf ? 1 : 0;
  struct Ctx {
    Notification done;
    absl::Status status;
  } ctx;
  r.user = &ctx;
  r.done = [](IoRequest* req, const absl::Status& s) {
    auto* c = static_cast<Ctx*>(req->user);
    c->status = s;
    c->done.Notify();
  };
  dev->Submit(&r);
  ctx.done.WaitForNotification();
  return ctx.status;
}

absl::StatusOr<LabEnv> LabEnv::Load(const std::string& name) {
  auto out = Shell(absl::StrCat("bash ", LabScript(), " env --name ", name));
  if (!out.ok()) return out.status();
  LabEnv env;
  env.name = name;
  for (absl::string_view line : absl::StrSplit(*out, '\n')) {
    auto eq = line.find('=');
    if (eq == absl::string_view::npos) continue;
    std::string value(line.substr(eq + 1));
    // lab.sh quotes with backslashes (printf %q): undo the simple cases.
    std::string unq;
    for (size_t i = 0; i < value.size(); i++) {
      if (value[i] == '\\' && i + 1 < value.size()) i++;
      unq += value[i];
    }
    if (unq == "''") unq.clear();  // printf %q of an empty string
    env.vars[std::string(line.substr(0, eq))] = unq;
  }
  env.target_iqn = env.vars["LAB_TARGET_IQN"];
  for (absl::string_view p :
       absl::StrSplit(env.vars["LAB_PORTALS"], ' ', absl::SkipEmpty())) {
    env.portals.emplace_back(p);
  }
  (void)absl::SimpleAtoi(env.vars["LAB_LUN_SIZE_BYTES"], &env.lun_size_bytes);
  if (env.portals.empty())
    return absl::NotFoundError(absl::StrCat("lab ", name, " has no portals"));
  return env;
}

absl::Status LabEnv::Fault(int path, const std::string& fault,
                           const std::string& extra) const {
  auto r = Shell(absl::StrCat("bash ", LabScript(), " fault --name ", name,
                              " --path ", path, " ", fault, " ", extra));
  return r.ok() ? absl::OkStatus() : r.status();
}

absl::Status LabEnv::TargetFault(const std::string& fault) const {
  auto r = Shell(
      absl::StrCat("bash ", LabScript(), " fault --name ", name, " ", fault));
  return r.ok() ? absl::OkStatus() : r.status();
}

TargetSpec LabEnv::Spec() const {
  TargetSpec spec;
  for (const auto& p : portals) spec.portals.push_back({p, ""});
  spec.target_iqn = target_iqn;
  return spec;
}

}  // namespace mpio::testing
