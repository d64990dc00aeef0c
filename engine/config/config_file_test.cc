#include "engine/config/config_file.h"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace mpio {
namespace {

constexpr char kFile[] = "/etc/mpio.toml";

// The error text of a config that must not parse.
std::string ErrorOf(std::string_view text) {
  absl::StatusOr<DaemonConfig> c = ParseConfigText(text, kFile);
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(c.status().message());
}

DaemonConfig Parse(std::string_view text, const std::string& source = kFile) {
  absl::StatusOr<DaemonConfig> c = ParseConfigText(text, source);
  if (!c.ok()) FAIL(c.status().message());
  return *c;
}

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}
bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// A scratch directory, removed with its files at the end of the test.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/mpio-config-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    for (const std::string& f : files_) unlink(f.c_str());
    rmdir(path_.c_str());
  }
  std::string Write(const std::string& name, const std::string& content) {
    std::string file = path_ + "/" + name;
    std::ofstream(file) << content;
    files_.push_back(file);
    return file;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

// Sets an environment variable for one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

TEST_CASE("the shipped example parses to the documented values") {
  ScopedEnv chap("MPIO_CHAP_SECRET", "initiator-secret-1");
  ScopedEnv target_chap("MPIO_TARGET_CHAP_SECRET", "target-secret-22");
  absl::StatusOr<DaemonConfig> parsed = ParseConfigFile(MPIO_EXAMPLE_CONFIG);
  if (!parsed.ok()) FAIL(parsed.status().message());
  const DaemonConfig& c = *parsed;
  CHECK(c.source == MPIO_EXAMPLE_CONFIG);

  const EngineOptions& e = c.engine;
  CHECK(e.initiator_iqn == "iqn.2026-12.org.mpio:host1");
  CHECK(e.session.initiator_iqn == "iqn.2026-12.org.mpio:host1");
  CHECK(e.session.login_timeout == absl::Seconds(5));
  CHECK(e.session.command_timeout == absl::Seconds(30));
  CHECK(e.session.nop_interval == absl::Milliseconds(500));
  CHECK(e.session.nop_max_outstanding == 6);
  CHECK(e.session.ack_stall == absl::Milliseconds(1200));
  CHECK(e.device.no_path_retry == absl::Seconds(30));
  CHECK(e.device.max_retries == 5);
  CHECK(e.device.fence == "auto");
  CHECK(e.path_policy.reconnect_min == absl::Milliseconds(250));
  CHECK(e.path_policy.reconnect_max == absl::Seconds(5));
  CHECK(e.path_policy.probation == absl::Seconds(2));
  CHECK(e.path_policy.flap_failures == 3);
  CHECK(e.path_policy.flap_window == absl::Seconds(60));
  CHECK(e.path_policy.marginal_hold == absl::Seconds(30));
  CHECK(e.path_policy.checker_interval == absl::Seconds(5));
  CHECK(e.discovery_timeout == absl::Seconds(8));
  CHECK(e.plugin_dirs ==
        std::vector<std::string>{"/usr/local/lib/mpio/plugins"});

  REQUIRE(c.targets.size() == 2);
  const TargetSpec& t = c.targets[0];
  REQUIRE(t.portals.size() == 3);
  CHECK(t.portals[0].address == "198.18.0.2");
  CHECK(t.portals[0].interface == "");
  CHECK(t.portals[1].address == "198.18.0.6:3260");
  CHECK(t.portals[2].address == "198.18.0.10");
  CHECK(t.portals[2].interface == "eth1");
  CHECK(t.target_iqn == "iqn.2005-10.org.freenas.ctl:lun0");
  CHECK(t.luns == std::vector<int>{0});
  CHECK(t.chap_user == "initiator-user");
  CHECK(t.chap_secret == "initiator-secret-1");
  CHECK(t.target_chap_user == "target-user");
  CHECK(t.target_chap_secret == "target-secret-22");
  const TargetSpec& t2 = c.targets[1];
  REQUIRE(t2.portals.size() == 2);
  CHECK(t2.portals[1].address == "198.18.1.6");
  CHECK(t2.target_iqn.empty());
  CHECK(t2.luns.empty());
  CHECK(t2.chap_user.empty());
  CHECK(t2.chap_secret.empty());

  REQUIRE(c.claim_rules.size() == 2);
  const ClaimRule& r = c.claim_rules[0];
  CHECK(r.id == 100);
  CHECK(r.vendor == "TrueNAS");
  CHECK(r.model == "iSCSI*");
  CHECK(r.identity == "naa.6589*");
  CHECK(r.satp == "default_aa");
  CHECK(r.satp_options == "");
  CHECK(r.psp == "rr");
  CHECK(r.psp_options == "policy=iops;iops=1");
  CHECK(r.description == "TrueNAS: round robin, switch every I/O");
  CHECK(c.claim_rules[1].id == 200);
  CHECK(c.claim_rules[1].satp == "alua");
  CHECK(c.claim_rules[1].psp == "mru");

  CHECK(c.nbd_unix == "/run/mpio/nbd.sock");
  CHECK(c.nbd_tcp == "127.0.0.1:10809");
  CHECK_FALSE(c.nbd_allow_remote);
  CHECK(c.fuse_dir == "/run/mpio/fuse");
  CHECK_FALSE(c.fuse_allow_other);
  CHECK(c.metrics_listen == "127.0.0.1:9580");
  CHECK(c.control_socket == "/run/mpio/control.sock");
  CHECK(c.log_level == "info");
}

TEST_CASE("an empty file keeps every struct default") {
  DaemonConfig c = Parse("# nothing\n");
  DaemonConfig d;
  CHECK(c.engine.initiator_iqn == d.engine.initiator_iqn);
  CHECK(c.engine.session.login_timeout == d.engine.session.login_timeout);
  CHECK(c.engine.device.no_path_retry == d.engine.device.no_path_retry);
  CHECK(c.engine.path_policy.reconnect_max ==
        d.engine.path_policy.reconnect_max);
  CHECK(c.targets.empty());
  CHECK(c.claim_rules.empty());
  CHECK(c.control_socket == d.control_socket);
  CHECK(c.log_level == d.log_level);
  CHECK(c.source == kFile);
  CHECK(c.metrics_listen == "127.0.0.1:9580");  // on by default, loopback
  CHECK_FALSE(c.metrics_explicit);
}

TEST_CASE("metrics: off turns the default server off") {
  for (const char* off : {"\"off\"", "\"\""}) {
    DaemonConfig c = Parse(std::string("[metrics]\nlisten = ") + off + "\n");
    CHECK(c.metrics_listen.empty());
    CHECK(c.metrics_explicit);
  }
}

TEST_CASE("every key lands in its field (values unlike any default)") {
  DaemonConfig c = Parse(
      "[engine]\n"
      "initiator = \"iqn.2026-12.org.example:other\"\n"
      "login_timeout = 3\n"      // integer seconds
      "command_timeout = 2.5\n"  // float seconds
      "nop_interval = \"750ms\"\n"
      "nop_max_outstanding = 17\n"
      "ack_stall = \"3s\"\n"
      "no_path_retry = \"0s\"\n"  // fail at once
      "max_retries = 9\n"
      "fence = \"none\"\n"
      "reprobe_interval = \"0s\"\n"  // never on a timer
      "reconnect_min = \"1s\"\n"
      "reconnect_max = \"1m30s\"\n"
      "probation = 0\n"
      "flap_failures = 0\n"
      "flap_window = \"2m\"\n"
      "marginal_hold = \"45s\"\n"
      "checker_interval = \"7s\"\n"
      "discovery_timeout = \"11s\"\n"
      "plugin_dirs = [\"/a\", \"/b\"]\n"
      "[log]\nlevel = \"DEBUG\"\nfile = \"/var/log/x.log\"\nmax_file_mib = 3\n"
      "[nbd]\nallow_remote = true\ntcp = \"[::1]:10809\"\nunix = "
      "\"/tmp/n.sock\"\n"
      "[fuse]\ndir = \"/mnt/mpio\"\nallow_other = true\n"
      "[metrics]\nlisten = \"0.0.0.0:9100\"\n"
      "[control]\nsocket = \"\"\n");
  const EngineOptions& e = c.engine;
  CHECK(e.initiator_iqn == "iqn.2026-12.org.example:other");
  CHECK(e.session.login_timeout == absl::Seconds(3));
  CHECK(e.session.command_timeout == absl::Milliseconds(2500));
  CHECK(e.session.nop_interval == absl::Milliseconds(750));
  CHECK(e.session.nop_max_outstanding == 17);
  CHECK(e.session.ack_stall == absl::Seconds(3));
  CHECK(e.device.no_path_retry == absl::ZeroDuration());
  CHECK(e.device.max_retries == 9);
  CHECK(e.device.fence == "none");
  CHECK(e.device.reprobe_interval == absl::ZeroDuration());
  CHECK(e.path_policy.reconnect_min == absl::Seconds(1));
  CHECK(e.path_policy.reconnect_max == absl::Seconds(90));
  CHECK(e.path_policy.probation == absl::ZeroDuration());
  CHECK(e.path_policy.flap_failures == 0);
  CHECK(e.path_policy.flap_window == absl::Minutes(2));
  CHECK(e.path_policy.marginal_hold == absl::Seconds(45));
  CHECK(e.path_policy.checker_interval == absl::Seconds(7));
  CHECK(e.discovery_timeout == absl::Seconds(11));
  CHECK(e.plugin_dirs == std::vector<std::string>{"/a", "/b"});
  CHECK(c.log_level == "debug");
  CHECK(c.log_file == "/var/log/x.log");
  CHECK(c.log_max_file_mib == 3);
  CHECK(c.nbd_allow_remote);
  CHECK(c.nbd_tcp == "[::1]:10809");
  CHECK(c.nbd_unix == "/tmp/n.sock");
  CHECK(c.fuse_dir == "/mnt/mpio");
  CHECK(c.fuse_allow_other);
  CHECK(c.metrics_listen == "0.0.0.0:9100");
  CHECK(c.control_socket.empty());
}

TEST_CASE("TOML syntax errors give file:line:col and toml++'s description") {
  std::string e =
      ErrorOf("[engine]\nlogin_timeout = \"5s\"\nnop_interval = [1,\n");
  CAPTURE(e);
  CHECK(StartsWith(e, "/etc/mpio.toml:3:20: invalid TOML: "));
  CHECK(Contains(e, "end-of-file"));

  e = ErrorOf("[engine]\nlogin_timeout = 5s\n");
  CHECK(StartsWith(e, "/etc/mpio.toml:2:"));
  CHECK(Contains(e, "invalid TOML"));

  e = ErrorOf("[engine]\nmax_retries = 1\nmax_retries = 2\n");
  CHECK(StartsWith(e, "/etc/mpio.toml:3:"));
}

TEST_CASE("unknown tables are errors naming them and the valid tables") {
  std::string e = ErrorOf("[engine]\n\n[engin]\nx = 1\n");
  CHECK(e ==
        "/etc/mpio.toml:3:2: engin: unknown table (did you mean engine?); "
        "valid tables: [engine], [[target]], [[claim_rule]], [nbd], [fuse], "
        "[metrics], [control], [log]");
  e = ErrorOf("[[targets]]\nportals = [\"198.18.0.2\"]\n");
  CHECK(StartsWith(
      e, "/etc/mpio.toml:1:3: targets: unknown table (did you mean target?)"));
  e = ErrorOf("level = \"info\"\n");
  CHECK(StartsWith(
      e, "/etc/mpio.toml:1:1: level: unknown key; settings go inside a table"));
}

TEST_CASE("unknown keys are errors listing the table's valid keys") {
  std::string e =
      ErrorOf("[engine]\nlogin_timeout = \"5s\"\nlogin_timout = \"5s\"\n");
  CHECK(StartsWith(e,
                   "/etc/mpio.toml:3:1: engine.login_timout: unknown key (did "
                   "you mean login_timeout?); valid keys in [engine]: "
                   "initiator, login_timeout, command_timeout, "));
  CHECK(Contains(e, "plugin_dirs"));

  e = ErrorOf("[log]\nlevel = \"info\"\ncolor = true\n");
  CHECK(e ==
        "/etc/mpio.toml:3:1: log.color: unknown key; valid keys in [log]: "
        "level, file, max_file_mib");

  // The value of an unknown key is never shown: it may be a misspelled secret.
  e = ErrorOf(
      "[[target]]\nportals = [\"198.18.0.2\"]\n"
      "[[target]]\nportals = [\"198.18.0.6\"]\nchap_secrt = \"hunter2\"\n");
  CHECK(StartsWith(e, "/etc/mpio.toml:5:1: target[1].chap_secrt: unknown key"));
  CHECK(Contains(e, "valid keys in [[target]]: portals, iqn, luns, chap_user"));
  CHECK_FALSE(Contains(e, "hunter2"));

  e = ErrorOf("[[claim_rule]]\nid = 1\nsatp = \"alua\"\nvnedor = \"X\"\n");
  CHECK(StartsWith(e,
                   "/etc/mpio.toml:4:1: claim_rule[0].vnedor: unknown key (did "
                   "you mean vendor?)"));
}

TEST_CASE("wrong types say what is expected") {
  std::string e = ErrorOf(
      "# mpio\n"
      "\n"
      "[engine]\n"
      "initiator = \"iqn.2026-12.org.mpio:host1\"\n"
      "\n"
      "command_timeout = \"30s\"\n"
      "login_timeout = true\n");
  CHECK(e ==
        "/etc/mpio.toml:7:1: engine.login_timeout: expected a duration like "
        "\"5s\" or \"500ms\", got boolean");

  CHECK(ErrorOf("[engine]\nmax_retries = \"5\"\n") ==
        "/etc/mpio.toml:2:1: engine.max_retries: expected an integer, got "
        "string");
  CHECK(ErrorOf("[nbd]\nallow_remote = \"yes\"\n") ==
        "/etc/mpio.toml:2:1: nbd.allow_remote: expected true or false, got "
        "string");
  CHECK(ErrorOf("[engine]\nplugin_dirs = \"/x\"\n") ==
        "/etc/mpio.toml:2:1: engine.plugin_dirs: expected an array of "
        "strings, got string");
  CHECK(ErrorOf("[engine]\nplugin_dirs = [\"/x\", 3]\n") ==
        "/etc/mpio.toml:2:22: engine.plugin_dirs[1]: expected a string, got "
        "integer");
  CHECK(
      ErrorOf("[[target]]\nportals = [\"198.18.0.2\"]\nluns = [0, \"1\"]\n") ==
      "/etc/mpio.toml:3:12: target[0].luns[1]: expected an integer, got "
      "string");
  CHECK(StartsWith(ErrorOf("engine = 5\n"),
                   "/etc/mpio.toml:1:1: engine: expected a table (write "
                   "[engine] once), got integer"));
  CHECK(StartsWith(ErrorOf("[[engine]]\nmax_retries = 1\n"),
                   "/etc/mpio.toml:1:3: engine: expected a table"));
  CHECK(StartsWith(ErrorOf("[target]\nportals = [\"198.18.0.2\"]\n"),
                   "/etc/mpio.toml:1:2: target: expected an array of tables: "
                   "write [[target]] (once per target), got table"));
  CHECK(StartsWith(
      ErrorOf("[engine]\nlogin_timeout = 1979-05-27\n"),
      "/etc/mpio.toml:2:1: engine.login_timeout: expected a duration"));
}

TEST_CASE("values are range-checked") {
  struct Case {
    const char* text;
    const char* want;  // the whole message
  };
  const Case cases[] = {
      {"[engine]\nlogin_timeout = \"0s\"\n",
       "/etc/mpio.toml:2:1: engine.login_timeout: must be more than 0, got "
       "\"0s\""},
      {"[engine]\ncommand_timeout = 0\n",
       "/etc/mpio.toml:2:1: engine.command_timeout: must be more than 0, got "
       "0"},
      {"[engine]\nnop_interval = \"5\"\n",
       "/etc/mpio.toml:2:1: engine.nop_interval: \"5\": a number needs a "
       "unit: \"5s\" or \"5ms\""},
      {"[engine]\nack_stall = -1\n",
       "/etc/mpio.toml:2:1: engine.ack_stall: a duration cannot be negative, "
       "got -1"},
      {"[engine]\nno_path_retry = \"200h\"\n",
       "/etc/mpio.toml:2:1: engine.no_path_retry: must be at most 168h, got "
       "\"200h\""},
      {"[engine]\nflap_failures = -1\n",
       "/etc/mpio.toml:2:1: engine.flap_failures: must be from 0 to 1000, got "
       "-1"},
      {"[engine]\nnop_max_outstanding = 0\n",
       "/etc/mpio.toml:2:1: engine.nop_max_outstanding: must be from 1 to "
       "1000, got 0"},
      {"[engine]\nfence = \"stonith\"\n",
       "/etc/mpio.toml:2:1: engine.fence: must be one of auto, reservation, "
       "reset, none; got \"stonith\""},
      {"[engine]\nreconnect_min = \"20s\"\n",
       "/etc/mpio.toml:2:1: engine.reconnect_min: reconnect_max (5s) must "
       "not be less than reconnect_min (20s)"},
      {"[engine]\ninitiator = \"host1\"\n",
       "/etc/mpio.toml:2:1: engine.initiator: \"host1\" is not an iSCSI name: "
       "it must start with iqn., eui. or naa. (e.g. "
       "\"iqn.2026-12.org.mpio:host1\")"},
      {"[log]\nlevel = \"verbose\"\n",
       "/etc/mpio.toml:2:1: log.level: must be one of error, warn, info, "
       "debug; got \"verbose\""},
      {"[nbd]\ntcp = \"127.0.0.1:70000\"\n",
       "/etc/mpio.toml:2:1: nbd.tcp: \"127.0.0.1:70000\": the port must be a "
       "number from 1 to 65535"},
      {"[metrics]\nlisten = \"127.0.0.1\"\n",
       "/etc/mpio.toml:2:1: metrics.listen: \"127.0.0.1\": expected "
       "HOST:PORT, e.g. \"127.0.0.1:10809\""},
      {"[[target]]\nportals = []\n",
       "/etc/mpio.toml:2:1: target[0].portals: is empty: give at least one "
       "portal, e.g. portals = [\"198.18.0.2\"]"},
      {"[[target]]\niqn = \"iqn.2005-10.org.freenas.ctl:lun0\"\n",
       "/etc/mpio.toml:1:1: target[0].portals: is required: the target's "
       "portal addresses, e.g. portals = [\"198.18.0.2\", "
       "\"198.18.0.6:3260%eth1\"]"},
      {"[[target]]\nportals = [\"198.18.0.2\", \"198.18.0.2:0\"]\n",
       "/etc/mpio.toml:2:26: target[0].portals[1]: \"198.18.0.2:0\": the port "
       "must be a number from 1 to 65535 (expected IP[:PORT][%IFACE])"},
      {"[[target]]\nportals = [\"198.18.0.2\", \"198.18.0.2:3260\"]\n",
       "/etc/mpio.toml:2:26: target[0].portals[1]: \"198.18.0.2:3260\" is the "
       "same path as portals[0]"},
      {"[[target]]\nportals = [\"198.18.0.2\"]\nluns = [16384]\n",
       "/etc/mpio.toml:3:9: target[0].luns[0]: must be from 0 to 16383, got "
       "16384"},
      {"[[target]]\nportals = [\"198.18.0.2\"]\nluns = [1, 1]\n",
       "/etc/mpio.toml:3:12: target[0].luns[1]: LUN 1 is listed twice"},
      {"[[claim_rule]]\nid = 0\nsatp = \"alua\"\n",
       "/etc/mpio.toml:2:1: claim_rule[0].id: must be from 1 to 2147483647, "
       "got 0"},
      {"[[claim_rule]]\nsatp = \"alua\"\n",
       "/etc/mpio.toml:1:1: claim_rule[0].id: is required: a positive rule "
       "number (rules are tried in ascending order)"},
      {"[[claim_rule]]\nid = 5\n",
       "/etc/mpio.toml:1:1: claim_rule[0].satp: is required: the SATP plugin "
       "to use, e.g. satp = \"default_aa\""},
      {"[[claim_rule]]\nid = 5\nsatp = \"alua\"\n\n[[claim_rule]]\nid = "
       "5\nsatp = \"default_aa\"\n",
       "/etc/mpio.toml:6:1: claim_rule[1].id: rule id 5 is already used by "
       "claim_rule[0]; ids must be unique"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    CHECK(ErrorOf(c.text) == c.want);
  }
}

TEST_CASE("every problem in the file is reported, in file order") {
  std::string e = ErrorOf(
      "[log]\n"
      "level = \"loud\"\n"
      "[engine]\n"
      "max_retries = -1\n"
      "fence = 3\n");
  CHECK(
      e ==
      "/etc/mpio.toml:2:1: log.level: must be one of error, warn, info, "
      "debug; got \"loud\"\n"
      "/etc/mpio.toml:4:1: engine.max_retries: must be from 0 to 1000, got -1\n"
      "/etc/mpio.toml:5:1: engine.fence: expected a string, got integer");
}

TEST_CASE("an inline CHAP secret is refused without echoing it") {
  std::string e = ErrorOf(
      "[[target]]\n"
      "portals = [\"198.18.0.2\"]\n"
      "chap_user = \"u\"\n"
      "chap_secret = \"hunter2hunter2\"\n");
  CAPTURE(e);
  CHECK(StartsWith(e,
                   "/etc/mpio.toml:4:1: target[0].chap_secret: secrets are "
                   "not accepted in the config file"));
  CHECK(e.find('\n') == std::string::npos);  // no second, redundant error
  CHECK(Contains(e, "chap_secret_file = \"/etc/mpio/chap.secret\""));
  CHECK(Contains(e, "chap_secret_env = \"MPIO_CHAP_SECRET\""));
  CHECK_FALSE(Contains(e, "hunter2"));

  e = ErrorOf(
      "[[target]]\n"
      "portals = [\"198.18.0.2\"]\n"
      "target_chap_secret = \"hunter2hunter2\"\n");
  CHECK(StartsWith(
      e,
      "/etc/mpio.toml:3:1: target[0].target_chap_secret: secrets are "
      "not accepted"));
  CHECK(Contains(e, "target_chap_secret_file"));
  CHECK_FALSE(Contains(e, "hunter2"));
}

TEST_CASE("CHAP secrets come from a file") {
  TempDir dir;
  dir.Write("chap.secret", "file-secret-123\n");
  dir.Write("crlf.secret", "crlf-secret-456\r\n");
  dir.Write("two-lines.secret", "hunter2hunter2\nmore\n");
  dir.Write("empty.secret", "\n");
  std::string config_path = dir.path() + "/mpio.toml";

  // Absolute path; relative paths are relative to the config file's folder.
  DaemonConfig c = Parse(
      "[[target]]\n"
      "portals = [\"198.18.0.2\"]\n"
      "chap_user = \"u\"\n"
      "chap_secret_file = \"" +
          dir.path() +
          "/chap.secret\"\n"
          "target_chap_user = \"t\"\n"
          "target_chap_secret_file = \"crlf.secret\"\n",
      config_path);
  REQUIRE(c.targets.size() == 1);
  CHECK(c.targets[0].chap_user == "u");
  CHECK(c.targets[0].chap_secret == "file-secret-123");
  CHECK(c.targets[0].target_chap_user == "t");
  CHECK(c.targets[0].target_chap_secret == "crlf-secret-456");

  // Through ParseConfigFile too.
  dir.Write("mpio.toml",
            "[[target]]\nportals = [\"198.18.0.2\"]\nchap_user = \"u\"\n"
            "chap_secret_file = \"chap.secret\"\n");
  absl::StatusOr<DaemonConfig> from_file = ParseConfigFile(config_path);
  REQUIRE(from_file.ok());
  CHECK(from_file->targets[0].chap_secret == "file-secret-123");

  auto error_for = [&](const std::string& file) {
    absl::StatusOr<DaemonConfig> r = ParseConfigText(
        "[[target]]\nportals = [\"198.18.0.2\"]\nchap_user = \"u\"\n"
        "chap_secret_file = \"" +
            file + "\"\n",
        config_path);
    REQUIRE_FALSE(r.ok());
    return std::string(r.status().message());
  };
  std::string e = error_for("missing.secret");
  CHECK(e == config_path +
                 ":4:1: target[0].chap_secret_file: cannot read secret file " +
                 dir.path() + "/missing.secret: No such file or directory");
  e = error_for("two-lines.secret");
  CHECK(StartsWith(
      e, config_path + ":4:1: target[0].chap_secret_file: secret file " +
             dir.path() + "/two-lines.secret has more than one line"));
  CHECK_FALSE(Contains(e, "hunter2"));
  e = error_for("empty.secret");
  CHECK(Contains(e, "empty.secret is empty"));
  e = error_for("/dev/null");  // would be "empty"; a FIFO would block
  CHECK(Contains(e, "cannot read secret file /dev/null: not a regular file"));
  e = error_for(dir.path());  // a directory
  CHECK(Contains(
      e, "cannot read secret file " + dir.path() + ": it is a directory"));
}

TEST_CASE("CHAP secrets come from an environment variable") {
  {
    ScopedEnv env("MPIO_TEST_CHAP", "env-secret-789");
    DaemonConfig c = Parse(
        "[[target]]\nportals = [\"198.18.0.2\"]\nchap_user = \"u\"\n"
        "chap_secret_env = \"MPIO_TEST_CHAP\"\n");
    CHECK(c.targets[0].chap_secret == "env-secret-789");
  }
  ScopedEnv unset("MPIO_TEST_CHAP", nullptr);
  CHECK(ErrorOf("[[target]]\nportals = [\"198.18.0.2\"]\nchap_user = \"u\"\n"
                "chap_secret_env = \"MPIO_TEST_CHAP\"\n") ==
        "/etc/mpio.toml:4:1: target[0].chap_secret_env: environment variable "
        "MPIO_TEST_CHAP is not set");
  ScopedEnv empty("MPIO_TEST_CHAP", "");
  CHECK(Contains(
      ErrorOf("[[target]]\nportals = [\"198.18.0.2\"]\nchap_user = \"u\"\n"
              "chap_secret_env = \"MPIO_TEST_CHAP\"\n"),
      "environment variable MPIO_TEST_CHAP is empty"));
  CHECK(Contains(
      ErrorOf("[[target]]\nportals = [\"198.18.0.2\"]\nchap_user = \"u\"\n"
              "chap_secret_env = \"1-BAD\"\n"),
      "is not an environment variable name"));
}

TEST_CASE("CHAP settings must be complete and consistent") {
  ScopedEnv env("MPIO_TEST_CHAP", "env-secret-789");
  CHECK(
      ErrorOf("[[target]]\nportals = [\"198.18.0.2\"]\nchap_user = \"u\"\n") ==
      "/etc/mpio.toml:3:1: target[0].chap_user: is set but there is no "
      "secret: add chap_secret_file = \"/etc/mpio/chap.secret\" or "
      "chap_secret_env = \"MPIO_CHAP_SECRET\"");
  CHECK(ErrorOf("[[target]]\nportals = [\"198.18.0.2\"]\n"
                "chap_secret_env = \"MPIO_TEST_CHAP\"\n") ==
        "/etc/mpio.toml:3:1: target[0].chap_secret_env: a CHAP secret needs "
        "a user name: add chap_user = \"...\"");
  CHECK(ErrorOf("[[target]]\nportals = [\"198.18.0.2\"]\nchap_user = \"u\"\n"
                "chap_secret_file = \"/x\"\nchap_secret_env = "
                "\"MPIO_TEST_CHAP\"\n") ==
        "/etc/mpio.toml:5:1: target[0].chap_secret_env: give either "
        "chap_secret_file or chap_secret_env, not both");
  CHECK(ErrorOf(
            "[[target]]\nportals = [\"198.18.0.2\"]\ntarget_chap_user = \"t\"\n"
            "target_chap_secret_env = \"MPIO_TEST_CHAP\"\n") ==
        "/etc/mpio.toml:3:1: target[0].target_chap_user: mutual CHAP needs "
        "one-way CHAP too: add chap_user and chap_secret_file (or "
        "chap_secret_env)");
}

TEST_CASE("ParseConfigFile reports a missing config file as NotFound") {
  absl::StatusOr<DaemonConfig> c = ParseConfigFile("/nonexistent/mpio.toml");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == absl::StatusCode::kNotFound);
  CHECK(std::string(c.status().message()) ==
        "cannot read config file /nonexistent/mpio.toml: No such file or "
        "directory");
}

TEST_CASE("each problem stays on one line, whatever the values hold") {
  CHECK(ErrorOf("[log]\nlevel = \"a\\nb\\u0001\"\n") ==
        "/etc/mpio.toml:2:1: log.level: must be one of error, warn, info, "
        "debug; got \"a\\nb\\x01\"");
  CHECK(StartsWith(ErrorOf("[log]\n\"a\\nb\" = 1\n"),
                   "/etc/mpio.toml:2:1: log.a\\nb: unknown key"));
  // toml++ quotes the character it choked on, here a line break.
  std::string e = ErrorOf("[engine]\nx = f\n");
  CHECK(StartsWith(e, "/etc/mpio.toml:2:"));
  CHECK(e.find('\n') == std::string::npos);
}

TEST_CASE("text that is not UTF-8 or has NULs is an error, not a crash") {
  std::string bad = "[engine]\ninitiator = \"iqn.\xff\xfe\"\n";
  CHECK(StartsWith(ErrorOf(bad), "/etc/mpio.toml:2:"));
  std::string nul("[fuse]\ndir = \"/run\\u0000x\"\n");
  CHECK(ErrorOf(nul) ==
        "/etc/mpio.toml:2:1: fuse.dir: contains a NUL character");
  std::string raw_nul("[fuse]\ndir = \"/run\0x\"\n", 23);
  CHECK(StartsWith(ErrorOf(raw_nul), "/etc/mpio.toml:2:"));
}

TEST_CASE("no_path_retry takes dm-multipath's queue and fail") {
  auto q = ParseConfigText("[engine]\nno_path_retry = \"queue\"\n", "q.toml");
  REQUIRE(q.ok());
  CHECK(q->engine.device.no_path_retry == absl::InfiniteDuration());
  auto f = ParseConfigText("[engine]\nno_path_retry = \"fail\"\n", "f.toml");
  REQUIRE(f.ok());
  CHECK(f->engine.device.no_path_retry == absl::ZeroDuration());
  auto bad =
      ParseConfigText("[engine]\nno_path_retry = \"forever\"\n", "b.toml");
  CHECK_FALSE(bad.ok());
  auto other = ParseConfigText("[engine]\nprobation = \"queue\"\n", "o.toml");
  CHECK_FALSE(other.ok());
}

}  // namespace
}  // namespace mpio
