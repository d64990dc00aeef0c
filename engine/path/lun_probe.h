// LunProbe: what the engine learns about a LUN over one logged-in session:
// standard INQUIRY, VPD 0x00/0x80/0x83/0xB0/0xB2 and READ CAPACITY(16).
//
// The identity (which device a path belongs to) comes from VPD 0x83 LUN
// designators (NAA/EUI-64/SCSI name, ranked as ESXi and multipath-tools do),
// with the VPD 0x80 serial only as a fallback.
// Threads: reactor thread. Failure: `done` gets an error naming the portal
// and the command that failed; optional pages (0x80, 0xB0, 0xB2) that the
// target does not support are simply absent.
#ifndef MPIO_ENGINE_PATH_LUN_PROBE_H_
#define MPIO_ENGINE_PATH_LUN_PROBE_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/iscsi/session.h"
#include "engine/scsi/capacity.h"
#include "engine/scsi/inquiry.h"
#include "engine/scsi/vpd.h"

namespace mpio {

struct LunInfo {
  scsi::StandardInquiry inquiry;
  std::vector<uint8_t> inquiry_raw;
  std::vector<uint8_t> vpd83_raw;
  std::vector<scsi::Designator> designators;
  std::string serial;    // VPD 0x80, may be empty
  std::string identity;  // "naa.6000..." or "serial.<...>"
  std::optional<uint16_t> target_port_group;
  std::optional<uint16_t> relative_port_id;
  scsi::Capacity capacity;
  std::optional<scsi::BlockLimits> block_limits;
  std::optional<scsi::LogicalBlockProvisioning> provisioning;
};

// Runs one SCSI command on `session` and calls `done` with the result
// (copied). For control-plane commands: allocates.
struct CommandOutcome {
  ScsiResult::Kind kind = ScsiResult::Kind::kCancelled;
  int scsi_status = 0;
  std::vector<uint8_t> data;
  std::vector<uint8_t> sense;
  bool good() const {
    return kind == ScsiResult::Kind::kStatus && scsi_status == 0;
  }
  std::string Describe()
      const;  // "GOOD", "CHECK CONDITION ILLEGAL REQUEST/..."
};
void RunCommand(IscsiSession* session, const uint8_t* cdb, uint8_t cdb_len,
                DataDirection dir, uint32_t transfer_len,
                std::vector<uint8_t> out_data,
                std::function<void(const CommandOutcome&)> done);

void ProbeLun(IscsiSession* session,
              std::function<void(absl::StatusOr<LunInfo>)> done);

}  // namespace mpio

#endif  // MPIO_ENGINE_PATH_LUN_PROBE_H_
