#include "mpio/target_options.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace mpio::cli {
namespace {

absl::StatusOr<std::string> ReadSecret(const std::string& file, const char* env,
                                       const char* what) {
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in)
      return absl::NotFoundError(
          absl::StrCat("cannot read ", what, " file ", file));
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
  }
  const char* v = getenv(env);
  return std::string(v ? v : "");
}

}  // namespace

void AddTargetOptions(CLI::App* app, TargetOptions* o, bool portals_required) {
  auto* p = app->add_option(
      "--portal,-p", o->portals,
      "Target portal IP[:PORT][%IFACE] (port 3260 by default; %IFACE "
      "binds the path to a local interface). Repeat once per path.");
  if (portals_required) p->required();
  app->add_option(
      "--target,-t", o->target,
      "Target IQN (default: every target SendTargets lists on each portal)");
  app->add_option("--lun", o->luns,
                  "LUN number(s) (default: every LUN REPORT LUNS lists)");
  app->add_option("--initiator", o->initiator, "Initiator IQN")
      ->capture_default_str();
  app->add_option("--chap-user", o->chap_user, "CHAP user name");
  app->add_option("--chap-secret-file", o->chap_secret_file,
                  "File holding the CHAP secret (or set MPIO_CHAP_SECRET)");
  app->add_option("--target-chap-user", o->target_chap_user,
                  "Mutual CHAP: the target's user name");
  app->add_option("--target-chap-secret-file", o->target_chap_secret_file,
                  "Mutual CHAP: file with the target's secret (or "
                  "MPIO_TARGET_CHAP_SECRET)");
  app->add_option("--plugin-dir", o->plugin_dirs,
                  "Directory with SATP/PSP plugins (default: build tree, then "
                  "install dir)");
  app->add_option("--login-timeout", o->login_timeout_s,
                  "Seconds to wait for a login")
      ->capture_default_str();
  app->add_option("--header-digest", o->header_digest,
                  "prefer-none (offer None,CRC32C) or crc32c (require CRC32C; a "
                  "target that answers None is refused)")
      ->check(CLI::IsMember({"prefer-none", "crc32c"}))
      ->capture_default_str();
}

absl::StatusOr<TargetSpec> MakeTargetSpec(const TargetOptions& o) {
  TargetSpec spec;
  for (const auto& p : o.portals) {
    PortalSpec ps;
    auto pct = p.find('%');
    ps.address = p.substr(0, pct);
    if (pct != std::string::npos) ps.interface = p.substr(pct + 1);
    if (ps.address.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--portal '", p, "': no address"));
    }
    spec.portals.push_back(ps);
  }
  spec.target_iqn = o.target;
  spec.luns = o.luns;
  spec.chap_user = o.chap_user;
  auto secret =
      ReadSecret(o.chap_secret_file, "MPIO_CHAP_SECRET", "CHAP secret");
  if (!secret.ok()) return secret.status();
  spec.chap_secret = *secret;
  if (!spec.chap_user.empty() && spec.chap_secret.empty()) {
    return absl::InvalidArgumentError(
        "--chap-user given but no secret: use --chap-secret-file or "
        "MPIO_CHAP_SECRET");
  }
  spec.target_chap_user = o.target_chap_user;
  auto tsecret = ReadSecret(o.target_chap_secret_file,
                            "MPIO_TARGET_CHAP_SECRET", "target CHAP secret");
  if (!tsecret.ok()) return tsecret.status();
  spec.target_chap_secret = *tsecret;
  if (!spec.target_chap_user.empty() && spec.chap_user.empty()) {
    return absl::InvalidArgumentError(
        "mutual CHAP (--target-chap-user) needs --chap-user too");
  }
  return spec;
}

EngineOptions MakeEngineOptions(const TargetOptions& o) {
  EngineOptions e;
  e.initiator_iqn = o.initiator;
  e.plugin_dirs = o.plugin_dirs;
  e.session.login_timeout = absl::Seconds(o.login_timeout_s);
  e.session.require_header_digest = o.header_digest == "crc32c";
  return e;
}

}  // namespace mpio::cli
