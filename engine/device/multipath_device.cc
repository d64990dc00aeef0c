#include "engine/device/multipath_device.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/base/log.h"
#include "engine/device/iovec_slice.h"
#include "engine/scsi/capacity.h"
#include "engine/scsi/cdb.h"
#include "engine/scsi/sense.h"

namespace mpio {
namespace {

constexpr size_t kMaxEvents = 256;
constexpr uint32_t kDefaultMaxTransfer = 1u << 20;
constexpr uint32_t kCapMaxTransfer = 4u << 20;

absl::Status StatusFromErrno(int err, const std::string& text) {
  switch (err) {
    case EINVAL:
      return absl::InvalidArgumentError(text);
    case ENOSPC:
      return absl::ResourceExhaustedError(text);
    case EROFS:
      return absl::PermissionDeniedError(text);
    case EOPNOTSUPP:
      return absl::UnimplementedError(text);
    case ENODEV:
    case ENXIO:
      return absl::NotFoundError(text);
    default:
      return absl::DataLossError(text);  // EIO
  }
}

void SetCdb(PendingCommand* c, const scsi::Cdb& cdb) {
  std::memcpy(c->cdb, cdb.bytes.data(), cdb.len);
  c->cdb_len = cdb.len;
}

// Sends a command a SATP built (probe, activation) on `session`. A
// data-out payload travels inside the CDB struct, capped at its buffer.
void RunSatpCommand(IscsiSession* session, const mpio_scsi_cdb& cdb,
                    std::function<void(const CommandOutcome&)> done) {
  std::vector<uint8_t> out;
  if (cdb.data_direction == 2)
    out.assign(cdb.data,
               cdb.data + std::min<size_t>(cdb.transfer_len, sizeof(cdb.data)));
  RunCommand(session, cdb.cdb, static_cast<uint8_t>(cdb.cdb_len),
             static_cast<DataDirection>(cdb.data_direction), cdb.transfer_len,
             std::move(out), std::move(done));
}

}  // namespace

struct MultipathDevice::Parent {
  IoRequest* request = nullptr;
  uint32_t remaining = 0;
  absl::Status status;
  Parent* next_free = nullptr;
};

struct MultipathDevice::Io final : public ScsiCallback {
  MultipathDevice* device = nullptr;
  Parent* parent = nullptr;
  IoOp op = IoOp::kRead;
  uint64_t lba = 0;
  uint32_t blocks = 0;
  uint64_t bytes = 0;
  std::vector<iovec> iov;      // this chunk's slice of the caller's buffers
  std::vector<uint8_t> param;  // UNMAP parameter list
  PendingCommand cmd;
  int32_t path = -1;
  uint64_t start_ns = 0;
  uint64_t queued_ns = 0;
  int retries = 0;
  int path_failures = 0;
  Io* next_free = nullptr;
  void OnScsiDone(const ScsiResult& r) override { device->OnIoDone(this, r); }
};

MultipathDevice::MultipathDevice(Reactor* reactor, std::string identity,
                                 const LunInfo& lun, DeviceOptions options)
    : reactor_(reactor),
      identity_(std::move(identity)),
      lun_(lun),
      options_(options) {
  const uint32_t bs = lun.capacity.block_size;
  geometry_.name = identity_;
  geometry_.size_bytes = lun.capacity.size_bytes();
  geometry_.block_size = bs;
  uint64_t max_transfer = kDefaultMaxTransfer;
  uint32_t unmap_blocks = 1u << 22;
  uint64_t ws_blocks = 1u << 16;
  if (lun.block_limits) {
    const auto& bl = *lun.block_limits;
    if (bl.max_transfer_length) {
      max_transfer = std::min<uint64_t>(uint64_t{bl.max_transfer_length} * bs,
                                        kCapMaxTransfer);
    }
    if (bl.optimal_transfer_length) {
      geometry_.optimal_transfer_bytes =
          static_cast<uint32_t>(std::min<uint64_t>(
              uint64_t{bl.optimal_transfer_length} * bs, kCapMaxTransfer));
    }
    if (bl.max_unmap_lba_count && bl.max_unmap_lba_count != 0xffffffff) {
      unmap_blocks = bl.max_unmap_lba_count;
    }
    if (bl.max_write_same_length)
      ws_blocks = std::min<uint64_t>(bl.max_write_same_length, ws_blocks);
  }
  max_transfer = std::max<uint64_t>(max_transfer - max_transfer % bs, bs);
  geometry_.max_transfer_bytes = static_cast<uint32_t>(max_transfer);
  max_transfer_blocks_ = static_cast<uint32_t>(max_transfer / bs);
  max_unmap_blocks_ = unmap_blocks;
  max_write_same_blocks_ = static_cast<uint32_t>(ws_blocks);
  const bool thin = lun.capacity.lbpme;
  geometry_.supports_unmap = lun.provisioning ? lun.provisioning->lbpu : thin;
  geometry_.supports_write_zeroes_unmap =
      lun.provisioning ? lun.provisioning->lbpws : false;
  zero_block_.assign(bs, 0);
}

MultipathDevice::~MultipathDevice() {
  if (no_path_timer_) reactor_->Cancel(no_path_timer_);
  if (reprobe_timer_) reactor_->Cancel(reprobe_timer_);
  FailEverything(absl::CancelledError("device removed"));
  for (auto& q : held_) {
    std::deque<Io*> ios;
    ios.swap(q);
    for (Io* io : ios) FinishIo(io, absl::CancelledError("device removed"));
  }
  // Closing paths delivers CANCELLED for what is still on the wire; with
  // lost_ set those I/Os complete with an error instead of being re-driven.
  lost_ = true;
  paths_.clear();
}

void MultipathDevice::AddEvent(std::string text, LogLevel level) {
  Log(level, absl::StrCat("device ", identity_, ": ", text));
  events_.push_back({Reactor::NowNs(), std::move(text)});
  if (events_.size() > kMaxEvents) events_.pop_front();
}

Path* MultipathDevice::AddPath(std::unique_ptr<Path> path) {
  Path* p = path.get();
  if (paths_.size() <= p->index()) {
    paths_.resize(p->index() + 1);
    views_.resize(p->index() + 1);
  }
  paths_[p->index()] = std::move(path);
  RefreshViews();
  return p;
}

void MultipathDevice::SetPlugins(std::unique_ptr<PluginInstance> satp,
                                 std::unique_ptr<PluginInstance> psp,
                                 std::string claim_reason) {
  satp_ = std::move(satp);
  psp_ = std::move(psp);
  claim_reason_ = std::move(claim_reason);
  AddEvent(absl::StrCat("claimed: ", claim_reason_));
  RefreshViews();
  if (reprobe_timer_ == 0 && options_.reprobe_interval > absl::ZeroDuration()) {
    reprobe_timer_ =
        reactor_->Every(options_.reprobe_interval, [this] { ReprobeAll(); });
  }
  ReprobeAll();  // a new SATP (reclaim) learns the states of running paths
  if (!fence_ && !paths_.empty() && paths_[0]) {
    fence_ = std::make_unique<ReservationFence>(
        options_.fence, paths_[0]->session_config().initiator_iqn, identity_);
    std::vector<Path*> active;
    for (auto& p : paths_) {
      if (p && p->state() == PathState::kActive) active.push_back(p.get());
    }
    fence_->Setup(active, [this] { AddEvent(fence_->reason()); });
  }
}

void MultipathDevice::SetPsp(std::unique_ptr<PluginInstance> psp) {
  // In-flight I/O completes against the old instance's bookkeeping only in
  // the engine's counters; the new instance starts from the current views.
  psp_ = std::move(psp);
  AddEvent(absl::StrCat("PSP set to ", psp_ ? psp_->name() : "(built-in)", " ",
                        psp_ ? psp_->Describe() : ""));
  RefreshViews();
}

size_t MultipathDevice::usable_paths() const {
  size_t n = 0;
  for (const auto& p : paths_) n += (p && p->usable()) ? 1 : 0;
  return n;
}

Path* MultipathDevice::FindPath(const std::string& key) {
  for (auto& p : paths_) {
    if (!p) continue;
    if (p->name() == key || absl::StrCat(p->index()) == key ||
        p->session_config().portal == key) {
      return p.get();
    }
  }
  return nullptr;
}

absl::Status MultipathDevice::SetPreferred(const std::string& key) {
  Path* chosen = key.empty() ? nullptr : FindPath(key);
  if (!key.empty() && chosen == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("device ", identity_, " has no path '", key, "'"));
  }
  for (auto& p : paths_) {
    if (p) p->set_preferred(p.get() == chosen);
  }
  AddEvent(chosen ? absl::StrCat("preferred path set to ", chosen->name())
                  : std::string("preferred path cleared"));
  RefreshViews();
  return absl::OkStatus();
}

void MultipathDevice::RefreshViews() {
  for (size_t i = 0; i < paths_.size(); i++) {
    mpio_psp_path& v = views_[i];
    Path* p = paths_[i].get();
    v.index = static_cast<uint32_t>(i);
    v.name = p ? p->name().c_str() : "";
    v.usable = p && p->usable() ? 1 : 0;
    v.alua_state = p ? p->alua_state() : MPIO_ALUA_OFFLINE;
    v.preferred = p && p->preferred() ? 1 : 0;
    v.inflight_ios = p ? p->counters().inflight : 0;
    v.inflight_bytes = p ? p->counters().inflight_bytes : 0;
  }
  if (psp_ && psp_->ops().paths_changed) {
    psp_->ops().paths_changed(psp_->get(), views_.data(), views_.size(),
                              Reactor::NowNs());
  }
}

// ---------------------------------------------------------------- submit

void MultipathDevice::Submit(IoRequest* r) {
  if (reactor_->InReactorThread()) {
    Start(r);
    return;
  }
  // Lock-free push; engine_private doubles as the link. Only the push that
  // makes the inbox non-empty posts the (single, embedded) wake-up message.
  IoRequest* head = inbox_.load(std::memory_order_relaxed);
  do {
    r->engine_private = head;
  } while (!inbox_.compare_exchange_weak(head, r, std::memory_order_release,
                                         std::memory_order_relaxed));
  if (head == nullptr) reactor_->Post(&inbox_message_);
}

void MultipathDevice::DrainInbox() {
  IoRequest* list = inbox_.exchange(nullptr, std::memory_order_acquire);
  IoRequest* ordered = nullptr;
  while (list) {
    IoRequest* next = static_cast<IoRequest*>(list->engine_private);
    list->engine_private = ordered;
    ordered = list;
    list = next;
  }
  while (ordered) {
    IoRequest* next = static_cast<IoRequest*>(ordered->engine_private);
    ordered->engine_private = nullptr;
    Start(ordered);
    ordered = next;
  }
}

absl::Status MultipathDevice::Validate(const IoRequest* r) const {
  const uint64_t bs = geometry_.block_size;
  if (r->op == IoOp::kFlush) return absl::OkStatus();
  if (r->offset % bs != 0 || r->length % bs != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s at offset %d length %d is not aligned to the "
                        "%d-byte block size of %s",
                        IoOpName(r->op), r->offset, r->length, bs, identity_));
  }
  if (r->length == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(IoOpName(r->op), " of length 0"));
  }
  if (r->offset > geometry_.size_bytes ||
      r->length > geometry_.size_bytes - r->offset) {
    return absl::OutOfRangeError(absl::StrFormat(
        "%s at offset %d length %d is outside %s (%d bytes)", IoOpName(r->op),
        r->offset, r->length, identity_, geometry_.size_bytes));
  }
  if (r->op == IoOp::kRead || r->op == IoOp::kWrite) {
    uint64_t total = 0;
    for (int i = 0; i < r->iovcnt; i++) total += r->iov[i].iov_len;
    if (r->iovcnt <= 0 || r->iov == nullptr || total < r->length) {
      return absl::InvalidArgumentError(
          absl::StrCat(IoOpName(r->op), ": buffers hold ", total,
                       " bytes, request needs ", r->length));
    }
  }
  if (r->op == IoOp::kDiscard && !geometry_.supports_unmap) {
    return absl::UnimplementedError(
        absl::StrCat(identity_, " does not support UNMAP"));
  }
  if (r->op == IoOp::kWrite && geometry_.read_only) {
    return absl::PermissionDeniedError(
        absl::StrCat(identity_, " is read-only"));
  }
  return absl::OkStatus();
}

MultipathDevice::Io* MultipathDevice::NewIo() {
  if (free_ios_ == nullptr) {
    io_storage_.push_back(std::make_unique<Io>());
    io_storage_.back()->device = this;
    io_storage_.back()->cmd.callback = io_storage_.back().get();
    return io_storage_.back().get();
  }
  Io* io = free_ios_;
  free_ios_ = io->next_free;
  io->retries = io->path_failures = 0;
  io->path = -1;
  io->iov.clear();
  io->cmd.iov = nullptr;
  io->cmd.iovcnt = 0;
  io->cmd.out_data = nullptr;
  io->cmd.out_len = 0;
  return io;
}

void MultipathDevice::FreeIo(Io* io) {
  io->next_free = free_ios_;
  free_ios_ = io;
}

void MultipathDevice::Start(IoRequest* r) {
  absl::Status valid =
      lost_ ? absl::NotFoundError(absl::StrCat(
                  identity_, " is lost (permanent device loss reported)"))
            : Validate(r);
  if (!valid.ok()) {
    r->done(r, valid);
    return;
  }
  Parent* parent = free_parents_;
  if (parent) {
    free_parents_ = parent->next_free;
  } else {
    parent_storage_.push_back(std::make_unique<Parent>());
    parent = parent_storage_.back().get();
  }
  parent->request = r;
  parent->status = absl::OkStatus();

  const uint32_t bs = geometry_.block_size;
  const uint64_t first = r->offset / bs;
  const uint64_t total = r->length / bs;
  uint32_t chunk_blocks = 0;
  switch (r->op) {
    case IoOp::kRead:
    case IoOp::kWrite:
      chunk_blocks = max_transfer_blocks_;
      break;
    case IoOp::kDiscard:
      chunk_blocks = max_unmap_blocks_;
      break;
    case IoOp::kWriteZeroes:
      chunk_blocks = max_write_same_blocks_;
      break;
    case IoOp::kFlush:
      chunk_blocks = 1;
      break;
  }
  const uint64_t chunks =
      r->op == IoOp::kFlush ? 1 : (total + chunk_blocks - 1) / chunk_blocks;
  parent->remaining = static_cast<uint32_t>(chunks);

  // Build every chunk before dispatching any: a dispatch may complete at
  // once (device lost) and must see the final count.
  Io* batch = nullptr;
  Io** tail = &batch;
  for (uint64_t c = 0; c < chunks; c++) {
    Io* io = NewIo();
    io->parent = parent;
    io->op = r->op;
    io->lba = first + c * chunk_blocks;
    io->blocks = static_cast<uint32_t>(
        std::min<uint64_t>(chunk_blocks, total - c * chunk_blocks));
    io->bytes = uint64_t{io->blocks} * bs;
    PendingCommand& cmd = io->cmd;
    switch (r->op) {
      case IoOp::kRead:
      case IoOp::kWrite:
        SliceIovec(r->iov, r->iovcnt, c * uint64_t{chunk_blocks} * bs,
                   io->bytes, &io->iov);
        SetCdb(&cmd, r->op == IoOp::kRead
                         ? scsi::Read16(io->lba, io->blocks)
                         : scsi::Write16(io->lba, io->blocks, r->fua));
        cmd.direction =
            r->op == IoOp::kRead ? DataDirection::kRead : DataDirection::kWrite;
        cmd.transfer_len = static_cast<uint32_t>(io->bytes);
        break;
      case IoOp::kFlush:
        io->lba = 0;
        io->blocks = 0;
        io->bytes = 0;
        SetCdb(&cmd, scsi::SynchronizeCache16(0, 0));
        cmd.direction = DataDirection::kNone;
        cmd.transfer_len = 0;
        break;
      case IoOp::kDiscard: {
        scsi::UnmapRange d{io->lba, io->blocks};
        auto list =
            scsi::UnmapParameterList(std::span<const scsi::UnmapRange>(&d, 1));
        io->param = list.ok() ? std::move(*list) : std::vector<uint8_t>{};
        SetCdb(&cmd, scsi::Unmap(static_cast<uint16_t>(io->param.size())));
        cmd.direction = DataDirection::kWrite;
        cmd.transfer_len = static_cast<uint32_t>(io->param.size());
        cmd.out_data = io->param.data();
        cmd.out_len = io->param.size();
        break;
      }
      case IoOp::kWriteZeroes:
        io->iov.push_back({zero_block_.data(), bs});
        SetCdb(&cmd,
               scsi::WriteSame16(
                   io->lba, io->blocks,
                   r->may_unmap && geometry_.supports_write_zeroes_unmap));
        cmd.direction = DataDirection::kWrite;
        cmd.transfer_len = bs;
        break;
    }
    if (!io->iov.empty()) {
      cmd.iov = io->iov.data();
      cmd.iovcnt = static_cast<int>(io->iov.size());
    }
    io->next_free = nullptr;
    *tail = io;
    tail = &io->next_free;
  }
  while (batch) {
    Io* next = batch->next_free;
    batch->next_free = nullptr;
    Dispatch(batch);
    batch = next;
  }
}

// -------------------------------------------------------------- routing

Path* MultipathDevice::SelectPath(Io* io) {
  if (psp_) {
    for (auto& v : views_) {
      Path* p = paths_[v.index].get();
      v.inflight_ios = p ? p->counters().inflight : 0;
      v.inflight_bytes = p ? p->counters().inflight_bytes : 0;
    }
    mpio_io_info info{};
    info.flags = io->op == IoOp::kRead    ? MPIO_IO_READ
                 : io->op == IoOp::kWrite ? MPIO_IO_WRITE
                                          : MPIO_IO_OTHER;
    info.lba = io->lba;
    info.bytes = io->bytes;
    info.now_ns = Reactor::NowNs();
    int64_t idx =
        psp_->ops().select(psp_->get(), views_.data(), views_.size(), &info);
    if (idx >= 0 && static_cast<size_t>(idx) < paths_.size() && paths_[idx] &&
        paths_[idx]->usable()) {
      return paths_[idx].get();
    }
    if (idx < 0) return nullptr;
    // A PSP that names an unusable path is wrong; fall through to the
    // built-in choice rather than failing the I/O.
  }
  // Built-in round robin: used until a PSP is set, and as a safety net.
  for (size_t n = 0; n < paths_.size(); n++) {
    uint32_t i = (builtin_rr_next_ + n) % paths_.size();
    if (paths_[i] && paths_[i]->usable()) {
      builtin_rr_next_ = i + 1;
      return paths_[i].get();
    }
  }
  return nullptr;
}

void MultipathDevice::Dispatch(Io* io) {
  if (lost_) {
    FinishIo(io, absl::NotFoundError(absl::StrCat(identity_, " is lost")));
    return;
  }
  Path* p = SelectPath(io);
  if (p == nullptr && options_.no_path_retry == absl::ZeroDuration()) {
    FinishIo(
        io, absl::UnavailableError(absl::StrCat("no usable path to ", identity_,
                                                " (no_path_retry = fail)")));
    return;
  }
  if (p == nullptr) {
    io->queued_ns = Reactor::NowNs();
    no_path_queue_.push_back(io);
    if (no_path_timer_ == 0) {
      AddEvent(
          options_.no_path_retry == absl::InfiniteDuration()
              ? std::string("all paths down: queueing I/O until a path returns "
                            "(no_path_retry = queue)")
              : absl::StrCat("all paths down: queueing I/O for up to ",
                             absl::FormatDuration(options_.no_path_retry)));
      no_path_timer_ = reactor_->Every(absl::Milliseconds(100),
                                       [this] { CheckNoPathQueue(); });
    }
    return;
  }
  io->path = static_cast<int32_t>(p->index());
  io->start_ns = Reactor::NowNs();
  p->counters().inflight++;
  p->counters().inflight_bytes += io->bytes;
  if (!p->Submit(&io->cmd)) {
    p->counters().inflight--;
    p->counters().inflight_bytes -= io->bytes;
    io->path = -1;
    // The session refused it (not logged in any more): take the path out
    // and try again on the next turn.
    p->FailNow("session refused a command");
    reactor_->After(absl::ZeroDuration(), [this, io] { Dispatch(io); });
  }
}

void MultipathDevice::OnIoDone(Io* io, const ScsiResult& r) {
  Path* p = io->path >= 0 ? paths_[io->path].get() : nullptr;
  const uint64_t now = Reactor::NowNs();
  const uint64_t latency = now - io->start_ns;
  if (p) {
    p->counters().inflight--;
    p->counters().inflight_bytes -= io->bytes;
  }
  auto psp_done = [&](int result) {
    if (psp_ && psp_->ops().on_complete && p) {
      psp_->ops().on_complete(psp_->get(), p->index(), io->bytes, latency,
                              result, now);
    }
  };
  if (r.good()) {
    psp_done(MPIO_IO_OK);
    if (p && (io->op == IoOp::kRead || io->op == IoOp::kWrite)) {
      p->RecordCompletion(io->op == IoOp::kWrite, io->bytes, latency);
    } else if (p) {
      p->counters().others++;
    }
    FinishIo(io, absl::OkStatus());
    return;
  }
  if (lost_) {
    FinishIo(io, absl::NotFoundError(absl::StrCat(identity_, " is lost")));
    return;
  }
  if (r.kind != ScsiResult::Kind::kStatus) {
    psp_done(MPIO_IO_PATH_FAILED);
    if (p) p->counters().redriven++;
    if (r.kind == ScsiResult::Kind::kError && p) {
      p->counters().errors++;
      p->counters().protocol_errors++;
      p->FailNow("libiscsi reported a protocol error on a command");
    }
    Redrive(io, r.kind == ScsiResult::Kind::kError ? "protocol error"
                                                   : "path failed");
    return;
  }
  // The target answered with an error status: ask the SATP what it means.
  psp_done(MPIO_IO_FAILED);
  if (p) {
    p->counters().errors++;
    p->counters().scsi_errors++;
  }
  mpio_sense_verdict v{};
  if (satp_) {
    satp_->ops().classify(satp_->get(), r.scsi_status, r.sense, r.sense_len,
                          io->cmd.cdb, io->cmd.cdb_len, &v);
  } else {
    v.action = MPIO_ACTION_FAIL_IO;
    v.errno_value = EIO;
    snprintf(v.reason, sizeof(v.reason), "SCSI status 0x%02x (no SATP)",
             r.scsi_status);
  }
  std::string reason = v.reason;
  auto fail_io = [&](int err) {
    FinishIo(io, StatusFromErrno(
                     err ? err : EIO,
                     absl::StrCat(IoOpName(io->op), " LBA ", io->lba, " on ",
                                  p ? p->name() : identity_, ": ", reason)));
  };
  const int max_retries =
      static_cast<int>(v.max_retries ? v.max_retries : options_.max_retries);
  switch (v.action) {
    case MPIO_ACTION_RETRY_SAME:
      if (++io->retries > max_retries) return fail_io(EIO);
      Dispatch(io);
      return;
    case MPIO_ACTION_FAIL_PATH:
      if (p) {
        p->counters().redriven++;
        p->FailNow(absl::StrCat("SATP: ", reason));
      }
      Redrive(io, "SATP failed the path");
      return;
    case MPIO_ACTION_RETRY_DELAY:
    case MPIO_ACTION_REPROBE: {
      if (++io->retries > max_retries) return fail_io(EIO);
      if (v.action == MPIO_ACTION_REPROBE) ReprobeAll();
      uint32_t delay = v.delay_ms ? v.delay_ms : 100;
      reactor_->After(absl::Milliseconds(delay), [this, io] { Dispatch(io); });
      return;
    }
    case MPIO_ACTION_DEVICE_LOST:
      lost_ = true;
      AddEvent(absl::StrCat("device lost: ", reason));
      fail_io(v.errno_value ? v.errno_value : ENODEV);
      FailEverything(
          absl::NotFoundError(absl::StrCat(identity_, " lost: ", reason)));
      // Every path reconnects and re-probes: the device is back when a path
      // finds the same LUN again (OnPathProbed).
      for (auto& path : paths_) {
        if (path) path->FailNow(absl::StrCat("device lost: ", reason));
      }
      return;
    case MPIO_ACTION_FAIL_IO:
    default:
      // LBA OUT OF RANGE for an I/O the engine checked against the exported
      // size: the LUN shrank under us. Find out and say so.
      if (auto sense = scsi::ParseSense({r.sense, r.sense_len});
          sense.ok() && sense->key == scsi::kSenseIllegalRequest &&
          sense->asc == 0x21 && sense->ascq == 0x00 && p) {
        CheckCapacity(p);
      }
      fail_io(v.errno_value);
      return;
  }
}

void MultipathDevice::Redrive(Io* io, const char* why) {
  (void)why;
  const int32_t dead = io->path;
  io->path_failures++;
  io->path = -1;
  if (io->op == IoOp::kRead || io->op == IoOp::kFlush ||
      options_.fence == "none") {
    Dispatch(io);
    return;
  }
  if (fence_ && fence_->mode() == ReservationFence::Mode::kReservation &&
      dead >= 0) {
    HoldForFence(io, static_cast<uint32_t>(dead));
    return;
  }
  // Writes (and other modifying commands) go out again only after the dead
  // path's connection was reset. The reset happens in the session's
  // teardown, which may still be pending on this call stack: the next loop
  // turn is after it.
  reactor_->After(absl::ZeroDuration(), [this, io] { Dispatch(io); });
}

uint64_t MultipathDevice::held_writes() const {
  uint64_t n = 0;
  for (const auto& q : held_) n += q.size();
  return n;
}

void MultipathDevice::HoldForFence(Io* io, uint32_t dead) {
  if (held_.size() <= dead) {
    held_.resize(dead + 1);
    fence_running_.resize(dead + 1, false);
  }
  held_[dead].push_back(io);
  // The dead path's teardown may still be on this call stack: fence on the
  // next turn, when its connection is gone.
  if (!fence_running_[dead]) {
    fence_running_[dead] = true;
    reactor_->After(absl::ZeroDuration(), [this, dead] { RunFence(dead); });
  }
}

void MultipathDevice::RunFence(uint32_t dead) {
  if (paths_[dead] && paths_[dead]->usable()) {
    // The path came back (new session, key registered again) before a
    // fence could run, e.g. after a target restart that dropped every
    // registration. Preempting its key now would cut off a live path: the
    // old connection was reset, so re-drive with that.
    FenceFinished(dead);
    std::deque<Io*> ios;
    ios.swap(held_[dead]);
    AddEvent(absl::StrCat(
        "path ", paths_[dead]->name(), " returned before it could be fenced; ",
        "re-driving ", ios.size(), " writes with reset only"));
    for (Io* io : ios) Dispatch(io);
    return;
  }
  Path* via = nullptr;
  for (auto& p : paths_) {
    if (p && p->usable() && p->index() != dead) {
      via = p.get();
      break;
    }
  }
  if (via == nullptr) {
    // No path to fence from: wait for one (OnPathChanged retries).
    FenceFinished(dead);
    return;
  }
  const std::string dead_name = paths_[dead]->name();
  fence_->FencePath(
      paths_[dead].get(), via, [this, dead, dead_name](absl::Status s) {
        std::deque<Io*> ios;
        ios.swap(held_[dead]);
        FenceFinished(dead);
        if (s.ok()) {
          AddEvent(absl::StrCat("fenced ", dead_name,
                                " (its reservation key preempted); re-driving ",
                                ios.size(), " writes"));
        } else {
          // Nothing is lost: the writes still go out, with only the connection
          // reset as a fence, and the event says so.
          AddEvent(absl::StrCat("fence of ", dead_name,
                                " failed: ", s.message(), "; re-driving ",
                                ios.size(), " writes with reset only"));
        }
        for (Io* io : ios) Dispatch(io);
      });
}

void MultipathDevice::BeginShutdown() { shutting_down_ = true; }

void MultipathDevice::PrepareActivation(
    Path* path, std::function<void(absl::Status)> done) {
  if (shutting_down_) {
    // The engine is giving its keys back: a path that logged in just now
    // must not register one after that.
    return done(absl::CancelledError("the engine is shutting down"));
  }
  if (!fence_) return done(absl::OkStatus());
  const uint32_t i = path->index();
  if (i < fence_running_.size() && fence_running_[i]) {
    // The fence of this path's previous session is still under way. A key
    // registered now (the same key: it is the path's) would be removed by
    // that fence's PREEMPT, leaving an active path whose writes the target
    // refuses. Register once the fence is done.
    if (waiting_activation_.size() <= i) waiting_activation_.resize(i + 1);
    waiting_activation_[i] = std::move(done);
    return;
  }
  fence_->RegisterPath(path, std::move(done));
}

void MultipathDevice::FenceFinished(uint32_t dead) {
  fence_running_[dead] = false;
  if (dead >= waiting_activation_.size() || !waiting_activation_[dead]) return;
  auto done = std::move(waiting_activation_[dead]);
  waiting_activation_[dead] = nullptr;
  if (shutting_down_)
    return done(absl::CancelledError("the engine is shutting down"));
  fence_->RegisterPath(paths_[dead].get(), std::move(done));
}

void MultipathDevice::FinishIo(Io* io, const absl::Status& s) {
  Parent* parent = io->parent;
  FreeIo(io);
  if (!s.ok() && parent->status.ok()) parent->status = s;
  if (--parent->remaining > 0) return;
  IoRequest* r = parent->request;
  absl::Status status = std::move(parent->status);
  parent->request = nullptr;
  parent->next_free = free_parents_;
  free_parents_ = parent;
  r->done(r, status);
}

void MultipathDevice::DrainNoPathQueue() {
  if (no_path_queue_.empty()) return;
  std::deque<Io*> queued;
  queued.swap(no_path_queue_);
  AddEvent(
      absl::StrCat("paths back: re-driving ", queued.size(), " queued I/Os"));
  for (Io* io : queued) Dispatch(io);
  if (no_path_queue_.empty() && no_path_timer_) {
    reactor_->Cancel(no_path_timer_);
    no_path_timer_ = 0;
  }
}

void MultipathDevice::CheckNoPathQueue() {
  if (usable_paths() > 0) {
    DrainNoPathQueue();
    return;
  }
  const uint64_t now = Reactor::NowNs();
  const uint64_t limit =
      static_cast<uint64_t>(absl::ToInt64Nanoseconds(options_.no_path_retry));
  size_t failed = 0;
  while (!no_path_queue_.empty() &&
         now - no_path_queue_.front()->queued_ns >= limit) {
    Io* io = no_path_queue_.front();
    no_path_queue_.pop_front();
    failed++;
    FinishIo(io, absl::UnavailableError(
                     absl::StrCat("all paths to ", identity_, " down for ",
                                  absl::FormatDuration(options_.no_path_retry),
                                  " (no_path_retry)")));
  }
  if (failed)
    AddEvent(absl::StrCat("no_path_retry expired: failed ", failed,
                          " I/Os with EIO"));
  if (no_path_queue_.empty() && no_path_timer_) {
    reactor_->Cancel(no_path_timer_);
    no_path_timer_ = 0;
  }
}

void MultipathDevice::FailEverything(const absl::Status& s) {
  std::deque<Io*> queued;
  queued.swap(no_path_queue_);
  for (Io* io : queued) FinishIo(io, s);
}

// ----------------------------------------------------------- path events

void MultipathDevice::OnPathChanged(Path* path, const std::string& reason) {
  AddEvent(
      absl::StrCat("path ", path->name(), ": ", PathStateName(path->state()),
                   path->alua_state() != MPIO_ALUA_NONE
                       ? absl::StrFormat(" (ALUA 0x%x)", path->alua_state())
                       : std::string(),
                   ": ", reason));
  // Ask the SATP about a path each time it (re)enters service.
  if (last_state_.size() <= path->index())
    last_state_.resize(path->index() + 1, PathState::kDead);
  const bool entered = path->state() == PathState::kActive &&
                       last_state_[path->index()] != PathState::kActive;
  // A failover: a path in service failed (not an operator's "off"), so its
  // I/O moves to the other paths or waits for one.
  if (last_state_[path->index()] == PathState::kActive &&
      (path->state() == PathState::kDead ||
       path->state() == PathState::kMarginal)) {
    failovers_++;
  }
  last_state_[path->index()] = path->state();
  if (entered) ProbeSatp(path);
  RefreshViews();
  if (usable_paths() > 0) {
    DrainNoPathQueue();
    for (uint32_t i = 0; i < held_.size(); i++) {
      if (!held_[i].empty() && !fence_running_[i]) {
        fence_running_[i] = true;
        reactor_->After(absl::ZeroDuration(), [this, i] { RunFence(i); });
      }
    }
  }
  MaybeActivateGroup();
}

// Explicit ALUA: with no active/optimized path left but a logged-in path
// whose port group is non-optimized or standby, ask the array (SET TARGET
// PORT GROUPS, built by the SATP, which also decides whether the array
// allows it) to make that group active/optimized, then re-probe. At most one
// request at a time and one per 5 s, so a refusing array is not hammered.
void MultipathDevice::MaybeActivateGroup() {
  if (!satp_ || !satp_->ops().activate_command || activation_running_ ||
      shutting_down_ || lost_) {
    return;
  }
  const uint64_t now = Reactor::NowNs();
  if (last_activation_ns_ != 0 && now - last_activation_ns_ < 5'000'000'000ull)
    return;
  Path* candidate = nullptr;
  for (auto& p : paths_) {
    if (!p || p->state() != PathState::kActive || !p->session() ||
        !p->session()->logged_in()) {
      continue;
    }
    const int a = p->alua_state();
    if (a == MPIO_ALUA_NONE || a == MPIO_ALUA_ACTIVE_OPTIMIZED) return;
    if (a != MPIO_ALUA_ACTIVE_NON_OPTIMIZED && a != MPIO_ALUA_STANDBY) continue;
    if (p->target_port_group() < 0) continue;
    // Non-optimized before standby; the preferred path's group first.
    if (candidate == nullptr ||
        (a == MPIO_ALUA_ACTIVE_NON_OPTIMIZED &&
         candidate->alua_state() != MPIO_ALUA_ACTIVE_NON_OPTIMIZED) ||
        (a == candidate->alua_state() && p->preferred() &&
         !candidate->preferred())) {
      candidate = p.get();
    }
  }
  if (candidate == nullptr) return;
  mpio_scsi_cdb cdb{};
  const int32_t tpg = candidate->target_port_group();
  if (satp_->ops().activate_command(satp_->get(), tpg, &cdb) == 0) return;
  activation_running_ = true;
  last_activation_ns_ = now;
  AddEvent(
      absl::StrCat("no active/optimized path: asking the array to make "
                   "target port group ",
                   tpg, " active/optimized via ", candidate->name(),
                   " (SET TARGET PORT GROUPS)"));
  RunSatpCommand(
      candidate->session(), cdb, [this, tpg](const CommandOutcome& o) {
        activation_running_ = false;
        // Cancelled: the path (or the device) is going away.
        if (o.kind != ScsiResult::Kind::kStatus) return;
        AddEvent(
            absl::StrCat("SET TARGET PORT GROUPS for group ", tpg,
                         o.good() ? ": done" : ": refused: " + o.Describe()));
        ReprobeAll();
      });
}

absl::Status MultipathDevice::OnPathProbed(Path* path, const LunInfo& info) {
  if (info.identity != identity_) {
    return absl::FailedPreconditionError(
        absl::StrCat("path ", path->name(), " now leads to LUN ", info.identity,
                     ", not ", identity_, "; refusing it"));
  }
  if (info.capacity.block_size != lun_.capacity.block_size) {
    return absl::FailedPreconditionError(absl::StrCat(
        "path ", path->name(), " reports block size ", info.capacity.block_size,
        ", device has ", lun_.capacity.block_size));
  }
  if (lost_) {
    // The LUN came back (same identity): the device serves again.
    lost_ = false;
    AddEvent(absl::StrCat("device back: path ", path->name(),
                          " reports the LUN again"));
  }
  NoteReportedSize(path->name(), info.capacity.size_bytes());
  return absl::OkStatus();
}

void MultipathDevice::CheckCapacity(Path* path) {
  const uint64_t now = Reactor::NowNs();
  if (path == nullptr || path->session() == nullptr ||
      capacity_check_running_ || now - last_capacity_check_ns_ < 1000000000)
    return;
  capacity_check_running_ = true;
  last_capacity_check_ns_ = now;
  const scsi::Cdb cdb = scsi::ReadCapacity16();
  RunCommand(path->session(), cdb.bytes.data(), cdb.len, DataDirection::kRead,
             32, {}, [this, name = path->name()](const CommandOutcome& o) {
               capacity_check_running_ = false;
               if (!o.good()) return;
               auto cap = scsi::ParseReadCapacity16(o.data);
               if (cap.ok()) NoteReportedSize(name, cap->size_bytes());
             });
}

void MultipathDevice::NoteReportedSize(const std::string& path_name,
                                       uint64_t bytes) {
  const uint64_t exported = lun_.capacity.size_bytes();
  if (bytes == (reported_size_ ? reported_size_ : exported)) return;
  reported_size_ = bytes;
  if (bytes < exported) {
    AddEvent(
        absl::StrCat(
            "LUN shrank: path ", path_name, " reports ", bytes,
            " bytes, the device was exported with ", exported,
            "; reads and writes past byte ", bytes,
            " fail (EINVAL) and data there is gone from the array. Grow the "
            "LUN back to at least ",
            exported,
            " bytes, or unmount, check the filesystem and export again"),
        LogLevel::kWarn);
  } else if (bytes > exported) {
    AddEvent(absl::StrCat("LUN grew: path ", path_name, " reports ", bytes,
                          " bytes; the device keeps its exported ", exported,
                          " until it is exported again"));
  } else {
    AddEvent(absl::StrCat("LUN size is back to the exported ", exported,
                          " bytes (path ", path_name, ")"));
  }
}

void MultipathDevice::ProbeSatp(Path* path) {
  if (!satp_ || !satp_->ops().probe_command || !path->session()) return;
  mpio_scsi_cdb cdb{};
  if (satp_->ops().probe_command(satp_->get(), &cdb) == 0) return;
  const uint32_t index = path->index();
  RunSatpCommand(path->session(), cdb, [this, index](const CommandOutcome& o) {
    if (index >= paths_.size() || !paths_[index] || !satp_) return;
    Path* p = paths_[index].get();
    if (o.kind != ScsiResult::Kind::kStatus) return;  // path failed meanwhile
    mpio_satp_path sp{};
    sp.index = index;
    sp.name = p->name().c_str();
    sp.target_port_group = p->lun().target_port_group.value_or(0xffff) == 0xffff
                               ? -1
                               : *p->lun().target_port_group;
    sp.relative_port_id =
        p->lun().relative_port_id ? *p->lun().relative_port_id : -1;
    mpio_satp_path_state st{};
    st.alua_state = MPIO_ALUA_NONE;
    st.target_port_group = sp.target_port_group;
    if (!satp_->ops().probe_result) return;
    int rc = satp_->ops().probe_result(satp_->get(), &sp, o.scsi_status,
                                       o.data.data(), o.data.size(),
                                       o.sense.data(), o.sense.size(), &st);
    if (rc != 0) {
      AddEvent(absl::StrCat("path ", p->name(),
                            ": SATP probe not understood: ", st.reason));
      return;
    }
    p->SetAlua(st.alua_state, st.preferred != 0, st.target_port_group,
               st.reason[0] ? st.reason : "probe");
  });
}

void MultipathDevice::ReprobeAll() {
  Path* first_active = nullptr;
  for (auto& p : paths_) {
    if (p && p->state() == PathState::kActive) {
      ProbeSatp(p.get());
      if (first_active == nullptr) first_active = p.get();
    }
  }
  // Arrays need not raise CAPACITY DATA HAS CHANGED (tgtd does not), so the
  // size is checked with every re-probe, not only on that UA.
  CheckCapacity(first_active);
}

}  // namespace mpio
