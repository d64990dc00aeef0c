// psp_rr.so through the real ABI: iops and bytes quotas, failover, ALUA with
// and without useANO, ESXi's latency policy with fake latencies, options
// and describe().
#include <doctest/doctest.h>

#include <string>

#include "plugins/psp/common/psp_test_harness.h"

namespace mpio_psp_test {
namespace {

constexpr uint64_t kMs = 1000000;

const mpio_plugin* Rr() {
  static PspLibrary lib(PspLibrary::BuildPath("psp_rr.so"));
  REQUIRE(lib.plugin() != nullptr);
  return lib.plugin();
}

TEST_CASE("rr: defaults are ESXi's, 1000 I/Os per path") {
  PspInstance psp(Rr(), "");
  CHECK(psp.Describe() ==
        "{policy=iops,iops=1000,bytes=10485760,useANO=0; lastPathIndex=-1}");
  FakeDevice dev(psp);
  dev.AddPath();
  dev.AddPath();
  std::string p = Pattern(dev, 2001);
  CHECK(p == std::string(1000, '0') + std::string(1000, '1') + "0");
  CHECK(psp.Describe() ==
        "{policy=iops,iops=1000,bytes=10485760,useANO=0; lastPathIndex=0}");
}

TEST_CASE("rr: iops=1 alternates exactly, iops=3 gives runs of 3") {
  PspInstance one(Rr(), "policy=iops;iops=1");
  FakeDevice dev(one);
  dev.AddPath();
  dev.AddPath();
  CHECK(Pattern(dev, 6) == "010101");
  dev.AddPath();
  dev.AddPath();
  CHECK(Pattern(dev, 8) == "23012301");

  PspInstance three(Rr(), "iops=3");
  FakeDevice dev3(three);
  dev3.AddPath();
  dev3.AddPath();
  CHECK(Pattern(dev3, 12) == "000111000111");
}

TEST_CASE("rr: bytes policy switches at the byte limit") {
  PspInstance psp(Rr(), "policy=bytes,bytes=8192");
  FakeDevice dev(psp);
  dev.AddPath();
  dev.AddPath();
  CHECK(Pattern(dev, 8, 4096) == "00110011");
  // 3000-byte I/Os: the quota is used up after 3 (9000 >= 8192).
  PspInstance odd(Rr(), "policy=bytes;bytes=8192");
  FakeDevice dev2(odd);
  dev2.AddPath();
  dev2.AddPath();
  CHECK(Pattern(dev2, 9, 3000) == "000111000");
  // A single I/O bigger than the quota still goes out, then the path turns.
  CHECK(Pattern(dev2, 2, 100000) == "10");
}

TEST_CASE("rr: failover skips unusable paths, -1 when none") {
  PspInstance psp(Rr(), "iops=1");
  FakeDevice dev(psp);
  for (int i = 0; i < 3; ++i) dev.AddPath();
  CHECK(Pattern(dev, 3) == "012");
  dev.SetUsable(1, false);
  CHECK(Pattern(dev, 4) == "0202");
  dev.SetUsable(0, false);
  dev.SetUsable(2, false);
  CHECK(dev.Peek() == -1);
  dev.SetUsable(1, true);
  CHECK(Pattern(dev, 2) == "11");

  // The current path dies mid-quota: the next I/O moves at once.
  PspInstance big(Rr(), "iops=100");
  FakeDevice dev2(big);
  dev2.AddPath();
  dev2.AddPath();
  CHECK(Pattern(dev2, 3) == "000");
  dev2.SetUsable(0, false);
  CHECK(Pattern(dev2, 2) == "11");
}

TEST_CASE("rr: ALUA non-optimized only without optimized; useANO=1 uses all") {
  PspInstance psp(Rr(), "iops=1");
  FakeDevice dev(psp);
  dev.AddPath(MPIO_ALUA_ACTIVE_NON_OPTIMIZED);
  dev.AddPath(MPIO_ALUA_ACTIVE_OPTIMIZED);
  dev.AddPath(MPIO_ALUA_ACTIVE_OPTIMIZED);
  dev.AddPath(MPIO_ALUA_STANDBY);
  CHECK(Pattern(dev, 4) == "1212");
  dev.SetUsable(1, false);
  dev.SetUsable(2, false);
  CHECK(Pattern(dev, 2) == "00");

  PspInstance ano(Rr(), "iops=1;useANO=1");
  FakeDevice dev2(ano);
  dev2.AddPath(MPIO_ALUA_ACTIVE_NON_OPTIMIZED);
  dev2.AddPath(MPIO_ALUA_ACTIVE_OPTIMIZED);
  dev2.AddPath(MPIO_ALUA_STANDBY);  // never, even with useANO
  dev2.AddPath(MPIO_ALUA_TRANSITIONING);
  CHECK(Pattern(dev2, 4) == "0101");
  CHECK(ano.Describe().find("useANO=1") != std::string::npos);
}

TEST_CASE("rr latency: samples round robin, then steers to the faster path") {
  PspInstance psp(Rr(), "policy=latency;latencyEvalTime=1000;samplingCycles=4");
  FakeDevice dev(psp);
  dev.AddPath();
  dev.AddPath();
  auto trip = [&]() {
    int64_t c = dev.Issue();
    REQUIRE(c >= 0);
    dev.CompleteOn(static_cast<uint32_t>(c), c == 0 ? 10 * kMs : 1 * kMs);
    return std::to_string(c);
  };
  std::string sampling;
  for (int i = 0; i < 8; ++i) sampling += trip();
  CHECK(sampling == "01010101");
  CHECK(psp.Describe().find("phase=sampling") != std::string::npos);
  std::string steady;
  for (int i = 0; i < 6; ++i) steady += trip();
  CHECK(steady == "111111");
  CHECK(psp.Describe() ==
        "{policy=latency,latencyEvalTime=1000,samplingCycles=4,useANO=0; "
        "lastPathIndex=1,phase=steady,avgLatencyUs=[0:10000,1:1000]}");

  // Expected completion time (inflight + 1) * avg: path 1 (1 ms) takes
  // queued I/Os until its 10th would wait as long as one on path 0 (10 ms).
  std::string queued;
  for (int i = 0; i < 10; ++i) queued += std::to_string(dev.Issue());
  CHECK(queued == "1111111110");
  dev.CompleteAll({{0, 10 * kMs}, {1, 1 * kMs}});

  // After latencyEvalTime the paths are measured again; now path 0 is fast.
  dev.Advance(1001 * kMs);
  auto trip2 = [&]() {
    int64_t c = dev.Issue();
    REQUIRE(c >= 0);
    dev.CompleteOn(static_cast<uint32_t>(c), c == 0 ? 2 * kMs : 8 * kMs);
    return std::to_string(c);
  };
  std::string resample;
  for (int i = 0; i < 8; ++i) resample += trip2();
  CHECK(resample == "10101010");  // round robin resumes after path 0
  std::string after;
  for (int i = 0; i < 4; ++i) after += trip2();
  CHECK(after == "0000");

  // A path change re-samples at once.
  dev.Changed();
  std::string changed;
  for (int i = 0; i < 4; ++i) changed += trip2();
  CHECK(changed == "1010");
}

TEST_CASE(
    "rr latency: sampling ends after latencyEvalTime even if a path hangs") {
  PspInstance psp(Rr(), "policy=latency;latencyEvalTime=100;samplingCycles=2");
  FakeDevice dev(psp);
  dev.AddPath();
  dev.AddPath();
  // Path 0 completes, path 1 never does.
  for (int i = 0; i < 4; ++i) {
    int64_t c = dev.Issue();
    if (c == 0) dev.CompleteOn(0, 1 * kMs);
  }
  CHECK(psp.Describe().find("phase=sampling") != std::string::npos);
  dev.Advance(100 * kMs);
  // Path 1 is charged the worst measured average and has I/O queued.
  CHECK(Pattern(dev, 3) == "000");
  CHECK(psp.Describe().find("phase=steady") != std::string::npos);
}

TEST_CASE("rr latency: failed I/O does not count as a sample") {
  PspInstance psp(Rr(), "policy=latency;samplingCycles=1");
  FakeDevice dev(psp);
  dev.AddPath();
  dev.AddPath();
  CHECK(dev.Issue() == 0);
  dev.CompleteOn(0, 1 * kMs, MPIO_IO_PATH_FAILED);
  CHECK(dev.Issue() == 1);
  dev.CompleteOn(1, 1 * kMs);
  // Path 0 has no good sample yet: still sampling, round robin.
  CHECK(psp.Describe().find("phase=sampling") != std::string::npos);
  CHECK(dev.Issue() == 0);
  dev.CompleteOn(0, 3 * kMs);
  CHECK(dev.Issue() == 1);  // steady: 1 ms beats 3 ms
  CHECK(psp.Describe().find("phase=steady") != std::string::npos);
}

TEST_CASE("rr: bad options are refused with the valid keys") {
  std::string err;
  const char* kValid =
      "valid keys: policy, iops, bytes, useANO, latencyEvalTime, "
      "samplingCycles";
  CHECK(TryCreate(Rr(), "policy=fast", &err) == nullptr);
  CHECK(err.find("expected iops, bytes or latency") != std::string::npos);
  CHECK(TryCreate(Rr(), "iops=0", &err) == nullptr);
  CHECK(err.find("from 1 to 1000000") != std::string::npos);
  CHECK(TryCreate(Rr(), "iops=1000001", &err) == nullptr);
  CHECK(TryCreate(Rr(), "iops=-1", &err) == nullptr);
  CHECK(TryCreate(Rr(), "iops=12abc", &err) == nullptr);
  CHECK(TryCreate(Rr(), "bytes=0", &err) == nullptr);
  CHECK(TryCreate(Rr(), "useANO=2", &err) == nullptr);
  CHECK(err.find("expected 0 or 1") != std::string::npos);
  CHECK(TryCreate(Rr(), "samplingCycles=0", &err) == nullptr);
  CHECK(TryCreate(Rr(), "latencyEvalTime=", &err) == nullptr);
  CHECK(TryCreate(Rr(), "turbo=1", &err) == nullptr);
  CHECK(err.find(kValid) != std::string::npos);
  CHECK(TryCreate(Rr(), "iops", &err) == nullptr);
  CHECK(err.find(kValid) != std::string::npos);
  // Keys are case-insensitive, blanks and both separators are fine.
  PspInstance ok(Rr(), " POLICY = Bytes , BYTES=4096; useano=1 ");
  CHECK(ok.Describe() ==
        "{policy=bytes,iops=1000,bytes=4096,useANO=1; lastPathIndex=-1}");
}

}  // namespace
}  // namespace mpio_psp_test
