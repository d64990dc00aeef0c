#include "engine/path/lun_probe.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/scsi/cdb.h"
#include "engine/scsi/sense.h"

namespace mpio {
namespace {

class OneCommand final : public ScsiCallback {
 public:
  OneCommand(std::vector<uint8_t> out,
             std::function<void(const CommandOutcome&)> done)
      : out_(std::move(out)), done_(std::move(done)) {}
  PendingCommand cmd;
  void OnScsiDone(const ScsiResult& r) override {
    CommandOutcome o;
    o.kind = r.kind;
    o.scsi_status = r.scsi_status;
    if (r.data) o.data.assign(r.data, r.data + r.data_len);
    if (r.sense) o.sense.assign(r.sense, r.sense + r.sense_len);
    auto done = std::move(done_);
    delete this;
    done(o);
  }
  std::vector<uint8_t> out_;

 private:
  std::function<void(const CommandOutcome&)> done_;
};

}  // namespace

std::string CommandOutcome::Describe() const {
  switch (kind) {
    case ScsiResult::Kind::kCancelled:
      return "cancelled (path failed)";
    case ScsiResult::Kind::kError:
      return "refused by libiscsi (protocol error)";
    case ScsiResult::Kind::kStatus:
      break;
  }
  if (scsi_status == 0) return "GOOD";
  if (scsi_status == 2) {
    auto s = scsi::ParseSense(sense);
    return s.ok() ? absl::StrCat("CHECK CONDITION ", scsi::SenseText(*s))
                  : "CHECK CONDITION (unparseable sense)";
  }
  return absl::StrFormat("SCSI status 0x%02x", scsi_status);
}

void RunCommand(IscsiSession* session, const uint8_t* cdb, uint8_t cdb_len,
                DataDirection dir, uint32_t transfer_len,
                std::vector<uint8_t> out_data,
                std::function<void(const CommandOutcome&)> done) {
  auto* c = new OneCommand(std::move(out_data), std::move(done));
  std::copy(cdb, cdb + cdb_len, c->cmd.cdb);
  c->cmd.cdb_len = cdb_len;
  c->cmd.direction = dir;
  c->cmd.transfer_len = transfer_len;
  if (!c->out_.empty()) {
    c->cmd.out_data = c->out_.data();
    c->cmd.out_len = c->out_.size();
  }
  c->cmd.callback = c;
  if (!session->Submit(&c->cmd)) {
    CommandOutcome o;  // cancelled: the session is not logged in
    c->OnScsiDone(ScsiResult{});
  }
}

namespace {

// Probe steps run one after another; each failure names the step.
class Prober : public std::enable_shared_from_this<Prober> {
 public:
  Prober(IscsiSession* s, std::function<void(absl::StatusOr<LunInfo>)> done)
      : session_(s), done_(std::move(done)) {}

  void Start() { Inquiry(); }

 private:
  void Send(const scsi::Cdb& cdb, uint32_t alloc,
            std::function<void(const CommandOutcome&)> next) {
    RunCommand(session_, cdb.bytes.data(), cdb.len, DataDirection::kRead, alloc,
               {}, std::move(next));
  }
  void Fail(std::string step, const CommandOutcome& o) {
    done_(absl::UnavailableError(
        absl::StrCat("portal ", session_->config().portal, " LUN ",
                     session_->config().lun, ": ", step, ": ", o.Describe())));
  }
  void Fail(std::string step, const absl::Status& s) {
    done_(absl::InvalidArgumentError(
        absl::StrCat("portal ", session_->config().portal, " LUN ",
                     session_->config().lun, ": ", step, ": ", s.message())));
  }

  void Inquiry() {
    auto self = shared_from_this();
    Send(scsi::Inquiry(false, 0, 255), 255, [self](const CommandOutcome& o) {
      if (!o.good()) return self->Fail("INQUIRY", o);
      auto inq = scsi::ParseStandardInquiry(o.data);
      if (!inq.ok()) return self->Fail("INQUIRY", inq.status());
      self->info_.inquiry = *inq;
      self->info_.inquiry_raw = o.data;
      // Not a disk (e.g. tgtd's LUN 0 controller): nothing more to learn,
      // the caller skips it.
      if (inq->device_type != 0 || inq->peripheral_qualifier != 0) {
        return self->done_(std::move(self->info_));
      }
      self->SupportedPages();
    });
  }
  void SupportedPages() {
    auto self = shared_from_this();
    Send(scsi::Inquiry(true, scsi::kVpdSupportedPages, 255), 255,
         [self](const CommandOutcome& o) {
           if (o.good()) {
             auto pages = scsi::ParseSupportedVpdPages(o.data);
             if (pages.ok()) self->pages_ = *pages;
           }
           self->DeviceId();
         });
  }
  bool Has(uint8_t page) const {
    return std::find(pages_.begin(), pages_.end(), page) != pages_.end();
  }
  void DeviceId() {
    auto self = shared_from_this();
    Send(scsi::Inquiry(true, scsi::kVpdDeviceIdentification, 1024), 1024,
         [self](const CommandOutcome& o) {
           if (o.good()) {
             auto d = scsi::ParseDeviceIdentification(o.data);
             if (!d.ok()) return self->Fail("VPD 0x83", d.status());
             self->info_.vpd83_raw = o.data;
             self->info_.designators = *d;
             self->info_.identity = scsi::LunIdentity(*d);
             self->info_.target_port_group = scsi::TargetPortGroup(*d);
             self->info_.relative_port_id = scsi::RelativeTargetPortId(*d);
           }
           self->Serial();
         });
  }
  void Serial() {
    auto self = shared_from_this();
    if (!Has(scsi::kVpdUnitSerial)) return Limits();
    Send(scsi::Inquiry(true, scsi::kVpdUnitSerial, 255), 255,
         [self](const CommandOutcome& o) {
           if (o.good()) {
             auto s = scsi::ParseUnitSerial(o.data);
             if (s.ok()) self->info_.serial = *s;
           }
           self->Limits();
         });
  }
  void Limits() {
    auto self = shared_from_this();
    if (!Has(scsi::kVpdBlockLimits)) return Provisioning();
    Send(scsi::Inquiry(true, scsi::kVpdBlockLimits, 64), 64,
         [self](const CommandOutcome& o) {
           if (o.good()) {
             auto l = scsi::ParseBlockLimits(o.data);
             if (l.ok()) self->info_.block_limits = *l;
           }
           self->Provisioning();
         });
  }
  void Provisioning() {
    auto self = shared_from_this();
    if (!Has(scsi::kVpdLogicalBlockProvisioning)) return Capacity();
    Send(scsi::Inquiry(true, scsi::kVpdLogicalBlockProvisioning, 64), 64,
         [self](const CommandOutcome& o) {
           if (o.good()) {
             auto p = scsi::ParseLogicalBlockProvisioning(o.data);
             if (p.ok()) self->info_.provisioning = *p;
           }
           self->Capacity();
         });
  }
  void Capacity() {
    auto self = shared_from_this();
    Send(scsi::ReadCapacity16(32), 32, [self](const CommandOutcome& o) {
      if (!o.good()) return self->Fail("READ CAPACITY(16)", o);
      auto c = scsi::ParseReadCapacity16(o.data);
      if (!c.ok()) return self->Fail("READ CAPACITY(16)", c.status());
      if (c->block_size == 0 || c->block_size % 512 != 0) {
        return self->Fail("READ CAPACITY(16)",
                          absl::InvalidArgumentError(absl::StrCat(
                              "unsupported block size ", c->block_size)));
      }
      self->info_.capacity = *c;
      if (self->info_.identity.empty()) {
        if (self->info_.serial.empty()) {
          return self->Fail("identity",
                            absl::InvalidArgumentError(
                                "the LUN reports neither a VPD 0x83 LUN "
                                "designator nor a VPD 0x80 serial number"));
        }
        self->info_.identity = absl::StrCat("serial.", self->info_.serial);
      }
      self->done_(std::move(self->info_));
    });
  }

  IscsiSession* session_;
  std::function<void(absl::StatusOr<LunInfo>)> done_;
  LunInfo info_;
  std::vector<uint8_t> pages_;
};

}  // namespace

void ProbeLun(IscsiSession* session,
              std::function<void(absl::StatusOr<LunInfo>)> done) {
  std::make_shared<Prober>(session, std::move(done))->Start();
}

}  // namespace mpio
