// Feeds arbitrary bytes to every engine/scsi parser. The parsers must never
// read past the input (ASan) and must either parse or return an error; a
// few invariants of the results are checked too.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "engine/scsi/capacity.h"
#include "engine/scsi/inquiry.h"
#include "engine/scsi/persistent_reservation.h"
#include "engine/scsi/report_luns.h"
#include "engine/scsi/rtpg.h"
#include "engine/scsi/sense.h"
#include "engine/scsi/vpd.h"

namespace scsi = mpio::scsi;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);

  if (auto inq = scsi::ParseStandardInquiry(in); inq.ok()) {
    if (inq->vendor.size() > 8 || inq->product.size() > 16 ||
        inq->revision.size() > 4 || inq->tpgs > 3) {
      std::abort();
    }
  }
  (void)scsi::VpdPageLength(in);
  (void)scsi::ParseSupportedVpdPages(in);
  (void)scsi::ParseUnitSerial(in);
  if (auto ds = scsi::ParseDeviceIdentification(in); ds.ok()) {
    size_t total = 0;
    for (const auto& d : *ds) total += 4 + d.id.size();
    if (total > size) std::abort();
    (void)scsi::LunIdentity(*ds);
    (void)scsi::TargetPortGroup(*ds);
    (void)scsi::RelativeTargetPortId(*ds);
  }
  (void)scsi::ParseBlockLimits(in);
  (void)scsi::ParseLogicalBlockProvisioning(in);
  if (auto c = scsi::ParseReadCapacity16(in); c.ok()) {
    if (c->block_size == 0 || c->size_bytes() / c->block_size != c->blocks()) {
      std::abort();
    }
  }
  if (auto l = scsi::ParseReportLuns(in); l.ok()) {
    if (l->luns.size() * 8 + 8 > size) std::abort();
  }
  if (auto r = scsi::ParseReportTargetPortGroups(in); r.ok()) {
    size_t total = 0;
    for (const auto& g : r->groups) total += 8 + 4 * g.relative_port_ids.size();
    if (total + 4 > size) std::abort();
    for (const auto& g : r->groups) {
      (void)scsi::AluaStateName(g.asymmetric_access_state);
    }
  }
  if (auto s = scsi::ParseSense(in); s.ok()) {
    if (s->key > 0xF) std::abort();
    (void)scsi::SenseText(*s);
  }
  if (size > 0) (void)scsi::StatusName(data[0]);
  (void)scsi::ParsePrReadKeys(in);
  (void)scsi::ParsePrReadReservation(in);
  return 0;
}
