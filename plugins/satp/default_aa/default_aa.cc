// VMW_SATP_DEFAULT_AA: the fallback SATP for active/active arrays and
// targets without ALUA (tgtd, community TrueNAS). Claims every LUN, needs no
// probe (all paths are equal), and classifies sense data with the common
// table (plugins/satp/common/sense_table.cc, where each row says why).
//
// Options: retries=N (0-1000, default 10), busy_delay_ms=N (0-60000,
// default 100). Instances are immutable after create(); no global mutable
// state; every callback catches so no exception crosses the C ABI.
#include <cerrno>
#include <new>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "engine/include/mpio/plugin.h"
#include "plugins/satp/common/descriptors.h"
#include "plugins/satp/common/options.h"
#include "plugins/satp/common/sense_table.h"

namespace mpio_satp {
namespace {

struct DefaultAa {
  RetryPolicy retry;
};

void* Create(const char* options, char* err, size_t err_cap) {
  try {
    std::vector<opts::Option> parsed;
    if (!opts::ParseOptions(options, {"retries", "busy_delay_ms"}, &parsed, err,
                            err_cap)) {
      return nullptr;
    }
    auto* d = new DefaultAa();
    for (const auto& o : parsed) {
      bool used = false;
      if (!ApplyRetryOption(o, &d->retry, &used, err, err_cap)) {
        delete d;
        return nullptr;
      }
    }
    return d;
  } catch (...) {
    opts::WriteError(err, err_cap, "out of memory");
    return nullptr;
  }
}

void Destroy(void* instance) { delete static_cast<DefaultAa*>(instance); }

size_t Describe(void* instance, char* buf, size_t cap) {
  try {
    const auto* d = static_cast<const DefaultAa*>(instance);
    return opts::WriteText(
        absl::StrFormat("{retries=%d,busy_delay_ms=%d}", d->retry.retries,
                        d->retry.busy_delay_ms),
        buf, cap);
  } catch (...) {
    return opts::WriteText("", buf, cap);
  }
}

int Claim(const mpio_lun_info* /*lun*/, char* why, size_t why_cap) {
  // The fallback: any LUN can be driven as "all paths equal".
  opts::WriteText("", why, why_cap);
  return 1;
}

int ProbeCommand(void* /*instance*/, mpio_scsi_cdb* /*out*/) { return 0; }

void Classify(void* instance, int scsi_status, const uint8_t* sense,
              size_t sense_len, const uint8_t* cdb, size_t cdb_len,
              mpio_sense_verdict* out) {
  try {
    const auto* d = static_cast<const DefaultAa*>(instance);
    ClassifyCommon(d->retry, scsi_status,
                   {sense, sense == nullptr ? 0 : sense_len},
                   {cdb, cdb == nullptr ? 0 : cdb_len}, out);
  } catch (...) {
    SetVerdict(out, MPIO_ACTION_FAIL_IO, 0, 0, EIO,
               "default_aa: internal error while classifying");
  }
}

const char* const kAliases[] = {"VMW_SATP_DEFAULT_AA", nullptr};

const mpio_plugin kPlugin = {
    .abi_version = MPIO_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(mpio_plugin),
    .kind = MPIO_PLUGIN_SATP,
    .name = "default_aa",
    .aliases = kAliases,
    .summary =
        "Active/active arrays and targets without ALUA: every path "
        "equal (fallback for every LUN)",
    .options_help =
        "retries=N (0-1000, default 10); busy_delay_ms=N "
        "(0-60000, default 100)",
    .create = Create,
    .destroy = Destroy,
    .describe = Describe,
    .claim = Claim,
    .probe_command = ProbeCommand,
    .probe_result = nullptr,
    .classify = Classify,
    .activate_command = nullptr,
};

}  // namespace

const mpio_plugin* DefaultAaDescriptor() { return &kPlugin; }

}  // namespace mpio_satp
