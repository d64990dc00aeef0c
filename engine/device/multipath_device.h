// MultipathDevice: all paths to one LUN, exported as one BlockDevice.
//
// The life of an I/O: Submit() (any thread) -> the device's inbox -> the
// reactor validates it, splits it at the LUN's transfer limits, asks the PSP
// for a path and sends the command. GOOD completes it. CHECK CONDITION goes
// to the SATP, whose verdict is: retry on the same path, fail the path and
// retry elsewhere, return the error, retry after a delay, re-probe, or device
// lost. A transport failure kills the path; its in-flight I/O is re-driven on
// the other paths (after the path's connection was reset, so a stale write
// cannot land later: see "fence" below). With no usable path, I/O waits for
// no_path_retry, then fails with EIO.
//
// Threads: Submit() and geometry() from any thread; everything else on the
// device's reactor thread. The hot path allocates nothing in steady state:
// per-I/O records come from a free list that only grows.
#ifndef MPIO_ENGINE_DEVICE_MULTIPATH_DEVICE_H_
#define MPIO_ENGINE_DEVICE_MULTIPATH_DEVICE_H_

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/base/log.h"
#include "engine/claim/plugin_registry.h"
#include "engine/device/block_device.h"
#include "engine/device/reservation_fence.h"
#include "engine/path/path.h"
#include "engine/reactor/reactor.h"

namespace mpio {

struct DeviceOptions {
  absl::Duration no_path_retry = absl::Seconds(30);  // all paths down: queue
  int max_retries = 5;  // per I/O, for retryable SCSI conditions
  // Before a dead path's writes are re-driven: "auto" (persistent
  // reservation fence where the LUN supports it, else reset), "reservation",
  // "reset" (TCP reset of the dead connection only) or "none".
  std::string fence = "auto";
  // Re-probe every path this often: the SATP's probe command (ALUA's RTPG;
  // some targets, istgt, change port group states without a UNIT
  // ATTENTION) and READ CAPACITY (tgtd raises no UNIT ATTENTION when a LUN
  // is resized). Zero: only on path (re)entry, REPROBE verdicts, capacity
  // UNIT ATTENTIONs and LBA OUT OF RANGE.
  absl::Duration reprobe_interval = absl::Seconds(10);
};

struct DeviceEvent {
  uint64_t time_ns;
  std::string text;
};

class MultipathDevice : public BlockDevice, public Path::Listener {
 public:
  MultipathDevice(Reactor* reactor, std::string identity, const LunInfo& lun,
                  DeviceOptions options);
  ~MultipathDevice() override;

  // BlockDevice
  const DeviceGeometry& geometry() const override { return geometry_; }
  void Submit(IoRequest* request) override;

  // Reactor thread. Takes ownership; the path is started by the caller.
  Path* AddPath(std::unique_ptr<Path> path);
  void SetPlugins(std::unique_ptr<PluginInstance> satp,
                  std::unique_ptr<PluginInstance> psp,
                  std::string claim_reason);
  void SetPsp(std::unique_ptr<PluginInstance> psp);

  const std::string& identity() const { return identity_; }
  const LunInfo& lun() const { return lun_; }
  const std::vector<std::unique_ptr<Path>>& paths() const { return paths_; }
  Path* FindPath(const std::string& name_or_index);
  const PluginInstance* satp() const { return satp_.get(); }
  const PluginInstance* psp() const { return psp_.get(); }
  const std::string& claim_reason() const { return claim_reason_; }
  const DeviceOptions& options() const { return options_; }
  size_t usable_paths() const;
  uint64_t queued_no_path() const { return no_path_queue_.size(); }
  // Paths in service that failed since the device was made.
  uint64_t failovers() const { return failovers_; }
  // The size the array reported last (READ CAPACITY); the exported size
  // until a path reports another.
  uint64_t reported_size_bytes() const {
    return reported_size_ ? reported_size_ : lun_.capacity.size_bytes();
  }
  bool lost() const { return lost_; }
  const std::deque<DeviceEvent>& events() const { return events_; }
  // Kept for `device show` and logged at `level`.
  void AddEvent(std::string text, LogLevel level = LogLevel::kInfo);
  // No path becomes active (or registers a reservation key) from now on;
  // the engine calls it before it unregisters the keys at shutdown.
  void BeginShutdown();
  // Sets or clears the preferred path (FIXED fails back to it).
  absl::Status SetPreferred(const std::string& path);

  // Path::Listener
  void OnPathChanged(Path* path, const std::string& reason) override;
  absl::Status OnPathProbed(Path* path, const LunInfo& info) override;
  void PrepareActivation(Path* path,
                         std::function<void(absl::Status)> done) override;

  // The write fence; null until the device is claimed.
  const ReservationFence* fence() const { return fence_.get(); }
  ReservationFence* mutable_fence() { return fence_.get(); }
  uint64_t held_writes() const;

 private:
  struct Io;
  struct Parent;
  class InboxMessage final : public Reactor::Message {
   public:
    explicit InboxMessage(MultipathDevice* d) : device_(d) {}
    void Run() override { device_->DrainInbox(); }

   private:
    MultipathDevice* device_;
  };

  void DrainInbox();
  void Start(IoRequest* r);
  absl::Status Validate(const IoRequest* r) const;
  Io* NewIo();
  void FreeIo(Io* io);
  void Dispatch(Io* io);
  void OnIoDone(Io* io, const ScsiResult& r);
  void Redrive(Io* io, const char* why);
  void FinishIo(Io* io, const absl::Status& s);
  void RefreshViews();
  Path* SelectPath(Io* io);
  void DrainNoPathQueue();
  void CheckNoPathQueue();
  void ProbeSatp(Path* path);
  void ReprobeAll();
  // READ CAPACITY on `path` (at most once a second), then NoteReportedSize.
  void CheckCapacity(Path* path);
  // The device keeps the size it was exported with (an NBD client or a
  // mounted filesystem cannot follow a change); a different size reported
  // by the array is said once per change, loudly for a shrink.
  void NoteReportedSize(const std::string& path_name, uint64_t bytes);
  void MaybeActivateGroup();
  void FailEverything(const absl::Status& s);
  void HoldForFence(Io* io, uint32_t dead_path);
  void RunFence(uint32_t dead_path);
  // A path's fence is over: let its new session register (see
  // PrepareActivation).
  void FenceFinished(uint32_t dead_path);

  Reactor* reactor_;
  std::string identity_;
  LunInfo lun_;
  DeviceOptions options_;
  DeviceGeometry geometry_;
  uint32_t max_transfer_blocks_;
  uint32_t max_unmap_blocks_;
  uint32_t max_write_same_blocks_;
  bool lost_ = false;
  uint64_t failovers_ = 0;
  bool shutting_down_ = false;
  bool activation_running_ = false;  // a SET TARGET PORT GROUPS in flight
  uint64_t last_activation_ns_ = 0;
  bool capacity_check_running_ = false;
  uint64_t last_capacity_check_ns_ = 0;
  uint64_t reported_size_ = 0;  // last size a path reported; 0: not yet

  std::vector<std::unique_ptr<Path>> paths_;
  std::vector<mpio_psp_path> views_;  // indexed by path index
  std::vector<PathState> last_state_;
  std::unique_ptr<PluginInstance> satp_;
  std::unique_ptr<PluginInstance> psp_;
  std::string claim_reason_;
  uint32_t builtin_rr_next_ = 0;

  std::atomic<IoRequest*> inbox_{nullptr};
  InboxMessage inbox_message_{this};

  std::vector<std::unique_ptr<Io>> io_storage_;
  Io* free_ios_ = nullptr;
  std::vector<std::unique_ptr<Parent>> parent_storage_;
  Parent* free_parents_ = nullptr;
  std::deque<Io*> no_path_queue_;
  Reactor::TimerId no_path_timer_ = 0;
  Reactor::TimerId reprobe_timer_ = 0;  // periodic ReprobeAll, see options
  std::deque<DeviceEvent> events_;
  std::vector<uint8_t> zero_block_;
  std::unique_ptr<ReservationFence> fence_;
  // Writes of a dead path waiting for its fence, by path index.
  std::vector<std::deque<Io*>> held_;
  std::vector<bool> fence_running_;
  // Activations waiting for their path's fence to finish, by path index.
  std::vector<std::function<void(absl::Status)>> waiting_activation_;
};

}  // namespace mpio

#endif  // MPIO_ENGINE_DEVICE_MULTIPATH_DEVICE_H_
