// The stale-write hazard and the reservation fence, on a real tgtd.
//
// Scenario (LIBISCSI-NOTES.md, "stale-write hazard"): LBA X holds 'Z'. Path
// A is black-holed while a write 'B' to X is in flight on it; the engine
// declares A dead and re-drives 'B' on path B; it completes. Then a late
// write 'A' from path A's I_T nexus reaches the target. Without a fence it
// lands and silently replaces the newer 'B'; with fence=reservation the
// dead nexus's key was preempted before 'B' was re-driven, so the target
// refuses the late write with RESERVATION CONFLICT and 'B' survives.
//
// How the late write is produced: a black hole drops the stuck write's
// packets and the engine's TCP reset discards them, so in this lab the
// original bytes never arrive. The test therefore sends the late write
// itself, over a new session with the dead path's exact initiator name and
// ISID, i.e. from the same I_T nexus the target registered — which is
// precisely what a delayed PDU from the old connection would present. The
// target, the nexus and the reservation state are all real.
#include <doctest/doctest.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/base/sync.h"
#include "engine/core/engine.h"
#include "engine/iscsi/session.h"
#include "engine/scsi/cdb.h"
#include "tests/integration/lab_env.h"

namespace mpio::testing {
namespace {


// Sends one WRITE(16) from the nexus described by `config`; returns the SCSI
// status (or -1 when the command did not get an answer).
int LateWrite(const SessionConfig& config, uint64_t lba,
              std::vector<uint8_t>* data) {
  auto reactor = Reactor::Create("late-write");
  REQUIRE(reactor.ok());
  (*reactor)->Start();
  int status = -1;
  Notification done;
  struct Cb : ScsiCallback {
    int* status;
    Notification* done;
    void OnScsiDone(const ScsiResult& r) override {
      *status = r.kind == ScsiResult::Kind::kStatus ? r.scsi_status : -1;
      done->Notify();
    }
  } cb;
  cb.status = &status;
  cb.done = &done;
  PendingCommand cmd;
  iovec iov{data->data(), data->size()};
  std::unique_ptr<IscsiSession> session;
  (*reactor)->RunSync([&] {
    session = std::make_unique<IscsiSession>(reactor->get(), config, nullptr);
    session->Connect([&](const absl::Status& s) {
      if (!s.ok()) {
        done.Notify();
        return;
      }
      scsi::Cdb cdb =
          scsi::Write16(lba, static_cast<uint32_t>(data->size() / 512));
      std::copy(cdb.bytes.begin(), cdb.bytes.begin() + cdb.len, cmd.cdb);
      cmd.cdb_len = cdb.len;
      cmd.direction = DataDirection::kWrite;
      cmd.transfer_len = static_cast<uint32_t>(data->size());
      cmd.iov = &iov;
      cmd.iovcnt = 1;
      cmd.callback = &cb;
      if (!session->Submit(&cmd)) done.Notify();
    });
  });
  done.WaitForNotification();
  (*reactor)->RunSync([&] { session.reset(); });
  return status;
}

// The registered keys (PERSISTENT RESERVE IN, READ KEYS) or the
// reservation (READ RESERVATION) as hex, without the generation counter.
std::string ReadPr(const LabEnv& lab, bool reservation) {
  auto out = Shell(absl::StrCat("bash ", LabScript(), " scsi --name ", lab.name,
                                " --path 1 ",
                                reservation ? "5e010000000000010000"
                                            : "5e000000000000010000",
                                " 256"));
  REQUIRE_MESSAGE(out.ok(), out.status().ToString());
  size_t at = out->find("data=");
  REQUIRE(at != std::string::npos);
  std::string hex = out->substr(at + 5);
  hex = hex.substr(0, hex.find_first_of(" \n"));
  return hex.size() > 8 ? hex.substr(8) : hex;
}

std::string Run(const std::string& fence) {
  const char* name = getenv("MPIO_LAB");
  REQUIRE(name != nullptr);
  auto lab = LabEnv::Load(name);
  REQUIRE(lab.ok());
  EngineOptions o;
  o.plugin_dirs = {PluginDir()};
  o.device.fence = fence;
  o.path_policy.reconnect_min = absl::Milliseconds(200);
  o.path_policy.reconnect_max = absl::Seconds(1);
  auto engine = Engine::Create(o);
  REQUIRE(engine.ok());
  Engine* e = engine->get();
  auto report = e->AddTarget(lab->Spec());
  REQUIRE(report.ok());
  REQUIRE(report->devices.size() == 1);
  MultipathDevice* d = report->devices[0];
  // The fence mode is decided right after the claim; wait for it.
  std::string mode;
  for (int i = 0; i < 100; i++) {
    e->RunOnReactor(
        [&] { mode = d->fence() ? d->fence()->ModeName() : "none"; });
    if (mode != "pending") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string expected_mode = fence == "auto" ? "reservation" : fence;
  REQUIRE_MESSAGE(mode == expected_mode, "fence mode ", mode);

  const uint64_t offset = 8 << 20;
  std::vector<uint8_t> z(4096, 'Z'), a(4096, 'A'), b(4096, 'B'), back(4096, 0);
  absl::Status first = SyncIo(d, IoOp::kWrite, offset, &z);
  REQUIRE_MESSAGE(first.ok(), first.ToString());

  // Pin I/O to path A, black-hole it, write 'B': stuck on A, then re-driven.
  std::string path_a;
  SessionConfig nexus_a;
  e->RunOnReactor([&] {
    path_a = d->paths()[0]->name();
    nexus_a = d->paths()[0]->session_config();
  });
  absl::Status s;
  e->RunOnReactor([&] { s = e->SetPsp(d, "fixed", "preferred=" + path_a); });
  REQUIRE(s.ok());
  REQUIRE(lab->Fault(1, "blackhole").ok());
  absl::Status wrote = SyncIo(d, IoOp::kWrite, offset, &b);
  REQUIRE(lab->Fault(1, "unblackhole").ok());
  CHECK_MESSAGE(wrote.ok(), wrote.ToString());
  REQUIRE(SyncIo(d, IoOp::kRead, offset, &back).ok());
  CHECK(back == b);

  // The late write from path A's nexus.
  int late = LateWrite(nexus_a, offset / 512, &a);
  MESSAGE("fence=", fence, ": late write from the dead nexus got SCSI status ",
          late);
  // Let path A come back (it re-registers its key) and read through it.
  REQUIRE(SyncIo(d, IoOp::kRead, offset, &back).ok());
  uint64_t fences = 0;
  e->RunOnReactor([&] { fences = d->fence() ? d->fence()->fences() : 0; });
  std::vector<std::string> our_keys;
  int logged_in = 0;
  e->RunOnReactor([&] {
    if (d->fence() == nullptr) return;
    for (const auto& p : d->paths()) {
      if (!p) continue;
      our_keys.push_back(absl::StrFormat("%016x", d->fence()->KeyFor(*p)));
      if (p->session() != nullptr && p->session()->logged_in()) logged_in++;
    }
  });
  e->Shutdown();
  // Shutdown gives back the keys and the reservation it can: a key left
  // behind would keep other initiators' writes out (Registrants Only).
  // (ISIDs, hence keys, are stable across runs: keys an earlier, killed run
  // left are ours too, and the engine's start-up released them.)
  const std::string keys_after = ReadPr(*lab, false);
  const std::string reservation_after = ReadPr(*lab, true);
  // A path down at shutdown (here: its nexus was taken over by the test's
  // late-write session) cannot send anything; a logged-in one PREEMPTs its
  // key, and the reservation with it when it was the holder. With no path
  // logged in at all, nothing can be given back: reported only.
  MESSAGE(logged_in, " of ", our_keys.size(), " paths logged in at shutdown");
  for (const std::string& k : our_keys) {
    if (logged_in > 0) {
      CHECK_MESSAGE(keys_after.find(k) == std::string::npos, "key ", k,
                    " still registered: ", keys_after);
      CHECK_MESSAGE(reservation_after.find(k) == std::string::npos, "key ", k,
                    " still holds the reservation: ", reservation_after);
    } else if (keys_after.find(k) != std::string::npos) {
      MESSAGE("key ", k, " still registered (no path logged in): ", keys_after);
    }
  }
  if (fence == "auto" || fence == "reservation") {
    CHECK(late == 0x18);  // RESERVATION CONFLICT
    CHECK(fences >= 1);
  } else {
    CHECK(late == 0);  // GOOD: the stale write landed
  }
  return std::string(1, static_cast<char>(back[0]));
}

TEST_CASE("fence=auto picks the reservation fence and the newest data wins") {
  CHECK(Run("auto") == "B");
}

TEST_CASE(
    "fence=reset: the late write lands and replaces newer data (the hazard)") {
  CHECK(Run("reset") == "A");
}

}  // namespace
}  // namespace mpio::testing
