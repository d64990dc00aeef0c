#include "engine/device/reservation_fence.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/base/log.h"
#include "engine/scsi/cdb.h"
#include "engine/scsi/persistent_reservation.h"

namespace mpio {
namespace {

constexpr uint8_t kStatusReservationConflict = 0x18;
constexpr scsi::PrType kType = scsi::PrType::kWriteExclusiveRegistrantsOnly;

void PrOut(Path* path, scsi::PrOutAction action, scsi::PrType type,
           uint64_t key, uint64_t sa_key,
           std::function<void(const CommandOutcome&)> done) {
  if (path->session() == nullptr || !path->session()->logged_in()) {
    CommandOutcome o;  // cancelled
    done(o);
    return;
  }
  scsi::Cdb cdb = scsi::PersistentReserveOut(action, type);
  auto params = scsi::PrOutParameterList(key, sa_key);
  RunCommand(path->session(), cdb.bytes.data(), cdb.len, DataDirection::kWrite,
             24, std::vector<uint8_t>(params.begin(), params.end()),
             std::move(done));
}

}  // namespace

ReservationFence::ReservationFence(std::string requested, std::string initiator,
                                   std::string identity)
    : requested_(std::move(requested)) {
  uint32_t h = 2166136261u;
  for (char c : absl::StrCat(initiator, "|", identity))
    h = (h ^ uint8_t(c)) * 16777619u;
  key_prefix_ = (uint64_t{'M'} << 56) | (uint64_t{h} << 24);
  if (requested_ == "reset")
    SetMode(Mode::kReset, "fence = reset (configured)");
  if (requested_ == "none")
    SetMode(Mode::kNone, "fence = none (configured): stale writes possible");
}

const char* ReservationFence::ModeName() const {
  switch (mode_) {
    case Mode::kPending:
      return "pending";
    case Mode::kReservation:
      return "reservation";
    case Mode::kReset:
      return "reset";
    case Mode::kNone:
      return "none";
  }
  return "?";
}

uint64_t ReservationFence::KeyFor(const Path& p) const {
  return key_prefix_ | (p.session_config().isid_qualifier & 0xffffff);
}

void ReservationFence::SetMode(Mode m, std::string reason) {
  mode_ = m;
  reason_ = std::move(reason);
}

void ReservationFence::Setup(std::vector<Path*> paths,
                             std::function<void()> done) {
  if (paths.empty() || paths[0]->session() == nullptr) return done();
  Path* path = paths[0];
  scsi::Cdb cdb =
      scsi::PersistentReserveIn(scsi::PrInAction::kReadReservation, 64);
  RunCommand(path->session(), cdb.bytes.data(), cdb.len, DataDirection::kRead,
             64, {}, [this, path, paths, done](const CommandOutcome& o) {
               auto fallback = [&](std::string why) {
                 SetMode(Mode::kReset, absl::StrCat("fence = reset: ", why));
                 if (requested_ == "reservation") Log(LogLevel::kWarn, reason_);
                 done();
               };
               std::optional<scsi::PrReservation> r;
               if (o.good()) {
                 auto parsed = scsi::ParsePrReadReservation(o.data);
                 if (parsed.ok()) r = *parsed;
               }
               const bool ours =
                   r && r->reserved && (r->key & ~0xffffffull) == key_prefix_;
               if (mode_ != Mode::kPending) {
                 // reset/none configured. A reservation an earlier mpio run
                 // left behind (crash, or fence=auto before) would refuse
                 // our writes: take it over and release it.
                 if (!ours) return done();
                 return ReleaseStale(path, r->key, done);
               }
               if (!o.good())
                 return fallback(
                     absl::StrCat("PERSISTENT RESERVE IN: ", o.Describe()));
               if (!r)
                 return fallback("PERSISTENT RESERVE IN data not understood");
               if (r->reserved && !ours) {
                 return fallback(absl::StrFormat(
                     "the LUN is reserved by another initiator (key 0x%016x)",
                     r->key));
               }
               RegisterAll(paths, 0, [this, path, done](absl::Status s) {
                 if (!s.ok()) {
                   SetMode(Mode::kReset,
                           absl::StrCat("fence = reset: ", s.message()));
                   return done();
                 }
                 Reserve(path, [this, done](absl::Status s2) {
                   if (!s2.ok()) {
                     SetMode(Mode::kReset,
                             absl::StrCat("fence = reset: ", s2.message()));
                   } else {
                     SetMode(Mode::kReservation,
                             "fence = reservation: Write Exclusive - "
                             "Registrants Only, one key "
                             "per path; a dead path's key is preempted before "
                             "its writes are "
                             "re-driven");
                   }
                   done();
                 });
               });
             });
}

// Register, PREEMPT the stale holder (we become the holder), RELEASE, and
// unregister: other initiators' registrations are left alone.
void ReservationFence::ReleaseStale(Path* path, uint64_t holder,
                                    std::function<void()> done) {
  const uint64_t key = KeyFor(*path);
  auto finish = [this, holder, done](const std::string& how) {
    reason_ += absl::StrFormat(
        "; %s a reservation left by an earlier mpio run (key 0x%016x)", how,
        holder);
    done();
  };
  PrOut(path, scsi::PrOutAction::kRegisterAndIgnore, scsi::PrType::kNone, 0,
        key, [path, key, holder, finish](const CommandOutcome& o1) {
          if (!o1.good()) return finish("could not release");
          PrOut(path, scsi::PrOutAction::kPreempt, kType, key, holder,
                [path, key, finish](const CommandOutcome& o2) {
                  PrOut(path, scsi::PrOutAction::kRelease, kType, key, 0,
                        [path, key, finish, o2](const CommandOutcome& o3) {
                          PrOut(path, scsi::PrOutAction::kRegister,
                                scsi::PrType::kNone, key, 0,
                                [finish, o2, o3](const CommandOutcome&) {
                                  finish(o2.good() && o3.good()
                                             ? "released"
                                             : "could not release");
                                });
                        });
                });
        });
}

void ReservationFence::RegisterAll(std::vector<Path*> paths, size_t next,
                                   std::function<void(absl::Status)> done) {
  if (next == paths.size()) return done(absl::OkStatus());
  Register(paths[next], [this, paths, next, done](absl::Status s) {
    if (!s.ok()) return done(s);
    RegisterAll(paths, next + 1, done);
  });
}

void ReservationFence::Register(Path* path,
                                std::function<void(absl::Status)> done) {
  PrOut(path, scsi::PrOutAction::kRegisterAndIgnore, scsi::PrType::kNone, 0,
        KeyFor(*path), [path, done](const CommandOutcome& o) {
          if (o.good()) return done(absl::OkStatus());
          done(absl::UnavailableError(absl::StrCat(
              "PR REGISTER on ", path->name(), ": ", o.Describe())));
        });
}

void ReservationFence::Reserve(Path* path,
                               std::function<void(absl::Status)> done) {
  PrOut(path, scsi::PrOutAction::kReserve, kType, KeyFor(*path), 0,
        [path, done](const CommandOutcome& o) {
          // A conflict means another of our paths holds it already: fine,
          // all registrants may write under WE-RO.
          if (o.good() || (o.kind == ScsiResult::Kind::kStatus &&
                           o.scsi_status == kStatusReservationConflict)) {
            return done(absl::OkStatus());
          }
          done(absl::UnavailableError(absl::StrCat(
              "PR RESERVE on ", path->name(), ": ", o.Describe())));
        });
}

void ReservationFence::Unregister(Path* path, std::function<void()> done) {
  // Any logged-in path, usable or not: a path on probation or in an ALUA
  // standby group still holds a key, and PERSISTENT RESERVE OUT is allowed
  // in standby. A key left behind keeps other initiators out.
  if (mode_ != Mode::kReservation || path->session() == nullptr ||
      !path->session()->logged_in()) {
    return done();
  }
  // RELEASE first (a no-op unless this path holds the reservation), then
  // drop the key: not every target releases a Registrants Only reservation
  // when its holder unregisters.
  const uint64_t key = KeyFor(*path);
  PrOut(path, scsi::PrOutAction::kRelease, kType, key, 0,
        [path, key, done](const CommandOutcome& o) {
          // Cancelled: the path is being torn down; nothing more to send.
          if (o.kind != ScsiResult::Kind::kStatus) return done();
          PrOut(path, scsi::PrOutAction::kRegister, scsi::PrType::kNone, key,
                0, [done](const CommandOutcome&) { done(); });
        });
}

void ReservationFence::ReleaseAll(std::vector<Path*> paths,
                                  std::function<void()> done) {
  if (mode_ != Mode::kReservation) return done();
  std::vector<Path*> live, down;
  for (Path* p : paths) {
    if (p == nullptr) continue;
    (p->session() != nullptr && p->session()->logged_in() ? live : down)
        .push_back(p);
  }
  if (live.empty()) return done();
  auto unregister_live = [this, live, done] {
    auto pending = std::make_shared<size_t>(live.size());
    for (Path* p : live) {
      Unregister(p, [pending, done] {
        if (--*pending == 0) done();
      });
    }
  };
  PreemptDown(live.front(), std::move(down), 0, unregister_live);
}

void ReservationFence::PreemptDown(Path* via, std::vector<Path*> down,
                                   size_t next, std::function<void()> done) {
  if (next == down.size()) return done();
  // RESERVATION CONFLICT here means the key is not registered (the fence
  // took it when the path died): nothing to remove.
  PrOut(via, scsi::PrOutAction::kPreempt, kType, KeyFor(*via),
        KeyFor(*down[next]),
        [this, via, down, next, done](const CommandOutcome& o) {
          if (o.kind != ScsiResult::Kind::kStatus) return done();  // `via` died
          PreemptDown(via, down, next + 1, done);
        });
}

void ReservationFence::RegisterPath(Path* path,
                                    std::function<void(absl::Status)> done) {
  // While the mode is still being decided, register anyway: the
  // reservation may be taken any moment, and an unregistered path's writes
  // would then be refused. A registration without a reservation is inert.
  if (mode_ == Mode::kPending) {
    return Register(path, [done](absl::Status) { done(absl::OkStatus()); });
  }
  if (mode_ != Mode::kReservation) return done(absl::OkStatus());
  // After a target restart the reservation may be gone: take it again.
  Register(path, [this, path, done](absl::Status s) {
    if (!s.ok()) return done(s);
    Reserve(path, done);
  });
}

void ReservationFence::FencePath(const Path* dead, Path* via,
                                 std::function<void(absl::Status)> done) {
  if (mode_ != Mode::kReservation) return done(absl::OkStatus());
  const uint64_t victim = KeyFor(*dead);
  const std::string dead_name = dead->name();
  PrOut(via, scsi::PrOutAction::kPreempt, kType, KeyFor(*via), victim,
        [this, via, victim, dead_name, done](const CommandOutcome& o) {
          if (o.good()) {
            fences_++;
            return done(absl::OkStatus());
          }
          if (o.kind == ScsiResult::Kind::kStatus &&
              o.scsi_status == kStatusReservationConflict) {
            // `via` itself is not registered (target restarted?): register
            // it and try once more.
            RegisterPath(via, [this, via, victim, dead_name,
                               done](absl::Status s) {
              if (!s.ok()) return done(s);
              PrOut(via, scsi::PrOutAction::kPreempt, kType, KeyFor(*via),
                    victim, [this, dead_name, done](const CommandOutcome& o2) {
                      if (o2.good()) {
                        fences_++;
                        return done(absl::OkStatus());
                      }
                      done(absl::UnavailableError(absl::StrCat(
                          "PR PREEMPT of ", dead_name, ": ", o2.Describe())));
                    });
            });
            return;
          }
          done(absl::UnavailableError(absl::StrCat("PR PREEMPT of ", dead_name,
                                                   " via ", via->name(), ": ",
                                                   o.Describe())));
        });
}

}  // namespace mpio
