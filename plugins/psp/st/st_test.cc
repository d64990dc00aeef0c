// psp_st.so through the real ABI: service-time choice from measured
// throughput, growth of in-flight bytes, untried paths, failover, options.
#include <doctest/doctest.h>

#include <string>

#include "plugins/psp/common/psp_test_harness.h"

namespace mpio_psp_test {
namespace {

constexpr uint64_t kMs = 1000000;
constexpr uint64_t kMiB = 1 << 20;

const mpio_plugin* St() {
  static PspLibrary lib(PspLibrary::BuildPath("psp_st.so"));
  REQUIRE(lib.plugin() != nullptr);
  return lib.plugin();
}

// Two paths; path 0 measured at 1 MiB / 5 ms, path 1 at 1 MiB / 10 ms:
// exactly twice the throughput.
void MeasureTwoPaths(FakeDevice& dev) {
  dev.AddPath();
  dev.AddPath();
  REQUIRE(dev.Issue(kMiB) == 0);  // untried paths tie: round robin
  REQUIRE(dev.Issue(kMiB) == 1);
  dev.CompleteOn(0, 5 * kMs);
  dev.CompleteOn(1, 10 * kMs);
}

TEST_CASE("st: without measurements equal paths alternate") {
  PspInstance psp(St(), "");
  FakeDevice dev(psp);
  dev.AddPath();
  dev.AddPath();
  CHECK(Pattern(dev, 4, 0) == "0101");
  CHECK(psp.Describe() == "{lastPathIndex=1; throughputMBps=[]}");
}

TEST_CASE("st: equal loads go to the faster path; in-flight bytes move it") {
  PspInstance psp(St(), "");
  FakeDevice dev(psp);
  MeasureTwoPaths(dev);
  CHECK(psp.Describe() ==
        "{lastPathIndex=1; throughputMBps=[0:209.7,1:104.9]}");
  CHECK(dev.Peek(kMiB) == 0);
  CHECK(dev.Peek(kMiB) == 0);
  CHECK(dev.Peek(0) == 0);
  // Costs in MiB per (path 0 rate): path 0 (k+1)/2, path 1 (m+1)/1.
  // Ties go to the faster path.
  std::string p;
  for (int i = 0; i < 6; ++i) p += std::to_string(dev.Issue(kMiB));
  CHECK(p == "001001");
  CHECK(dev.path(0).inflight_bytes == 4 * kMiB);
  CHECK(dev.path(1).inflight_bytes == 2 * kMiB);
}

TEST_CASE("st: an untried path counts as fast as the best one") {
  PspInstance psp(St(), "");
  FakeDevice dev(psp);
  MeasureTwoPaths(dev);
  REQUIRE(dev.Issue(kMiB) == 0);  // path 0 now has 1 MiB queued
  dev.AddPath();                  // path 2: no measurement yet
  CHECK(dev.Issue(kMiB) == 2);    // idle and "as fast as path 0"
}

TEST_CASE("st: throughput follows the path (EWMA) and a slow path loses") {
  PspInstance psp(St(), "");
  FakeDevice dev(psp);
  MeasureTwoPaths(dev);
  // Path 1 may not carry I/O for a while (ANO next to an AO): path 0 gets
  // everything and becomes slow, 1 MiB per 50 ms.
  dev.SetAlua(1, MPIO_ALUA_ACTIVE_NON_OPTIMIZED);
  dev.SetAlua(0, MPIO_ALUA_ACTIVE_OPTIMIZED);
  for (int i = 0; i < 30; ++i) {
    REQUIRE(dev.Issue(kMiB) == 0);
    dev.Advance(50 * kMs);
    dev.CompleteOn(0, kElapsed);
  }
  dev.SetAlua(1, MPIO_ALUA_ACTIVE_OPTIMIZED);
  CHECK(dev.Peek(kMiB) == 1);
}

TEST_CASE("st: pipelined completions measure bandwidth, not queueing") {
  PspInstance psp(St(), "");
  FakeDevice dev(psp);
  dev.AddPath();
  // Four 1 MiB I/Os queued at once; the link finishes one every 10 ms.
  for (int i = 0; i < 4; ++i) REQUIRE(dev.Issue(kMiB) == 0);
  for (int i = 0; i < 4; ++i) {
    dev.Advance(10 * kMs);
    dev.CompleteOn(0, kElapsed);  // latencies 10, 20, 30, 40 ms
  }
  // 1 MiB per 10 ms = 104.9 MB/s; by latency alone it would look like 2.5x
  // slower on average.
  CHECK(psp.Describe() == "{lastPathIndex=0; throughputMBps=[0:104.9]}");
}

TEST_CASE("st: failover, ALUA and no usable path") {
  PspInstance psp(St(), "");
  FakeDevice dev(psp);
  MeasureTwoPaths(dev);
  dev.SetUsable(0, false);
  CHECK(Pattern(dev, 2, kMiB) == "11");
  // The failed path forgets its estimate and is tried again when back.
  dev.SetUsable(0, true);
  CHECK(psp.Describe() == "{lastPathIndex=1; throughputMBps=[1:104.9]}");
  dev.SetAlua(1, MPIO_ALUA_STANDBY);
  CHECK(Pattern(dev, 2, kMiB) == "00");
  dev.SetUsable(0, false);
  CHECK(dev.Peek() == -1);
}

TEST_CASE("st: takes no options") {
  std::string err;
  CHECK(TryCreate(St(), "relative_throughput=1", &err) == nullptr);
  CHECK(err.find("valid keys: (none)") != std::string::npos);
}

}  // namespace
}  // namespace mpio_psp_test
