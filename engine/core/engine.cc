#include "engine/core/engine.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/sync.h"
#include "engine/iscsi/discovery.h"
#include "engine/scsi/cdb.h"
#include "engine/scsi/report_luns.h"

namespace mpio {

std::string NormalizePortal(const std::string& address) {
  if (address.empty()) return address;
  if (address[0] == '[') {
    return absl::StrContains(address, "]:") ? address
                                            : absl::StrCat(address, ":3260");
  }
  return absl::StrContains(address, ':') ? address
                                         : absl::StrCat(address, ":3260");
}

namespace {

const char* DeviceTypeName(uint8_t t) {
  switch (t) {
    case 0x00:
      return "disk";
    case 0x05:
      return "CD/DVD";
    case 0x0c:
      return "storage array controller";
    case 0x0d:
      return "enclosure";
    default:
      return "non-disk";
  }
}

// One AddTarget run on the reactor: discovery, REPORT LUNS, path probing.
// Lives until `done`; paths it created are handed to devices or dropped.
class TargetScan final : public Path::Listener {
 public:
  struct Candidate {
    std::unique_ptr<Path> path;
    size_t portal = 0;  // index in the target's portal list
    std::string iqn;
    int lun = 0;
    std::optional<LunInfo> info;
    std::string error;
    bool resolved = false;
  };

  TargetScan(
      Reactor* reactor, const EngineOptions& options, TargetSpec spec,
      std::function<uint32_t(const std::string&, const std::string&, int)> isid,
      std::function<void(TargetScan*)> done)
      : reactor_(reactor),
        options_(options),
        spec_(std::move(spec)),
        isid_(std::move(isid)),
        done_(std::move(done)) {}

  DiscoveryReport report;
  std::vector<Candidate> candidates;

  void Start() {
    for (auto& p : spec_.portals) {
      DiscoveryReport::PortalResult r;
      r.portal = NormalizePortal(p.address);
      report.portals.push_back(r);
    }
    pending_ = report.portals.size();
    if (pending_ == 0) return Finish();
    for (size_t i = 0; i < report.portals.size(); i++) {
      if (!spec_.target_iqn.empty()) {
        report.portals[i].targets.push_back(spec_.target_iqn);
        ScanLuns(i, spec_.target_iqn);
        continue;
      }
      DiscoveryConfig dc;
      dc.portal = report.portals[i].portal;
      dc.initiator_iqn = options_.initiator_iqn;
      dc.chap_user = spec_.chap_user;
      dc.chap_secret = spec_.chap_secret;
      dc.interface = spec_.portals[i].interface;
      dc.timeout = options_.session.login_timeout;
      DiscoverTargets(
          reactor_, dc,
          [this, i](absl::StatusOr<std::vector<DiscoveredTarget>> t) {
            if (!t.ok()) {
              report.portals[i].error = std::string(t.status().message());
              return PortalDone();
            }
            if (t->empty()) {
              report.portals[i].error =
                  "SendTargets listed no targets (check the ACLs)";
              return PortalDone();
            }
            for (auto& target : *t)
              report.portals[i].targets.push_back(target.iqn);
            pending_ += t->size() - 1;
            for (auto& target : *t) ScanLuns(i, target.iqn);
          });
    }
  }

  // Path::Listener, while paths belong to the scan.
  void OnPathChanged(Path* path, const std::string& reason) override {
    Candidate* c = Find(path);
    if (c == nullptr || c->resolved) return;
    if (path->state() == PathState::kActive) {
      c->resolved = true;
      Resolved();
    } else if (path->state() == PathState::kDead ||
               path->state() == PathState::kMarginal) {
      c->resolved = true;
      c->error = reason;
      Resolved();
    }
  }
  absl::Status OnPathProbed(Path* path, const LunInfo& info) override {
    if (Candidate* c = Find(path)) c->info = info;
    return absl::OkStatus();
  }

 private:
  Candidate* Find(Path* p) {
    for (auto& c : candidates) {
      if (c.path.get() == p) return &c;
    }
    return nullptr;
  }

  SessionConfig SessionFor(size_t portal, const std::string& iqn, int lun) {
    SessionConfig sc = options_.session;
    sc.portal = report.portals[portal].portal;
    sc.target_iqn = iqn;
    sc.lun = lun;
    sc.initiator_iqn = options_.initiator_iqn;
    sc.interface = spec_.portals[portal].interface;
    sc.chap_user = spec_.chap_user;
    sc.chap_secret = spec_.chap_secret;
    sc.target_chap_user = spec_.target_chap_user;
    sc.target_chap_secret = spec_.target_chap_secret;
    sc.isid_qualifier = isid_(sc.portal, iqn, lun);
    return sc;
  }

  void ScanLuns(size_t portal, const std::string& iqn) {
    if (!spec_.luns.empty()) {
      for (int lun : spec_.luns) AddCandidate(portal, iqn, lun);
      return PortalDone();
    }
    // REPORT LUNS is answered by LUN 0, which every target has.
    auto session = std::make_shared<std::unique_ptr<IscsiSession>>(
        std::make_unique<IscsiSession>(reactor_, SessionFor(portal, iqn, 0),
                                       nullptr));
    (*session)->Connect([this, portal, iqn, session](const absl::Status& s) {
      if (!s.ok()) {
        report.portals[portal].error = std::string(s.message());
        reactor_->Post([session] { session->reset(); });
        return PortalDone();
      }
      scsi::Cdb cdb = scsi::ReportLuns(4096);
      RunCommand(
          session->get(), cdb.bytes.data(), cdb.len, DataDirection::kRead, 4096,
          {}, [this, portal, iqn, session](const CommandOutcome& o) {
            if (!o.good()) {
              report.portals[portal].error =
                  absl::StrCat("REPORT LUNS: ", o.Describe());
            } else if (auto luns = scsi::ParseReportLuns(o.data); !luns.ok()) {
              report.portals[portal].error =
                  absl::StrCat("REPORT LUNS: ", luns.status().message());
            } else {
              for (uint64_t lun : luns->luns)
                AddCandidate(portal, iqn, static_cast<int>(lun));
            }
            reactor_->Post([session] {
              (*session)->Close();
              session->reset();
            });
            PortalDone();
          });
    });
  }

  void AddCandidate(size_t portal, const std::string& iqn, int lun) {
    Candidate c;
    c.portal = portal;
    c.iqn = iqn;
    c.lun = lun;
    c.path = std::make_unique<Path>(
        reactor_, static_cast<uint32_t>(candidates.size()),
        SessionFor(portal, iqn, lun), options_.path_policy, this);
    candidates.push_back(std::move(c));
    unresolved_++;
    candidates.back().path->Start();
  }

  void PortalDone() {
    if (--pending_ == 0) scanning_done_ = true;
    MaybeFinish();
  }
  void Resolved() {
    unresolved_--;
    MaybeFinish();
  }
  void MaybeFinish() {
    if (scanning_done_ && unresolved_ == 0 && !finished_) {
      // Not from inside a path callback: the caller will re-home paths.
      reactor_->Post([this] { Finish(); });
      finished_ = true;
    }
  }
  void Finish() { done_(this); }

  Reactor* reactor_;
  const EngineOptions& options_;
  TargetSpec spec_;
  std::function<uint32_t(const std::string&, const std::string&, int)> isid_;
  std::function<void(TargetScan*)> done_;
  size_t pending_ = 0;
  size_t unresolved_ = 0;
  bool scanning_done_ = false;
  bool finished_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(EngineOptions options) {
  auto reactor = Reactor::Create("engine");
  if (!reactor.ok()) return reactor.status();
  std::unique_ptr<Engine> e(
      new Engine(std::move(options), std::move(*reactor)));
  auto dirs = e->options_.plugin_dirs.empty()
                  ? PluginRegistry::DefaultDirectories()
                  : e->options_.plugin_dirs;
  for (const auto& d : dirs) {
    for (auto& err : e->plugins_.LoadDirectory(d))
      e->plugin_errors_.push_back(err);
  }
  e->reactor_->Start();
  return e;
}

Engine::Engine(EngineOptions options, std::unique_ptr<Reactor> reactor)
    : options_(std::move(options)), reactor_(std::move(reactor)) {}

Engine::~Engine() { Shutdown(); }

void Engine::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  // Give back the reservation keys (bounded: a dead target cannot hold the
  // shutdown up for more than a few seconds).
  auto pending = std::make_shared<std::atomic<int>>(1);  // 1: the loop below
  auto released = std::make_shared<Notification>();
  reactor_->RunSync([&] {
    MutexLock lock(&mu_);
    for (auto& d : devices_) {
      d->BeginShutdown();
      if (!d->fence()) continue;
      std::vector<Path*> paths;
      for (auto& p : d->paths()) paths.push_back(p.get());
      (*pending)++;
      d->mutable_fence()->ReleaseAll(std::move(paths), [pending, released] {
        if (--*pending == 0) released->Notify();
      });
    }
    if (--*pending == 0) released->Notify();
  });
  released->WaitForNotificationWithTimeout(absl::Seconds(3));
  reactor_->RunSync([this] {
    MutexLock lock(&mu_);
    devices_.clear();
  });
  reactor_->Stop();
  reactor_->Join();
}

uint32_t Engine::IsidFor(const std::string& portal, const std::string& iqn,
                         int lun) {
  // Stable across restarts (a hash of the nexus), unique within the engine:
  // two sessions to one portal with one ISID would reinstate each other.
  uint32_t h = 2166136261u;
  for (char ch : absl::StrCat(portal, "|", iqn, "|", lun)) {
    h = (h ^ static_cast<uint8_t>(ch)) * 16777619u;
  }
  h &= 0xffffff;
  while (std::find(used_isids_.begin(), used_isids_.end(), h) !=
         used_isids_.end()) {
    h = (h + 1) & 0xffffff;
  }
  used_isids_.push_back(h);
  return h;
}

std::vector<MultipathDevice*> Engine::devices() {
  MutexLock lock(&mu_);
  std::vector<MultipathDevice*> out;
  for (auto& d : devices_) out.push_back(d.get());
  return out;
}

MultipathDevice* Engine::FindDevice(const std::string& name) {
  MutexLock lock(&mu_);
  for (auto& d : devices_) {
    if (d->identity() == name) return d.get();
  }
  // A unique prefix or the index also works ("naa.6000", "0").
  MultipathDevice* found = nullptr;
  for (size_t i = 0; i < devices_.size(); i++) {
    if (absl::StrCat(i) == name) return devices_[i].get();
    if (absl::StartsWith(devices_[i]->identity(), name)) {
      if (found) return nullptr;
      found = devices_[i].get();
    }
  }
  return found;
}

absl::StatusOr<DiscoveryReport> Engine::AddTarget(const TargetSpec& spec) {
  if (reactor_->InReactorThread()) {
    return absl::FailedPreconditionError(
        "AddTarget called on the reactor thread");
  }
  if (spec.portals.empty())
    return absl::InvalidArgumentError("no portal given");
  Notification done;
  DiscoveryReport result;
  reactor_->Post([&] {
    auto* scan = new TargetScan(
        reactor_.get(), options_, spec,
        [this](const std::string& p, const std::string& i, int l) {
          return IsidFor(p, i, l);
        },
        [&](TargetScan* s) {
          // Group probed paths by identity.
          std::map<std::string, std::vector<TargetScan::Candidate*>> groups;
          for (auto& c : s->candidates) {
            if (!c.info || !c.error.empty()) {
              s->report.notes.push_back(
                  absl::StrCat("path ", c.path->name(), ": ",
                               c.error.empty() ? "not probed" : c.error));
              continue;
            }
            if (c.info->inquiry.device_type != 0 ||
                c.info->inquiry.peripheral_qualifier != 0) {
              s->report.notes.push_back(absl::StrCat(
                  "LUN ", c.path->session_config().lun, " via ",
                  c.path->session_config().portal, ": ",
                  DeviceTypeName(c.info->inquiry.device_type), " (type 0x",
                  absl::Hex(c.info->inquiry.device_type),
                  "), not a disk: skipped"));
              continue;
            }
            groups[c.info->identity].push_back(&c);
          }
          for (auto& [identity, members] : groups) {
            // Paths in the order the portals were given, not in the order
            // their logins finished: `path list` and path indices stay the
            // same from one start to the next.
            std::stable_sort(members.begin(), members.end(),
                             [](const TargetScan::Candidate* a,
                                const TargetScan::Candidate* b) {
                               return std::tie(a->portal, a->iqn, a->lun) <
                                      std::tie(b->portal, b->iqn, b->lun);
                             });
            MultipathDevice* device = nullptr;
            bool fresh = false;
            {
              MutexLock lock(&mu_);
              for (auto& d : devices_) {
                if (d->identity() == identity) device = d.get();
              }
              if (device == nullptr) {
                devices_.push_back(std::make_unique<MultipathDevice>(
                    reactor_.get(), identity, *members.front()->info,
                    options_.device));
                device = devices_.back().get();
                fresh = true;
              }
            }
            const LunInfo& ref = device->lun();
            for (auto* c : members) {
              if (c->info->capacity.size_bytes() != ref.capacity.size_bytes() ||
                  c->info->capacity.block_size != ref.capacity.block_size) {
                s->report.notes.push_back(absl::StrCat(
                    "refusing path ", c->path->name(), ": it claims identity ",
                    identity, " but reports ", c->info->capacity.size_bytes(),
                    " bytes in ", c->info->capacity.block_size,
                    "-byte blocks, while path ",
                    device->paths().empty() ? members.front()->path->name()
                                            : device->paths().front()->name(),
                    " reports ", ref.capacity.size_bytes(), " bytes in ",
                    ref.capacity.block_size, "-byte blocks"));
                continue;
              }
              Path* p = c->path.get();
              p->Rebind(device, static_cast<uint32_t>(device->paths().size()));
              device->AddPath(std::move(c->path));
            }
            if (fresh) {
              absl::Status claimed = Claim(device);
              if (!claimed.ok())
                s->report.notes.push_back(std::string(claimed.message()));
              s->report.devices.push_back(device);
            }
            for (auto& p : device->paths())
              device->OnPathChanged(p.get(), "joined device");
          }
          result = std::move(s->report);
          // `s` owns this very lambda: nothing it captured may be touched
          // after the delete.
          Notification* finished = &done;
          delete s;
          finished->Notify();
        });
    scan->Start();
  });
  done.WaitForNotification();
  // New devices decide their write fence right after the claim (a few PR
  // commands): wait for it, bounded, so callers start I/O with the fence
  // in place rather than racing it.
  for (int i = 0; i < 100; i++) {
    bool pending = false;
    reactor_->RunSync([&] {
      for (auto* d : result.devices) {
        if (d->fence() &&
            d->fence()->mode() == ReservationFence::Mode::kPending &&
            d->usable_paths() > 0) {
          pending = true;
        }
      }
    });
    if (!pending) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return result;
}

absl::Status Engine::Claim(MultipathDevice* device) {
  ClaimDecision d = rules_.Decide(device->lun(), plugins_);
  std::vector<std::string> notes = d.skipped;
  // claim() sees the INQUIRY data but create() does not: SATPs that want
  // the TPGS bits (explicit ALUA or not) take them as an option.
  if (const LoadedPlugin* sp = plugins_.Find(MPIO_PLUGIN_SATP, d.satp);
      sp && sp->ops.options_help &&
      absl::StrContains(sp->ops.options_help, "tpgs=") &&
      !absl::StrContains(d.satp_options, "tpgs=")) {
    absl::StrAppend(&d.satp_options, d.satp_options.empty() ? "" : ";",
                    "tpgs=", int{device->lun().inquiry.tpgs});
  }
  auto satp = plugins_.Create(MPIO_PLUGIN_SATP, d.satp, d.satp_options);
  if (!satp.ok()) {
    notes.push_back(std::string(satp.status().message()));
    satp = plugins_.Create(MPIO_PLUGIN_SATP, "default_aa", "");
  }
  auto psp = plugins_.Create(MPIO_PLUGIN_PSP, d.psp, d.psp_options);
  if (!psp.ok()) {
    notes.push_back(std::string(psp.status().message()));
    psp = plugins_.Create(MPIO_PLUGIN_PSP, ClaimRules::kDefaultPsp,
                          ClaimRules::kDefaultPspOptions);
  }
  std::string reason = d.reason;
  if (!notes.empty())
    absl::StrAppend(&reason, "; ", absl::StrJoin(notes, "; "));
  if (!satp.ok() || !psp.ok()) {
    absl::StrAppend(
        &reason,
        "; plugins missing: using the built-in round robin and treating every "
        "SCSI error as an I/O error (check --plugin-dir)");
  }
  device->SetPlugins(satp.ok() ? std::move(*satp) : nullptr,
                     psp.ok() ? std::move(*psp) : nullptr, reason);
  if (!notes.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("device ", device->identity(), ": ", reason));
  }
  return absl::OkStatus();
}

absl::Status Engine::Reclaim(MultipathDevice* device) { return Claim(device); }

absl::Status Engine::SetPsp(MultipathDevice* device, const std::string& psp,
                            const std::string& options) {
  auto inst = plugins_.Create(MPIO_PLUGIN_PSP, psp, options);
  if (!inst.ok()) return inst.status();
  device->SetPsp(std::move(*inst));
  return absl::OkStatus();
}

}  // namespace mpio
