// The sense classification shared by every SATP: SCSI status + sense data
// -> what the engine should do (enum mpio_sense_action), as one rule table.
//
// Compiled into each SATP plugin (static, hidden); no state of its own, so
// any thread may call it. Array-specific SATPs (alua) check their own codes
// first and fall back to ClassifyCommon. Never throws: the only allocation
// is the reason text, and the plugin callbacks catch around it.
#ifndef MPIO_PLUGINS_SATP_COMMON_SENSE_TABLE_H_
#define MPIO_PLUGINS_SATP_COMMON_SENSE_TABLE_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/include/mpio/plugin.h"
#include "plugins/satp/common/options.h"

namespace mpio_satp {

// Retry bounds, set from the `retries` and `busy_delay_ms` options.
struct RetryPolicy {
  uint32_t retries = 10;         // max_retries of every retryable class
  uint32_t busy_delay_ms = 100;  // BUSY, TASK SET FULL, INSUFFICIENT RESOURCES
};

// NOT READY waits this long per retry: arrays take seconds to become ready.
inline constexpr uint32_t kNotReadyDelayMs = 1000;

// Fills `out` (zeroed first) for a command that ended with `scsi_status`.
// `cdb` lets request errors on UNMAP / WRITE SAME(unmap) say EOPNOTSUPP.
void ClassifyCommon(const RetryPolicy& policy, int scsi_status,
                    std::span<const uint8_t> sense,
                    std::span<const uint8_t> cdb, mpio_sense_verdict* out);

// Writes a verdict; reason is truncated to fit.
void SetVerdict(mpio_sense_verdict* out, int action, uint32_t delay_ms,
                uint32_t max_retries, int errno_value,
                const std::string& reason);

// Applies `retries=N` / `busy_delay_ms=N` if `o` is one of them. Returns
// false with `err` written on a bad value; sets *used when it consumed `o`.
bool ApplyRetryOption(const opts::Option& o, RetryPolicy* policy, bool* used,
                      char* err, size_t err_cap);

// "mpio_sense_action" name, for describe() and test messages.
const char* ActionName(int action);

}  // namespace mpio_satp

#endif  // MPIO_PLUGINS_SATP_COMMON_SENSE_TABLE_H_
