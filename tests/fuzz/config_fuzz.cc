// libFuzzer target: random text through ParseConfigText, the parser behind
// `mpio serve --config`. Checks that it never crashes, hangs or throws, and
// that its answer keeps the contract:
//   - an error is InvalidArgument whose every line starts with the source
//     name (so the user always learns where the problem is);
//   - an accepted config holds only what the checks allow: each target has
//     portals, claim rule ids are positive and unique, timeouts positive,
//     the log level and fence are from their lists.
// Secret files and variables named by the input are read for real; the
// fuzzer's environment has no MPIO_* secrets, so those paths end in errors.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "engine/config/config_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string kSource = "/fuzz/mpio.toml";
  std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<mpio::DaemonConfig> c = mpio::ParseConfigText(text, kSource);
  if (!c.ok()) {
    if (c.status().code() != absl::StatusCode::kInvalidArgument) abort();
    for (absl::string_view line : absl::StrSplit(c.status().message(), '\n')) {
      if (absl::StartsWith(line, "(and ")) continue;  // "(and N more problems)"
      if (!absl::StartsWith(line, kSource + ":")) abort();
    }
    return 0;
  }
  if (c->source != kSource) abort();
  for (const mpio::TargetSpec& t : c->targets) {
    if (t.portals.empty()) abort();
    for (const mpio::PortalSpec& p : t.portals) {
      if (p.address.empty()) abort();
    }
    if (!t.chap_user.empty() && t.chap_secret.empty()) abort();
  }
  std::set<int> ids;
  for (const mpio::ClaimRule& r : c->claim_rules) {
    if (r.id <= 0 || !ids.insert(r.id).second || r.satp.empty()) abort();
  }
  const mpio::EngineOptions& e = c->engine;
  if (e.session.login_timeout <= absl::ZeroDuration() ||
      e.session.command_timeout <= absl::ZeroDuration() ||
      e.path_policy.reconnect_max < e.path_policy.reconnect_min ||
      e.device.no_path_retry < absl::ZeroDuration() ||
      e.path_policy.flap_failures < 0) {
    abort();
  }
  static const std::set<std::string> kFences = {"auto", "reservation", "reset",
                                                "none"};
  if (!kFences.count(e.device.fence)) abort();
  static const std::set<std::string> kLevels = {"error", "warn", "info",
                                                "debug"};
  if (!kLevels.count(c->log_level)) abort();
  return 0;
}
