#include "plugins/satp/common/sense_table.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "engine/scsi/cdb.h"
#include "engine/scsi/sense.h"

namespace mpio_satp {
namespace {

namespace scsi = mpio::scsi;

constexpr uint8_t kAny = 0xFF;

// How a retryable rule retries.
enum class Retry : uint8_t {
  kNone,      // not retried here (FAIL_PATH, FAIL_IO, DEVICE_LOST)
  kSame,      // RETRY_SAME / REPROBE: `retries` times at once
  kBusy,      // RETRY_DELAY of busy_delay_ms, `retries` times
  kNotReady,  // RETRY_DELAY of kNotReadyDelayMs, `retries` times
};

struct Rule {
  uint8_t key, asc, ascq;  // kAny matches everything
  int action;
  int errno_value;  // for FAIL_IO / DEVICE_LOST; EIO once retries run out
  Retry retry;
};

// CHECK CONDITION rules, first match wins. Why each row is what it is:
//
// key    asc/ascq  action        errno       why
// any    04/0B     FAIL_PATH     -           target port in standby: this
// any    04/0C     FAIL_PATH     -             port cannot serve, others can
//                                              (an AA array; alua re-probes)
// any    05/xx     FAIL_PATH     -           LU does not respond to selection
// any    08/xx     FAIL_PATH     -           LU communication failure/timeout
// any    0E/xx     FAIL_PATH     -           bad information unit: transport
// any    47/xx     FAIL_PATH     -           parity / iuCRC error: transport
// any    4B/xx     FAIL_PATH     -           data phase error: transport
// ILLEG  25/00     DEVICE_LOST   ENXIO       LU not supported: the LUN is
//                                              gone (unmapped/deleted); the
//                                              address no longer resolves
// any    3A/xx     FAIL_IO       ENOMEDIUM   medium not present
// NOTRDY 04/02     FAIL_IO       EIO         needs an initializing command
// NOTRDY 04/03     FAIL_IO       EIO         needs manual intervention
// NOTRDY any       RETRY_DELAY   EIO         becoming ready, format, rebuild,
//                                              transition...: wait 1 s
// MEDIUM any       FAIL_IO       EIO         the data is bad on every path
// HWERR  any       FAIL_IO       EIO         device-level (transport ASCs
//                                              were caught above)
// ILLEG  20/00     FAIL_IO       EOPNOTSUPP  command not implemented (also
//                                              24/00 and 26/xx on UNMAP or
//                                              WRITE SAME with UNMAP: a thick
//                                              LU refusing discard)
// ILLEG  55/xx     RETRY_DELAY   EIO         insufficient resources: busy
// ILLEG  any       FAIL_IO       EINVAL      the request itself is wrong
//                                              (24/00, 26/xx, 21/00 LBA out
//                                              of range: the engine checks
//                                              bounds, so the target's
//                                              capacity disagrees: EINVAL)
// UA     2A/09     REPROBE       EIO         capacity changed: re-read it
// UA     3F/03     REPROBE       EIO         inquiry data changed
// UA     any       RETRY_SAME    EIO         29/xx reset, 2A/xx parameters
//                                              changed, 3F/0E LUNs changed,
//                                              28/00, 2F/00: informational
// DATAPR 27/07     FAIL_IO       ENOSPC      thin pool out of space
// DATAPR 27/xx     FAIL_IO       EROFS       write protected
// DATAPR any       FAIL_IO       EACCES      access denied
// ABORT  10/xx     FAIL_IO       EILSEQ      protection information mismatch
// ABORT  any       FAIL_PATH     -           aborted by the target: retry
//                                              elsewhere (cheap, and the path
//                                              checker brings it back)
// NOSNS  any       RETRY_SAME    EIO         nothing reported: try again
// RECOV  any       RETRY_SAME    EIO         recovered: the ABI has no
//                                              "succeeded" verdict; retrying
//                                              is harmless
// VOLOVF any       FAIL_IO       ENOSPC
// MISCMP any       FAIL_IO       EILSEQ      COMPARE AND WRITE miscompare
// any    any       FAIL_IO       EIO         blank check, vendor, copy...
constexpr Rule kRules[] = {
    {kAny, 0x04, 0x0B, MPIO_ACTION_FAIL_PATH, 0, Retry::kNone},
    {kAny, 0x04, 0x0C, MPIO_ACTION_FAIL_PATH, 0, Retry::kNone},
    {kAny, 0x05, kAny, MPIO_ACTION_FAIL_PATH, 0, Retry::kNone},
    {kAny, 0x08, kAny, MPIO_ACTION_FAIL_PATH, 0, Retry::kNone},
    {kAny, 0x0E, kAny, MPIO_ACTION_FAIL_PATH, 0, Retry::kNone},
    {kAny, 0x47, kAny, MPIO_ACTION_FAIL_PATH, 0, Retry::kNone},
    {kAny, 0x4B, kAny, MPIO_ACTION_FAIL_PATH, 0, Retry::kNone},
    {scsi::kSenseIllegalRequest, 0x25, 0x00, MPIO_ACTION_DEVICE_LOST, ENXIO,
     Retry::kNone},
    {kAny, 0x3A, kAny, MPIO_ACTION_FAIL_IO, ENOMEDIUM, Retry::kNone},
    {scsi::kSenseNotReady, 0x04, 0x02, MPIO_ACTION_FAIL_IO, EIO, Retry::kNone},
    {scsi::kSenseNotReady, 0x04, 0x03, MPIO_ACTION_FAIL_IO, EIO, Retry::kNone},
    {scsi::kSenseNotReady, kAny, kAny, MPIO_ACTION_RETRY_DELAY, EIO,
     Retry::kNotReady},
    {scsi::kSenseMediumError, kAny, kAny, MPIO_ACTION_FAIL_IO, EIO,
     Retry::kNone},
    {scsi::kSenseHardwareError, kAny, kAny, MPIO_ACTION_FAIL_IO, EIO,
     Retry::kNone},
    {scsi::kSenseIllegalRequest, 0x20, 0x00, MPIO_ACTION_FAIL_IO, EOPNOTSUPP,
     Retry::kNone},
    {scsi::kSenseIllegalRequest, 0x55, kAny, MPIO_ACTION_RETRY_DELAY, EIO,
     Retry::kBusy},
    {scsi::kSenseIllegalRequest, kAny, kAny, MPIO_ACTION_FAIL_IO, EINVAL,
     Retry::kNone},
    {scsi::kSenseUnitAttention, 0x2A, 0x09, MPIO_ACTION_REPROBE, EIO,
     Retry::kSame},
    {scsi::kSenseUnitAttention, 0x3F, 0x03, MPIO_ACTION_REPROBE, EIO,
     Retry::kSame},
    {scsi::kSenseUnitAttention, kAny, kAny, MPIO_ACTION_RETRY_SAME, EIO,
     Retry::kSame},
    {scsi::kSenseDataProtect, 0x27, 0x07, MPIO_ACTION_FAIL_IO, ENOSPC,
     Retry::kNone},
    {scsi::kSenseDataProtect, 0x27, kAny, MPIO_ACTION_FAIL_IO, EROFS,
     Retry::kNone},
    {scsi::kSenseDataProtect, kAny, kAny, MPIO_ACTION_FAIL_IO, EACCES,
     Retry::kNone},
    {scsi::kSenseAbortedCommand, 0x10, kAny, MPIO_ACTION_FAIL_IO, EILSEQ,
     Retry::kNone},
    {scsi::kSenseAbortedCommand, kAny, kAny, MPIO_ACTION_FAIL_PATH, 0,
     Retry::kNone},
    {scsi::kSenseNoSense, kAny, kAny, MPIO_ACTION_RETRY_SAME, EIO,
     Retry::kSame},
    {scsi::kSenseRecoveredError, kAny, kAny, MPIO_ACTION_RETRY_SAME, EIO,
     Retry::kSame},
    {scsi::kSenseVolumeOverflow, kAny, kAny, MPIO_ACTION_FAIL_IO, ENOSPC,
     Retry::kNone},
    {scsi::kSenseMiscompare, kAny, kAny, MPIO_ACTION_FAIL_IO, EILSEQ,
     Retry::kNone},
    {kAny, kAny, kAny, MPIO_ACTION_FAIL_IO, EIO, Retry::kNone},
};

bool Matches(uint8_t want, uint8_t have) {
  return want == kAny || want == have;
}

// UNMAP, or WRITE SAME(16) with the UNMAP bit: a thick LU refuses these with
// ILLEGAL REQUEST, which for the caller means "discard not supported".
bool IsUnmapCommand(std::span<const uint8_t> cdb) {
  if (cdb.empty()) return false;
  if (cdb[0] == scsi::kOpUnmap) return true;
  return cdb[0] == scsi::kOpWriteSame16 && cdb.size() > 1 &&
         (cdb[1] & 0x08) != 0;
}

void Apply(const RetryPolicy& p, const Rule& r, int errno_value,
           const std::string& reason, mpio_sense_verdict* out) {
  uint32_t delay = 0;
  uint32_t retries = 0;
  switch (r.retry) {
    case Retry::kNone:
      break;
    case Retry::kSame:
      retries = p.retries;
      break;
    case Retry::kBusy:
      delay = p.busy_delay_ms;
      retries = p.retries;
      break;
    case Retry::kNotReady:
      delay = kNotReadyDelayMs;
      retries = p.retries;
      break;
  }
  SetVerdict(out, r.action, delay, retries, errno_value, reason);
}

}  // namespace

void SetVerdict(mpio_sense_verdict* out, int action, uint32_t delay_ms,
                uint32_t max_retries, int errno_value,
                const std::string& reason) {
  std::memset(out, 0, sizeof(*out));
  out->action = action;
  out->delay_ms = delay_ms;
  out->max_retries = max_retries;
  out->errno_value = errno_value;
  std::snprintf(out->reason, sizeof(out->reason), "%s", reason.c_str());
}

void ClassifyCommon(const RetryPolicy& policy, int scsi_status,
                    std::span<const uint8_t> sense,
                    std::span<const uint8_t> cdb, mpio_sense_verdict* out) {
  const uint8_t status = static_cast<uint8_t>(scsi_status);
  const std::string name = scsi::StatusName(status);
  switch (scsi_status) {
    case scsi::kStatusCheckCondition:
      break;
    case scsi::kStatusBusy:
    case scsi::kStatusTaskSetFull:
      SetVerdict(out, MPIO_ACTION_RETRY_DELAY, policy.busy_delay_ms,
                 policy.retries, EIO, name);
      return;
    case scsi::kStatusTaskAborted:  // another initiator cleared the task set
      SetVerdict(out, MPIO_ACTION_RETRY_SAME, 0, policy.retries, EIO, name);
      return;
    case scsi::kStatusReservationConflict:
      // Another I_T nexus holds the reservation; the same on every path of
      // ours that is registered alike. EBADE is what Linux's block layer
      // returns for it (BLK_STS_RESV_CONFLICT).
      SetVerdict(out, MPIO_ACTION_FAIL_IO, 0, 0, EBADE, name);
      return;
    case scsi::kStatusGood:
    case scsi::kStatusConditionMet:
      SetVerdict(out, MPIO_ACTION_FAIL_IO, 0, 0, EIO,
                 "classify() called for status " + name + " (engine bug)");
      return;
    default:  // ACA ACTIVE (mpio never sets NACA) and unknown values
      SetVerdict(out, MPIO_ACTION_FAIL_IO, 0, 0, EIO, name);
      return;
  }
  auto parsed = scsi::ParseSense(sense);
  if (!parsed.ok()) {
    SetVerdict(out, MPIO_ACTION_RETRY_SAME, 0, policy.retries, EIO,
               "CHECK CONDITION with unusable sense: " +
                   std::string(parsed.status().message()));
    return;
  }
  const scsi::Sense& s = *parsed;
  for (const Rule& r : kRules) {
    if (!Matches(r.key, s.key) || !Matches(r.asc, s.asc) ||
        !Matches(r.ascq, s.ascq)) {
      continue;
    }
    int err = r.errno_value;
    if (s.key == scsi::kSenseIllegalRequest &&
        (s.asc == 0x24 || s.asc == 0x26) && IsUnmapCommand(cdb)) {
      err = EOPNOTSUPP;
    }
    Apply(policy, r, err, scsi::SenseText(s), out);
    return;
  }
}

bool ApplyRetryOption(const opts::Option& o, RetryPolicy* policy, bool* used,
                      char* err, size_t err_cap) {
  uint64_t v = 0;
  *used = false;
  if (o.key == "retries") {
    if (!opts::ParseUint(o, 0, 1000, &v, err, err_cap)) return false;
    policy->retries = static_cast<uint32_t>(v);
    *used = true;
  } else if (o.key == "busy_delay_ms") {
    if (!opts::ParseUint(o, 0, 60000, &v, err, err_cap)) return false;
    policy->busy_delay_ms = static_cast<uint32_t>(v);
    *used = true;
  }
  return true;
}

const char* ActionName(int action) {
  switch (action) {
    case MPIO_ACTION_RETRY_SAME:
      return "RETRY_SAME";
    case MPIO_ACTION_FAIL_PATH:
      return "FAIL_PATH";
    case MPIO_ACTION_FAIL_IO:
      return "FAIL_IO";
    case MPIO_ACTION_RETRY_DELAY:
      return "RETRY_DELAY";
    case MPIO_ACTION_REPROBE:
      return "REPROBE";
    case MPIO_ACTION_DEVICE_LOST:
      return "DEVICE_LOST";
    default:
      return "UNKNOWN";
  }
}

}  // namespace mpio_satp
