// ReservationFence: SCSI-3 persistent reservations as a write fence.
//
// Why: a write in flight on a path that died can still reach the array
// later and overwrite a newer write re-driven elsewhere (measured with
// libiscsi 1.19 and tgtd: LIBISCSI-NOTES.md, "stale-write hazard"). Resetting
// the TCP connection only helps while the bytes are still in this host.
// With a distinct reservation key per path (per I_T nexus) under a Write
// Exclusive - Registrants Only reservation, PREEMPTing the dead path's key
// from a good path before re-driving its writes makes the target refuse any
// late write from the dead nexus (RESERVATION CONFLICT).
//
// Modes (DeviceOptions::fence): "auto" (reservation where the LUN supports
// PR and nobody else holds one, else reset), "reservation" (the same, but a
// refusal is logged as a warning), "reset" (connection reset only), "none".
// Keys: 'M' | 32-bit hash of (initiator, device) | 24-bit ISID qualifier of
// the path: stable across restarts, distinct per nexus, recognisable as ours.
// Threads: the device's reactor thread. Failure leaves the mode at "reset"
// and says why in reason().
#ifndef MPIO_ENGINE_DEVICE_RESERVATION_FENCE_H_
#define MPIO_ENGINE_DEVICE_RESERVATION_FENCE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/path/path.h"

namespace mpio {

class ReservationFence {
 public:
  enum class Mode { kPending, kReservation, kReset, kNone };

  ReservationFence(std::string requested, std::string initiator,
                   std::string identity);

  // Decides the mode using the first of `paths` (READ RESERVATION),
  // registers every one of them, then takes the reservation (in that order,
  // so no path's writes meet a reservation it is not registered for).
  // `done` runs once the mode is known.
  void Setup(std::vector<Path*> paths, std::function<void()> done);
  // Registers a (re)joining path's key; OK when not in reservation mode.
  void RegisterPath(Path* path, std::function<void(absl::Status)> done);
  // Removes `dead`'s registration from `via`, so late writes from the dead
  // nexus are refused. OK at once when not in reservation mode.
  void FencePath(const Path* dead, Path* via,
                 std::function<void(absl::Status)> done);

  // Clean shutdown: each path removes its own key (REGISTER with service
  // action key 0); the reservation goes with its holder's key. Other
  // initiators' registrations are left alone (no CLEAR).
  void Unregister(Path* path, std::function<void()> done);
  // Clean shutdown of a device: first a logged-in path PREEMPTs the keys
  // of the paths that are down (a registration belongs to the I_T nexus
  // and outlives its session; if the holder was among them, the
  // reservation moves to the preempting path), then every logged-in path
  // releases and unregisters. With no path logged in nothing can be sent:
  // the keys stay, and the next start releases a stale holder.
  void ReleaseAll(std::vector<Path*> paths, std::function<void()> done);

  Mode mode() const { return mode_; }
  const char* ModeName() const;
  const std::string& reason() const { return reason_; }
  const std::string& requested() const { return requested_; }
  uint64_t KeyFor(const Path& p) const;
  uint64_t fences() const { return fences_; }

 private:
  void Register(Path* path, std::function<void(absl::Status)> done);
  void Reserve(Path* path, std::function<void(absl::Status)> done);
  void SetMode(Mode m, std::string reason);
  void ReleaseStale(Path* path, uint64_t holder, std::function<void()> done);
  void RegisterAll(std::vector<Path*> paths, size_t next,
                   std::function<void(absl::Status)> done);
  void PreemptDown(Path* via, std::vector<Path*> down, size_t next,
                   std::function<void()> done);

  std::string requested_;
  uint64_t key_prefix_;  // top 40 bits
  Mode mode_ = Mode::kPending;
  std::string reason_ = "not decided yet";
  uint64_t fences_ = 0;
};

}  // namespace mpio

#endif  // MPIO_ENGINE_DEVICE_RESERVATION_FENCE_H_
