// The control socket and /metrics against a real two-path tgtd lab: an
// engine logs in, a ControlServer and a MetricsExporter serve it, and the
// test drives them as `mpio device list`, `mpio path fail` and Prometheus
// would: device.list, path.list, path.fail (failover drill), path.set
// off/on, device.set, device.reclaim, events, and per-path counters in
// /metrics (checked by promtool). The lab name comes from $MPIO_LAB.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "engine/base/sync.h"
#include "engine/control/control_server.h"
#include "engine/metrics/metrics_exporter.h"
#include "tests/integration/lab_env.h"
#include "tests/support/run_shell.h"

namespace mpio::testing {
namespace {

using nlohmann::json;

LabEnv Lab() {
  const char* name = getenv("MPIO_LAB");
  REQUIRE_MESSAGE(name != nullptr,
                  "set MPIO_LAB to a lab started by tests/lab/lab.sh");
  auto env = LabEnv::Load(name);
  REQUIRE_MESSAGE(env.ok(), env.status().ToString());
  return *env;
}

// One request over a fresh connection, as the CLI does.
json Ask(const std::string& socket_path, const json& request) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  timeval tv{20, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  const std::string line = request.dump() + "\n";
  REQUIRE(send(fd, line.data(), line.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(line.size()));
  std::string in;
  char buf[65536];
  while (in.find('\n') == std::string::npos) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  REQUIRE(in.find('\n') != std::string::npos);
  json j = json::parse(in.substr(0, in.find('\n')), nullptr, false);
  REQUIRE(!j.is_discarded());
  return j;
}

json Ok(const std::string& socket_path, const json& request) {
  json j = Ask(socket_path, request);
  INFO(request.dump(), " -> ", j.dump());
  REQUIRE(j["ok"] == true);
  return j["result"];
}

// Writes and reads back a few blocks; every byte must match.
void Io(BlockDevice* dev, int rounds) {
  for (int i = 0; i < rounds; i++) {
    std::vector<uint8_t> out(4096, static_cast<uint8_t>(i * 7 + 1)),
        in(4096, 0);
    const uint64_t off = static_cast<uint64_t>(i % 64) * 4096;
    REQUIRE(SyncIo(dev, IoOp::kWrite, off, &out).ok());
    REQUIRE(SyncIo(dev, IoOp::kRead, off, &in).ok());
    REQUIRE(in == out);
  }
}

json FindPath(const json& paths, const std::string& portal) {
  for (const auto& p : paths) {
    if (p["portal"] == portal) return p;
  }
  FAIL("no path with portal ", portal, " in ", paths.dump());
  return {};
}

// Polls path.list until the path at `portal` is in `state` (bounded).
bool WaitState(const std::string& sock, const std::string& portal,
               const std::string& state) {
  for (int i = 0; i < 100; i++) {  // 10 s
    if (FindPath(Ok(sock, {{"cmd", "path.list"}}), portal)["state"] == state)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::string Shell(const std::string& cmd, int* rc) {
  auto r = testing::RunShell(cmd);
  *rc = r.status;
  return r.output;
}

TEST_CASE("control socket and /metrics on a two-path tgtd lab") {
  const LabEnv lab = Lab();
  REQUIRE(lab.portals.size() >= 2);
  const std::string p1 = lab.portals[0], p2 = lab.portals[1];

  EngineOptions o;
  o.plugin_dirs = {PluginDir()};
  o.path_policy.reconnect_min = absl::Milliseconds(200);
  o.path_policy.reconnect_max = absl::Seconds(2);
  o.path_policy.probation = absl::Seconds(1);
  auto engine_or = Engine::Create(o);
  REQUIRE(engine_or.ok());
  std::unique_ptr<Engine> engine = std::move(*engine_or);
  auto report = engine->AddTarget(lab.Spec());
  REQUIRE(report.ok());
  REQUIRE(report->devices.size() == 1);
  MultipathDevice* device = report->devices[0];

  char tmpl[] = "/tmp/mpio-control-lab-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  const std::string sock = std::string(tmpl) + "/control.sock";
  {
    auto server = control::ControlServer::Start(engine.get(), sock);
    REQUIRE_MESSAGE(server.ok(), server.status().ToString());
    auto exporter =
        metrics::MetricsExporter::Start(engine.get(), "127.0.0.1:0");
    REQUIRE_MESSAGE(exporter.ok(), exporter.status().ToString());

    // device.list: what `mpio device list` shows.
    json devices = Ok(sock, {{"cmd", "device.list"}});
    REQUIRE(devices.size() == 1);
    json d = devices[0];
    CHECK(d["identity"] == device->identity());
    CHECK(d["vendor"] == lab.vars.at("LAB_VENDOR"));
    CHECK(d["size_bytes"] == lab.lun_size_bytes);
    CHECK(d["paths"] == 2);
    CHECK(d["usable_paths"] == 2);
    CHECK(d["working_paths"].size() == 2);
    CHECK(d["satp"] == "default_aa");  // tgtd reports no ALUA
    CHECK(d["psp"] == "rr");
    CHECK(!d["claim_reason"].get<std::string>().empty());

    // Runs of 3 I/Os per path, so alternating writes and reads reach both
    // paths (iops=1 would send all writes to one and all reads to the other).
    json rr = Ok(sock, {{"cmd", "device.set"},
                        {"device", device->identity()},
                        {"psp_options", "policy=iops;iops=3"}});
    CHECK(rr["psp"] == "rr");
    CHECK(rr["psp_config"].get<std::string>().find("iops=3") !=
          std::string::npos);
    Io(device, 40);
    json paths = Ok(sock, {{"cmd", "path.list"}});
    REQUIRE(paths.size() == 2);
    for (const std::string& portal : {p1, p2}) {
      json p = FindPath(paths, portal);
      CHECK(p["state"] == "active");
      CHECK(p["alua_state"] == "n/a");
      CHECK(p["target"] == lab.target_iqn);
      // Round robin spreads the I/O over both paths.
      CHECK(p["reads"].get<uint64_t>() > 0);
      CHECK(p["writes"].get<uint64_t>() > 0);
      CHECK(p["bytes_read"].get<uint64_t>() >= 4096);
      CHECK(p["avg_latency_us"].get<double>() > 0);
    }
    CHECK(Ok(sock, {{"cmd", "path.list"}, {"device", device->identity()}})
              .size() == 2);

    // Failover drill on path 1, by portal: it dies, I/O continues, it returns.
    json failed = Ok(sock, {{"cmd", "path.fail"}, {"path", p1}});
    CHECK(failed["portal"] == p1);
    CHECK(failed["state"] != "active");
    Io(device, 10);
    CHECK(WaitState(sock, p1, "active"));
    CHECK(FindPath(Ok(sock, {{"cmd", "path.list"}}), p1)["failures"]
              .get<uint64_t>() >= 1);

    // path.set off/on on path 2, by DEVICE:INDEX id.
    const std::string id2 =
        FindPath(Ok(sock, {{"cmd", "path.list"}}), p2)["id"];
    CHECK(Ok(sock,
             {{"cmd", "path.set"}, {"path", id2}, {"state", "off"}})["state"] ==
          "disabled");
    const uint64_t reads_before =
        FindPath(Ok(sock, {{"cmd", "path.list"}}), p2)["reads"];
    Io(device, 10);
    json off = FindPath(Ok(sock, {{"cmd", "path.list"}}), p2);
    CHECK(off["state"] == "disabled");
    CHECK(off["reads"].get<uint64_t>() == reads_before);  // no I/O while off
    CHECK(Ok(sock, {{"cmd", "device.list"}})[0]["usable_paths"] == 1);
    Ok(sock, {{"cmd", "path.set"}, {"path", id2}, {"state", "on"}});
    CHECK(WaitState(sock, p2, "active"));

    // device.set: FIXED with a preferred path; reclaim goes back to the rules.
    json fixed = Ok(sock, {{"cmd", "device.set"},
                           {"device", device->identity()},
                           {"psp", "VMW_PSP_FIXED"},
                           {"preferred", p2}});
    CHECK(fixed["psp"] == "fixed");
    CHECK(FindPath(Ok(sock, {{"cmd", "path.list"}}), p2)["preferred"] == true);
    json bad = Ask(sock, {{"cmd", "device.set"},
                          {"device", device->identity()},
                          {"psp", "nope"}});
    CHECK(bad["ok"] == false);
    CHECK(Ok(sock, {{"cmd", "device.list"}})[0]["psp"] ==
          "fixed");  // unchanged
    CHECK(Ok(sock, {{"cmd", "device.reclaim"}, {"device", "0"}})["psp"] ==
          "rr");

    // events: the drill and the operator's switch-off are in the history.
    json events = Ok(sock, {{"cmd", "events"}, {"device", device->identity()}});
    const std::string all = events["events"].dump();
    CHECK(all.find("failover drill") != std::string::npos);
    CHECK(all.find("disabled by the operator") != std::string::npos);
    json later = Ok(sock, {{"cmd", "events"}, {"since_ns", events["now_ns"]}});
    CHECK(later["events"].empty());

    // /metrics: per-path counters and states, valid for promtool.
    Io(device, 4);
    const std::string url =
        "http://127.0.0.1:" + std::to_string((*exporter)->port()) + "/metrics";
    int rc = -1;
    const std::string body = Shell("curl -sS --max-time 10 " + url, &rc);
    REQUIRE(rc == 0);
    INFO(body);
    const std::string labels1 =
        "device=\"" + device->identity() + "\",path=\"" +
        FindPath(Ok(sock, {{"cmd", "path.list"}}), p1)["name"]
            .get<std::string>() +
        "\",portal=\"" + p1 + "\"";
    CHECK(body.find("mpio_path_ios_total{" + labels1 + ",op=\"read\"} ") !=
          std::string::npos);
    CHECK(body.find("mpio_path_ios_total{" + labels1 + ",op=\"read\"} 0\n") ==
          std::string::npos);
    CHECK(body.find("mpio_path_state{" + labels1 + ",state=\"active\"} 1") !=
          std::string::npos);
    CHECK(body.find("mpio_path_failures_total{" + labels1 + "} 0\n") ==
          std::string::npos);
    CHECK(body.find("mpio_device_usable_paths{device=\"" + device->identity() +
                    "\"} 2") != std::string::npos);
    CHECK(body.find("mpio_devices 1") != std::string::npos);
    const std::string check = Shell(
        "curl -sS --max-time 10 " + url + " | promtool check metrics 2>&1",
        &rc);
    INFO(check);
    CHECK(rc == 0);
  }
  std::filesystem::remove_all(tmpl);
  engine->Shutdown();
}

}  // namespace
}  // namespace mpio::testing
