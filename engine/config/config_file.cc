#include "engine/config/config_file.h"

#include <sys/un.h>
#include <toml++/toml.h>

#include <algorithm>
#include <climits>
#include <exception>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/config/address.h"
#include "engine/config/duration.h"
#include "engine/config/secret.h"
#include "engine/config/small_file.h"
#include "engine/config/toml_reader.h"

namespace mpio {
namespace {

using config_internal::Diagnostics;
using config_internal::DurationRange;
using config_internal::TableReader;

constexpr absl::string_view kTables[] = {"engine",  "target", "claim_rule",
                                         "nbd",     "fuse",   "metrics",
                                         "control", "log"};
constexpr absl::string_view kTableHeaders[] = {
    "[engine]", "[[target]]", "[[claim_rule]]", "[nbd]",
    "[fuse]",   "[metrics]",  "[control]",      "[log]"};

constexpr absl::string_view kEngineKeys[] = {
    "initiator",        "login_timeout",       "command_timeout",
    "nop_interval",     "nop_max_outstanding", "ack_stall",
    "no_path_retry",    "max_retries",         "fence",
    "reconnect_min",    "reconnect_max",       "probation",
    "flap_failures",    "flap_window",         "marginal_hold",
    "checker_interval", "discovery_timeout",   "plugin_dirs",
    "header_digest",    "reprobe_interval"};
constexpr absl::string_view kTargetKeys[] = {"portals",
                                             "iqn",
                                             "luns",
                                             "chap_user",
                                             "chap_secret_file",
                                             "chap_secret_env",
                                             "target_chap_user",
                                             "target_chap_secret_file",
                                             "target_chap_secret_env"};
// Refused with their own message rather than as unknown keys.
constexpr absl::string_view kInlineSecretKeys[] = {"chap_secret",
                                                   "target_chap_secret"};
constexpr absl::string_view kClaimRuleKeys[] = {
    "id",           "vendor", "model",       "identity",   "satp",
    "satp_options", "psp",    "psp_options", "description"};
constexpr absl::string_view kNbdKeys[] = {"unix", "tcp", "allow_remote"};
constexpr absl::string_view kFuseKeys[] = {"dir", "allow_other"};
constexpr absl::string_view kMetricsKeys[] = {"listen"};
constexpr absl::string_view kControlKeys[] = {"socket"};
constexpr absl::string_view kLogKeys[] = {"level", "file", "max_file_mib"};

// DeviceOptions::fence (engine/device/multipath_device.h).
constexpr absl::string_view kFences[] = {"auto", "reservation", "reset",
                                         "none"};
constexpr absl::string_view kLogLevels[] = {"error", "warn", "info", "debug"};

constexpr DurationRange kPositive{.allow_zero = false};
constexpr DurationRange kZeroOk{.allow_zero = true};

// libiscsi addresses LUNs with single-level peripheral (< 256) or flat
// (< 16384) addressing; anything above cannot be reached.
constexpr int kMaxLun = 16383;
constexpr size_t kMaxIscsiName = 223;  // RFC 7143 section 4.2.7.1
constexpr size_t kMaxConfigBytes = 1 << 20;

// Why `name` is not an iSCSI name, or "".
std::string IscsiNameProblem(absl::string_view name) {
  std::string lower = absl::AsciiStrToLower(name);
  if (!absl::StartsWith(lower, "iqn.") && !absl::StartsWith(lower, "eui.") &&
      !absl::StartsWith(lower, "naa.")) {
    return absl::StrCat("\"", name,
                        "\" is not an iSCSI name: it must start with iqn., "
                        "eui. or naa. (e.g. \"iqn.2026-12.org.mpio:host1\")");
  }
  if (name.size() > kMaxIscsiName) {
    return absl::StrCat("is longer than ", kMaxIscsiName,
                        " bytes, the iSCSI name limit");
  }
  for (char c : name) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return absl::StrCat("\"", name,
                          "\" is not an iSCSI name: no spaces or control "
                          "characters allowed");
    }
  }
  return {};
}

class Parser {
 public:
  Parser(const toml::table& root, const std::string& source)
      : root_(root), source_(source), diag_(source) {}

  absl::StatusOr<DaemonConfig> Run() {
    TopLevel();
    absl::Status s = diag_.ToStatus();
    if (!s.ok()) return s;
    config_.source = source_;
    return std::move(config_);
  }

 private:
  void TopLevel();
  void Engine(TableReader& r);
  void Target(TableReader& r);
  void Chap(TableReader& r, absl::string_view prefix, std::string* user,
            std::string* secret);
  void ClaimRuleTable(TableReader& r);
  void Nbd(TableReader& r);
  void Fuse(TableReader& r);
  void Metrics(TableReader& r);
  void Control(TableReader& r);
  void Log(TableReader& r);
  void SocketPath(TableReader& r, absl::string_view key, std::string* out);
  std::string ResolvePath(const std::string& path) const;

  const toml::table& root_;
  const std::string& source_;
  Diagnostics diag_;
  DaemonConfig config_;
  std::map<int, std::string> rule_ids_;  // id -> where it was defined
};

void Parser::TopLevel() {
  TableReader root(root_, "", "the top level", &diag_);
  for (auto&& [key, node] : root_) {
    absl::string_view k(key.str().data(), key.str().size());
    const auto* known = std::find(std::begin(kTables), std::end(kTables), k);
    if (known == std::end(kTables)) {
      std::string message =
          node.is_table() || node.is_array_of_tables()
              ? absl::StrCat("unknown table")
              : absl::StrCat("unknown key; settings go inside a table");
      absl::string_view near = config_internal::Suggest(k, kTables);
      if (!near.empty())
        absl::StrAppend(&message, " (did you mean ", near, "?)");
      absl::StrAppend(&message,
                      "; valid tables: ", absl::StrJoin(kTableHeaders, ", "));
      diag_.Add(key.source().begin, k, message);
      continue;
    }
    absl::string_view header = kTableHeaders[known - std::begin(kTables)];
    bool repeated = k == "target" || k == "claim_rule";
    if (!repeated) {
      const toml::table* t = node.as_table();
      if (t == nullptr) {
        diag_.Add(
            key.source().begin, k,
            absl::StrCat("expected a table (write ", header, " once), got ",
                         config_internal::TypeName(node)));
        continue;
      }
      TableReader r(*t, std::string(k), std::string(header), &diag_);
      if (k == "engine") Engine(r);
      if (k == "nbd") Nbd(r);
      if (k == "fuse") Fuse(r);
      if (k == "metrics") Metrics(r);
      if (k == "control") Control(r);
      if (k == "log") Log(r);
      continue;
    }
    const toml::array* a = node.as_array();
    if (a == nullptr || !a->is_array_of_tables()) {
      diag_.Add(key.source().begin, k,
                absl::StrCat("expected an array of tables: write ", header,
                             " (once per ", k, "), got ",
                             config_internal::TypeName(node)));
      continue;
    }
    for (size_t i = 0; i < a->size(); i++) {
      TableReader r(*(*a)[i].as_table(), absl::StrCat(k, "[", i, "]"),
                    std::string(header), &diag_);
      if (k == "target") Target(r);
      if (k == "claim_rule") ClaimRuleTable(r);
    }
  }
}

void Parser::Engine(TableReader& r) {
  r.CheckKeys(kEngineKeys);
  EngineOptions& e = config_.engine;
  std::string initiator;
  if (r.ReadString("initiator", &initiator)) {
    std::string problem = IscsiNameProblem(initiator);
    if (!problem.empty()) {
      r.Error("initiator", problem);
    } else {
      e.initiator_iqn = initiator;
      e.session.initiator_iqn = initiator;
    }
  }
  r.ReadDuration("login_timeout", kPositive, &e.session.login_timeout);
  r.ReadDuration("command_timeout", kPositive, &e.session.command_timeout);
  r.ReadDuration("nop_interval", kPositive, &e.session.nop_interval);
  r.ReadInt("nop_max_outstanding", 1, 1000, &e.session.nop_max_outstanding);
  r.ReadDuration("ack_stall", kPositive, &e.session.ack_stall);

  DurationRange no_path_retry = kZeroOk;
  no_path_retry.allow_queue_fail = true;
  r.ReadDuration("no_path_retry", no_path_retry, &e.device.no_path_retry);
  r.ReadInt("max_retries", 0, 1000, &e.device.max_retries);
  r.ReadChoice("fence", kFences, &e.device.fence);
  r.ReadDuration("reprobe_interval", kZeroOk, &e.device.reprobe_interval);
  // "crc32c": require CRC32C header digests (a target answering None is
  // refused); "prefer-none": offer None,CRC32C and take what comes.
  constexpr absl::string_view kDigests[] = {"prefer-none", "crc32c"};
  std::string digest;
  if (r.ReadChoice("header_digest", kDigests, &digest)) {
    e.session.require_header_digest = digest == "crc32c";
  }

  PathPolicy& p = e.path_policy;
  bool min_ok = r.ReadDuration("reconnect_min", kPositive, &p.reconnect_min);
  bool max_ok = r.ReadDuration("reconnect_max", kPositive, &p.reconnect_max);
  if ((min_ok || max_ok) && p.reconnect_max < p.reconnect_min) {
    // Blame the key that is in the file; both may be.
    r.Error(
        max_ok ? "reconnect_max" : "reconnect_min",
        absl::StrCat("reconnect_max (", FormatConfigDuration(p.reconnect_max),
                     ") must not be less than reconnect_min (",
                     FormatConfigDuration(p.reconnect_min), ")"));
  }
  r.ReadDuration("probation", kZeroOk, &p.probation);
  r.ReadInt("flap_failures", 0, 1000, &p.flap_failures);
  r.ReadDuration("flap_window", kPositive, &p.flap_window);
  r.ReadDuration("marginal_hold", kPositive, &p.marginal_hold);
  r.ReadDuration("checker_interval", kPositive, &p.checker_interval);
  r.ReadDuration("discovery_timeout", kPositive, &e.discovery_timeout);

  std::vector<std::string> dirs;
  if (r.ReadStringArray("plugin_dirs", &dirs)) {
    const toml::array& a = *r.Get("plugin_dirs")->as_array();
    bool ok = true;
    for (size_t i = 0; i < dirs.size(); i++) {
      if (dirs[i].empty()) {
        r.ElementError("plugin_dirs", i, a[i], "is empty: give a directory");
        ok = false;
      }
    }
    if (ok) e.plugin_dirs = std::move(dirs);
  }
}

void Parser::Target(TableReader& r) {
  r.CheckKeys(kTargetKeys, kInlineSecretKeys);
  for (absl::string_view key : kInlineSecretKeys) {
    if (!r.Has(key)) continue;
    std::string prefix(
        key.substr(0, key.size() - absl::string_view("_secret").size()));
    r.Error(key,
            absl::StrCat(
                "secrets are not accepted in the config file (it is often "
                "world-readable and gets copied around): put the secret "
                "in a file readable only by mpio and set ",
                prefix, "_secret_file = \"/etc/mpio/chap.secret\", or set ",
                prefix, "_secret_env = \"MPIO_CHAP_SECRET\""));
  }
  TargetSpec spec;
  bool ok = true;

  std::vector<std::string> portals;
  if (!r.Has("portals")) {
    r.Missing("portals",
              "is required: the target's portal addresses, e.g. "
              "portals = [\"198.18.0.2\", \"198.18.0.6:3260%eth1\"]");
    ok = false;
  } else if (r.ReadStringArray("portals", &portals)) {
    const toml::array& a = *r.Get("portals")->as_array();
    if (portals.empty()) {
      r.Error("portals",
              "is empty: give at least one portal, e.g. "
              "portals = [\"198.18.0.2\"]");
      ok = false;
    }
    std::map<std::string, size_t> seen;
    for (size_t i = 0; i < portals.size(); i++) {
      absl::StatusOr<PortalSpec> p = ParsePortal(portals[i]);
      if (!p.ok()) {
        r.ElementError("portals", i, a[i], p.status().message());
        ok = false;
        continue;
      }
      auto [it, fresh] = seen.emplace(PortalKey(*p), i);
      if (!fresh) {
        r.ElementError(
            "portals", i, a[i],
            absl::StrCat("\"", portals[i], "\" is the same path as portals[",
                         it->second, "]"));
        ok = false;
        continue;
      }
      spec.portals.push_back(std::move(*p));
    }
  } else {
    ok = false;
  }

  if (r.ReadString("iqn", &spec.target_iqn) && !spec.target_iqn.empty()) {
    std::string problem = IscsiNameProblem(spec.target_iqn);
    if (!problem.empty()) {
      r.Error("iqn", problem);
      ok = false;
    }
  }

  if (const toml::array* a = r.ReadArray("luns", "integers")) {
    std::set<int64_t> seen;
    for (size_t i = 0; i < a->size(); i++) {
      const toml::node& n = (*a)[i];
      const toml::value<int64_t>* v = n.as_integer();
      if (v == nullptr) {
        r.ElementError("luns", i, n,
                       absl::StrCat("expected an integer, got ",
                                    config_internal::TypeName(n)));
        ok = false;
      } else if (v->get() < 0 || v->get() > kMaxLun) {
        r.ElementError(
            "luns", i, n,
            absl::StrCat("must be from 0 to ", kMaxLun, ", got ", v->get()));
        ok = false;
      } else if (!seen.insert(v->get()).second) {
        r.ElementError("luns", i, n,
                       absl::StrCat("LUN ", v->get(), " is listed twice"));
        ok = false;
      } else {
        spec.luns.push_back(static_cast<int>(v->get()));
      }
    }
  } else if (r.Has("luns")) {
    ok = false;
  }

  Chap(r, "chap", &spec.chap_user, &spec.chap_secret);
  Chap(r, "target_chap", &spec.target_chap_user, &spec.target_chap_secret);
  if (r.Has("target_chap_user") && !r.Has("chap_user")) {
    r.Error("target_chap_user",
            "mutual CHAP needs one-way CHAP too: add chap_user and "
            "chap_secret_file (or chap_secret_env)");
  }
  // Diagnostics decide whether the whole parse fails; `ok` only keeps a
  // half-read target out of the result.
  if (ok) config_.targets.push_back(std::move(spec));
}

void Parser::Chap(TableReader& r, absl::string_view prefix, std::string* user,
                  std::string* secret) {
  const std::string user_key = absl::StrCat(prefix, "_user");
  const std::string file_key = absl::StrCat(prefix, "_secret_file");
  const std::string env_key = absl::StrCat(prefix, "_secret_env");
  if (r.ReadString(user_key, user) && user->empty()) {
    r.Error(user_key, "is empty: give the CHAP user name or drop the key");
  }
  std::string file, env;
  bool has_file = r.ReadString(file_key, &file);
  bool has_env = r.ReadString(env_key, &env);
  if (!r.Has(file_key) && !r.Has(env_key)) {
    // An inline secret already has its own, more useful error.
    if (r.Has(user_key) && !r.Has(absl::StrCat(prefix, "_secret"))) {
      r.Error(user_key,
              absl::StrCat("is set but there is no secret: add ", file_key,
                           " = \"/etc/mpio/chap.secret\" or ", env_key,
                           " = \"MPIO_CHAP_SECRET\""));
    }
    return;
  }
  if (r.Has(file_key) && r.Has(env_key)) {
    r.Error(env_key, absl::StrCat("give either ", file_key, " or ", env_key,
                                  ", not both"));
    return;
  }
  if (!has_file && !has_env) return;  // wrong type, already reported
  const std::string& key = has_file ? file_key : env_key;
  if (!r.Has(user_key)) {
    r.Error(key, absl::StrCat("a CHAP secret needs a user name: add ", user_key,
                              " = \"...\""));
    return;
  }
  if (has_file && file.empty()) {
    r.Error(key, "is empty: give the path of the secret file");
    return;
  }
  absl::StatusOr<std::string> s =
      has_file ? ReadSecretFile(ResolvePath(file)) : ReadSecretEnv(env);
  if (!s.ok()) {
    r.Error(key, s.status().message());
    return;
  }
  *secret = std::move(*s);
}

void Parser::ClaimRuleTable(TableReader& r) {
  r.CheckKeys(kClaimRuleKeys);
  ClaimRule rule;
  bool ok = true;
  if (!r.Has("id")) {
    r.Missing("id",
              "is required: a positive rule number (rules are tried in "
              "ascending order)");
    ok = false;
  } else if (r.ReadInt("id", 1, INT_MAX, &rule.id)) {
    auto [it, fresh] = rule_ids_.emplace(rule.id, r.path());
    if (!fresh) {
      r.Error("id", absl::StrCat("rule id ", rule.id, " is already used by ",
                                 it->second, "; ids must be unique"));
      ok = false;
    }
  } else {
    ok = false;
  }
  r.ReadString("vendor", &rule.vendor);
  r.ReadString("model", &rule.model);
  r.ReadString("identity", &rule.identity);
  if (!r.Has("satp")) {
    r.Missing(
        "satp",
        "is required: the SATP plugin to use, e.g. satp = \"default_aa\"");
    ok = false;
  } else if (r.ReadString("satp", &rule.satp)) {
    if (rule.satp.empty()) {
      r.Error("satp", "is empty: name the SATP plugin, e.g. \"default_aa\"");
      ok = false;
    }
  } else {
    ok = false;
  }
  r.ReadString("satp_options", &rule.satp_options);
  r.ReadString("psp", &rule.psp);
  r.ReadString("psp_options", &rule.psp_options);
  r.ReadString("description", &rule.description);
  if (ok) config_.claim_rules.push_back(std::move(rule));
}

void Parser::SocketPath(TableReader& r, absl::string_view key,
                        std::string* out) {
  std::string path;
  if (!r.ReadString(key, &path)) return;
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    r.Error(key, absl::StrCat("is ", path.size(),
                              " bytes long; a Unix socket path must be under ",
                              sizeof(sockaddr_un::sun_path)));
    return;
  }
  *out = std::move(path);
}

void Parser::Nbd(TableReader& r) {
  r.CheckKeys(kNbdKeys);
  SocketPath(r, "unix", &config_.nbd_unix);
  std::string tcp;
  if (r.ReadString("tcp", &tcp)) {
    absl::StatusOr<HostPort> hp = tcp.empty()
                                      ? absl::StatusOr<HostPort>(HostPort{})
                                      : ParseListenAddress(tcp);
    if (!hp.ok()) {
      r.Error("tcp", hp.status().message());
    } else {
      config_.nbd_tcp = tcp;
    }
  }
  r.ReadBool("allow_remote", &config_.nbd_allow_remote);
}

void Parser::Fuse(TableReader& r) {
  r.CheckKeys(kFuseKeys);
  r.ReadString("dir", &config_.fuse_dir);
  r.ReadBool("allow_other", &config_.fuse_allow_other);
}

void Parser::Metrics(TableReader& r) {
  r.CheckKeys(kMetricsKeys);
  std::string listen;
  if (r.ReadString("listen", &listen)) {
    // "" or "off": no metrics server.
    if (listen == "off") listen.clear();
    absl::StatusOr<HostPort> hp = listen.empty()
                                      ? absl::StatusOr<HostPort>(HostPort{})
                                      : ParseListenAddress(listen);
    if (!hp.ok()) {
      r.Error("listen", hp.status().message());
    } else {
      config_.metrics_listen = listen;
      config_.metrics_explicit = true;
    }
  }
}

void Parser::Control(TableReader& r) {
  r.CheckKeys(kControlKeys);
  SocketPath(r, "socket", &config_.control_socket);
}

void Parser::Log(TableReader& r) {
  r.CheckKeys(kLogKeys);
  r.ReadChoice("level", kLogLevels, &config_.log_level);
  std::string file;
  if (r.ReadString("file", &file)) config_.log_file = ResolvePath(file);
  r.ReadInt("max_file_mib", 1, 4096, &config_.log_max_file_mib);
}

std::string Parser::ResolvePath(const std::string& path) const {
  if (path.empty() || path[0] == '/') return path;
  size_t slash = source_.rfind('/');
  if (slash == std::string::npos) return path;
  return absl::StrCat(source_.substr(0, slash + 1), path);
}

}  // namespace

absl::StatusOr<DaemonConfig> ParseConfigText(std::string_view text,
                                             const std::string& source_name) {
  // toml++ (the Debian build) reports syntax errors by throwing; this is the
  // edge where that stops.
  try {
    toml::table root = toml::parse(text, std::string_view(source_name));
    Parser parser(root, source_name);
    return parser.Run();
  } catch (const toml::parse_error& e) {
    Diagnostics d(source_name);
    std::string_view what = e.description();
    return absl::InvalidArgumentError(
        absl::StrCat(d.Prefix(e.source().begin), "invalid TOML: ",
                     config_internal::Printable(
                         absl::string_view(what.data(), what.size()))));
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat(source_name, ": cannot parse: ", e.what()));
  } catch (...) {
    return absl::InternalError(absl::StrCat(source_name, ": cannot parse"));
  }
}

absl::StatusOr<DaemonConfig> ParseConfigFile(const std::string& path) {
  absl::StatusOr<std::string> text =
      config_internal::ReadSmallFile(path, kMaxConfigBytes, "config file",
                                     /*regular_only=*/false);
  if (!text.ok()) return text.status();
  return ParseConfigText(*text, path);
}

}  // namespace mpio
