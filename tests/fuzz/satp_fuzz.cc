// Drives the SATP plugins through their descriptors (the same code the .so
// files export, linked statically so libFuzzer sees its coverage) with
// arbitrary sense data, RTPG replies, path ids and option strings.
//
// Input layout: byte 0 selects the plugin and the option set, byte 1 the
// SCSI status, bytes 2-5 the path's TPG / relative port id, the rest is
// split in half: sense bytes and RTPG data. Every input is bounded: one
// create, a few calls, destroy.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "engine/include/mpio/plugin.h"
#include "plugins/satp/common/descriptors.h"

namespace {

// Valid option sets: [plugin][choice]; row 0 default_aa, row 1 alua.
const char* const kOptions[2][4] = {
    {"", "retries=0", "busy_delay_ms=0", "retries=1000,busy_delay_ms=60000"},
    {"", "retries=0", "explicit_allow=0;followover=0",
     "tpgs=2,retries=1000,busy_delay_ms=60000"},
};

bool Terminated(const char* s, size_t cap) {
  return std::memchr(s, '\0', cap) != nullptr;
}

void CheckVerdict(const mpio_sense_verdict& v) {
  if (v.action < MPIO_ACTION_RETRY_SAME || v.action > MPIO_ACTION_DEVICE_LOST) {
    std::abort();
  }
  if (!Terminated(v.reason, sizeof(v.reason))) std::abort();
  // Retries are always bounded.
  if (v.max_retries > 1000 || v.delay_ms > 60000) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 6) return 0;
  const int which = data[0] & 1;
  const mpio_plugin* p =
      which ? mpio_satp::AluaDescriptor() : mpio_satp::DefaultAaDescriptor();
  char err[128];
  void* inst = p->create(kOptions[which][(data[0] >> 1) & 3], err, sizeof(err));
  if (inst == nullptr) std::abort();  // all of kOptions are valid

  int status = data[1];
  mpio_satp_path path = {0, "fuzz",
                         static_cast<int16_t>((data[2] << 8) | data[3]),
                         static_cast<int16_t>((data[4] << 8) | data[5])};
  const uint8_t* rest = data + 6;
  size_t n = size - 6;
  size_t half = n / 2;

  if (p->probe_result != nullptr) {
    mpio_satp_path_state st;
    int rc = p->probe_result(inst, &path, status & 1 ? 0 : status, rest + half,
                             n - half, rest, half, &st);
    if (rc != 0 && rc != -1) std::abort();
    if (!Terminated(st.reason, sizeof(st.reason))) std::abort();
  }
  mpio_sense_verdict v;
  p->classify(inst, status, rest, half, rest + half, n - half, &v);
  CheckVerdict(v);
  p->classify(inst, 0x02, rest, n, nullptr, 0, &v);
  CheckVerdict(v);
  if (p->activate_command != nullptr) {
    mpio_scsi_cdb c;
    if (p->activate_command(inst, path.target_port_group, &c) == 1 &&
        (c.cdb_len > 16 || c.transfer_len > sizeof(c.data))) {
      std::abort();
    }
  }
  char buf[64];
  size_t want = p->describe(inst, buf, sizeof(buf));
  if (want > 0 && !Terminated(buf, sizeof(buf))) std::abort();
  p->destroy(inst);
  return 0;
}
