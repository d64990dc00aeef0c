// Exercises satp_default_aa.so through the real C ABI (dlopen).
#include <doctest/doctest.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "plugins/satp/common/loaded_plugin.h"

namespace mpio_satp {
namespace {

std::vector<uint8_t> FixedSense(uint8_t key, uint8_t asc, uint8_t ascq) {
  std::vector<uint8_t> d(18, 0);
  d[0] = 0x70;
  d[2] = key;
  d[7] = 10;
  d[12] = asc;
  d[13] = ascq;
  return d;
}

struct Instance {
  Instance(const mpio_plugin* p, const char* options) : p(p) {
    inst = p->create(options, err, sizeof(err));
  }
  ~Instance() {
    if (inst != nullptr) p->destroy(inst);
  }
  mpio_sense_verdict Classify(int status, const std::vector<uint8_t>& sense,
                              const std::vector<uint8_t>& cdb = {0x88}) {
    mpio_sense_verdict v;
    std::memset(&v, 0x5A, sizeof(v));  // the plugin must fill everything
    p->classify(inst, status, sense.empty() ? nullptr : sense.data(),
                sense.size(), cdb.data(), cdb.size(), &v);
    return v;
  }
  const mpio_plugin* p;
  void* inst = nullptr;
  char err[256] = {};
};

const std::string kSo = std::string(SATP_DIR) + "/satp_default_aa.so";

TEST_CASE("descriptor") {
  LoadedPlugin lp(kSo);
  REQUIRE_MESSAGE(lp.get() != nullptr, lp.error());
  CHECK(lp->abi_version == MPIO_PLUGIN_ABI_VERSION);
  CHECK(lp->struct_size == sizeof(mpio_plugin));
  CHECK(lp->kind == MPIO_PLUGIN_SATP);
  CHECK(std::string(lp->name) == "default_aa");
  REQUIRE(lp->aliases != nullptr);
  CHECK(std::string(lp->aliases[0]) == "VMW_SATP_DEFAULT_AA");
  CHECK(lp->aliases[1] == nullptr);
  CHECK_FALSE(static_cast<bool>(lp->probe_result));
  CHECK_FALSE(static_cast<bool>(lp->activate_command));
  CHECK_FALSE(static_cast<bool>(lp->select));
  REQUIRE(static_cast<bool>(lp->classify));
}

TEST_CASE("claims everything, needs no probe") {
  LoadedPlugin lp(kSo);
  REQUIRE(lp.get() != nullptr);
  mpio_lun_info lun = {};
  lun.tpgs = 0;
  char why[64] = "x";
  CHECK(lp->claim(&lun, why, sizeof(why)) == 1);
  lun.tpgs = 3;
  CHECK(lp->claim(&lun, why, sizeof(why)) == 1);
  Instance i(lp.get(), "");
  REQUIRE(i.inst != nullptr);
  mpio_scsi_cdb cdb = {};
  CHECK(lp->probe_command(i.inst, &cdb) == 0);
}

TEST_CASE("options and describe") {
  LoadedPlugin lp(kSo);
  REQUIRE(lp.get() != nullptr);
  char buf[128];
  {
    Instance i(lp.get(), nullptr);
    REQUIRE(i.inst != nullptr);
    size_t n = lp->describe(i.inst, buf, sizeof(buf));
    CHECK(std::string(buf) == "{retries=10,busy_delay_ms=100}");
    CHECK(n == std::strlen(buf));
  }
  {
    Instance i(lp.get(), "retries=3; BUSY_DELAY_MS = 50");
    REQUIRE_MESSAGE(i.inst != nullptr, i.err);
    lp->describe(i.inst, buf, sizeof(buf));
    CHECK(std::string(buf) == "{retries=3,busy_delay_ms=50}");
    auto v = i.Classify(0x08, {});
    CHECK(v.action == MPIO_ACTION_RETRY_DELAY);
    CHECK(v.delay_ms == 50);
    CHECK(v.max_retries == 3);
  }
  {
    Instance i(lp.get(), "policy=iops");
    CHECK(i.inst == nullptr);
    CHECK(std::string(i.err).find("valid keys: retries, busy_delay_ms") !=
          std::string::npos);
  }
  {
    Instance i(lp.get(), "retries=many");
    CHECK(i.inst == nullptr);
    CHECK(std::string(i.err).find("retries=many") != std::string::npos);
  }
  {
    Instance i(lp.get(), "retries=1001");
    CHECK(i.inst == nullptr);
  }
}

struct Row {
  int status;
  uint8_t key, asc, ascq;
  uint8_t opcode;
  int action;
  int errno_value;  // checked for FAIL_IO / DEVICE_LOST only
  uint32_t delay_ms;
  uint32_t max_retries;
};

TEST_CASE("classification table") {
  LoadedPlugin lp(kSo);
  REQUIRE(lp.get() != nullptr);
  Instance i(lp.get(), "");
  REQUIRE(i.inst != nullptr);
  const Row rows[] = {
      {0x08, 0, 0, 0, 0x88, MPIO_ACTION_RETRY_DELAY, 0, 100, 10},
      {0x28, 0, 0, 0, 0x88, MPIO_ACTION_RETRY_DELAY, 0, 100, 10},
      {0x40, 0, 0, 0, 0x88, MPIO_ACTION_RETRY_SAME, 0, 0, 10},
      {0x18, 0, 0, 0, 0x8A, MPIO_ACTION_FAIL_IO, EBADE, 0, 0},
      {0x30, 0, 0, 0, 0x8A, MPIO_ACTION_FAIL_IO, EIO, 0, 0},
      {0x02, 0x2, 0x04, 0x01, 0x88, MPIO_ACTION_RETRY_DELAY, 0, 1000, 10},
      {0x02, 0x2, 0x04, 0x00, 0x88, MPIO_ACTION_RETRY_DELAY, 0, 1000, 10},
      {0x02, 0x2, 0x04, 0x0A, 0x88, MPIO_ACTION_RETRY_DELAY, 0, 1000, 10},
      {0x02, 0x2, 0x04, 0x03, 0x88, MPIO_ACTION_FAIL_IO, EIO, 0, 0},
      {0x02, 0x2, 0x04, 0x0B, 0x88, MPIO_ACTION_FAIL_PATH, 0, 0, 0},
      {0x02, 0x2, 0x04, 0x0C, 0x88, MPIO_ACTION_FAIL_PATH, 0, 0, 0},
      {0x02, 0x2, 0x3A, 0x00, 0x88, MPIO_ACTION_FAIL_IO, ENOMEDIUM, 0, 0},
      {0x02, 0x3, 0x11, 0x00, 0x88, MPIO_ACTION_FAIL_IO, EIO, 0, 0},
      {0x02, 0x3, 0x0C, 0x00, 0x8A, MPIO_ACTION_FAIL_IO, EIO, 0, 0},
      {0x02, 0x4, 0x44, 0x00, 0x88, MPIO_ACTION_FAIL_IO, EIO, 0, 0},
      {0x02, 0x4, 0x08, 0x00, 0x88, MPIO_ACTION_FAIL_PATH, 0, 0, 0},
      {0x02, 0x4, 0x05, 0x00, 0x88, MPIO_ACTION_FAIL_PATH, 0, 0, 0},
      {0x02, 0x5, 0x20, 0x00, 0x42, MPIO_ACTION_FAIL_IO, EOPNOTSUPP, 0, 0},
      {0x02, 0x5, 0x24, 0x00, 0x88, MPIO_ACTION_FAIL_IO, EINVAL, 0, 0},
      {0x02, 0x5, 0x24, 0x00, 0x42, MPIO_ACTION_FAIL_IO, EOPNOTSUPP, 0, 0},
      {0x02, 0x5, 0x21, 0x00, 0x42, MPIO_ACTION_FAIL_IO, EINVAL, 0, 0},
      {0x02, 0x5, 0x21, 0x00, 0x88, MPIO_ACTION_FAIL_IO, EINVAL, 0, 0},
      {0x02, 0x5, 0x25, 0x00, 0x88, MPIO_ACTION_DEVICE_LOST, ENXIO, 0, 0},
      {0x02, 0x5, 0x55, 0x03, 0x8A, MPIO_ACTION_RETRY_DELAY, 0, 100, 10},
      {0x02, 0x6, 0x29, 0x00, 0x88, MPIO_ACTION_RETRY_SAME, 0, 0, 10},
      {0x02, 0x6, 0x29, 0x07, 0x88, MPIO_ACTION_RETRY_SAME, 0, 0, 10},
      {0x02, 0x6, 0x2A, 0x01, 0x88, MPIO_ACTION_RETRY_SAME, 0, 0, 10},
      {0x02, 0x6, 0x2A, 0x06, 0x88, MPIO_ACTION_RETRY_SAME, 0, 0, 10},
      {0x02, 0x6, 0x2A, 0x09, 0x88, MPIO_ACTION_REPROBE, 0, 0, 10},
      {0x02, 0x6, 0x3F, 0x03, 0x88, MPIO_ACTION_REPROBE, 0, 0, 10},
      {0x02, 0x6, 0x3F, 0x0E, 0x88, MPIO_ACTION_RETRY_SAME, 0, 0, 10},
      {0x02, 0x7, 0x27, 0x00, 0x8A, MPIO_ACTION_FAIL_IO, EROFS, 0, 0},
      {0x02, 0x7, 0x27, 0x07, 0x8A, MPIO_ACTION_FAIL_IO, ENOSPC, 0, 0},
      {0x02, 0x7, 0x20, 0x02, 0x8A, MPIO_ACTION_FAIL_IO, EACCES, 0, 0},
      {0x02, 0xB, 0x47, 0x00, 0x88, MPIO_ACTION_FAIL_PATH, 0, 0, 0},
      {0x02, 0xB, 0x4B, 0x00, 0x88, MPIO_ACTION_FAIL_PATH, 0, 0, 0},
      {0x02, 0xB, 0x0E, 0x03, 0x88, MPIO_ACTION_FAIL_PATH, 0, 0, 0},
      {0x02, 0xB, 0x00, 0x00, 0x88, MPIO_ACTION_FAIL_PATH, 0, 0, 0},
      {0x02, 0xB, 0x10, 0x01, 0x88, MPIO_ACTION_FAIL_IO, EILSEQ, 0, 0},
      {0x02, 0xD, 0x00, 0x00, 0x8A, MPIO_ACTION_FAIL_IO, ENOSPC, 0, 0},
      {0x02, 0xE, 0x1D, 0x00, 0x89, MPIO_ACTION_FAIL_IO, EILSEQ, 0, 0},
      {0x02, 0x8, 0x00, 0x00, 0x88, MPIO_ACTION_FAIL_IO, EIO, 0, 0},
      {0x02, 0x0, 0x00, 0x00, 0x88, MPIO_ACTION_RETRY_SAME, 0, 0, 10},
  };
  for (const Row& r : rows) {
    CAPTURE(r.status);
    CAPTURE(static_cast<int>(r.key));
    CAPTURE(static_cast<int>(r.asc));
    CAPTURE(static_cast<int>(r.ascq));
    std::vector<uint8_t> sense;
    if (r.status == 0x02) sense = FixedSense(r.key, r.asc, r.ascq);
    auto v = i.Classify(r.status, sense, {r.opcode, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    CHECK(v.action == r.action);
    CHECK(v.delay_ms == r.delay_ms);
    CHECK(v.max_retries == r.max_retries);
    if (r.action == MPIO_ACTION_FAIL_IO ||
        r.action == MPIO_ACTION_DEVICE_LOST) {
      CHECK(v.errno_value == r.errno_value);
    }
    CHECK(std::strlen(v.reason) > 0);
    CHECK(std::strlen(v.reason) < sizeof(v.reason));
  }
}

TEST_CASE("reasons, descriptor sense, missing sense, WRITE SAME unmap") {
  LoadedPlugin lp(kSo);
  REQUIRE(lp.get() != nullptr);
  Instance i(lp.get(), "");
  auto v = i.Classify(0x02, FixedSense(0x2, 0x04, 0x01));
  CHECK(std::string(v.reason) ==
        "NOT READY/LOGICAL UNIT IS IN PROCESS OF BECOMING READY (04/01)");
  CHECK(std::string(i.Classify(0x18, {}).reason) == "RESERVATION CONFLICT");
  // Descriptor-format UA.
  auto d = i.Classify(0x02, {0x72, 0x06, 0x29, 0x00, 0, 0, 0, 0});
  CHECK(d.action == MPIO_ACTION_RETRY_SAME);
  // CHECK CONDITION without sense bytes, and with garbage.
  auto none = i.Classify(0x02, {});
  CHECK(none.action == MPIO_ACTION_RETRY_SAME);
  CHECK(std::string(none.reason).find("unusable sense") != std::string::npos);
  CHECK(i.Classify(0x02, {0x12, 0x34}).action == MPIO_ACTION_RETRY_SAME);
  // WRITE SAME(16) with UNMAP refused: discard not supported.
  auto ws = i.Classify(0x02, FixedSense(0x5, 0x24, 0x00),
                       {0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  CHECK(ws.errno_value == EOPNOTSUPP);
  auto ws0 = i.Classify(0x02, FixedSense(0x5, 0x24, 0x00),
                        {0x93, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  CHECK(ws0.errno_value == EINVAL);
  // NULL cdb is allowed.
  mpio_sense_verdict nv;
  auto s = FixedSense(0x3, 0x11, 0);
  lp->classify(i.inst, 0x02, s.data(), s.size(), nullptr, 0, &nv);
  CHECK(nv.action == MPIO_ACTION_FAIL_IO);
}

}  // namespace
}  // namespace mpio_satp
