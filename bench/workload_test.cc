#include "bench/workload.h"

#include <doctest/doctest.h>

#include "tests/support/memory_block_device.h"

namespace mpio::bench {
namespace {

TEST_CASE(
    "ParseWorkload accepts fio-like specs and refuses bad ones with the "
    "format") {
  auto w = ParseWorkload("randrw:4k:qd16:rwmixread=70");
  REQUIRE(w.ok());
  CHECK(w->pattern == Pattern::kRandRw);
  CHECK(w->block_size == 4096);
  CHECK(w->queue_depth == 16);
  CHECK(w->read_percent == 70);
  CHECK(ParseWorkload("write:1m:qd1")->block_size == 1u << 20);
  for (const char* bad : {"randread", "scan:4k:qd1", "read:3:qd1", "read:4k:32",
                          "read:4k:qd0", "read:4k:qd1:mix=5", "read:64m:qd1"}) {
    auto r = ParseWorkload(bad);
    CHECK_FALSE(r.ok());
    CHECK(
        std::string(r.status().message()).find("expected PATTERN:BLOCK:qdN") !=
        std::string::npos);
  }
}

TEST_CASE("a verify run writes stamps and reads them back without failures") {
  testing::MemoryBlockDevice dev("mem", 8 << 20);
  auto spec = ParseWorkload("randrw:4k:qd8");
  REQUIRE(spec.ok());
  spec->verify = true;
  spec->duration = absl::Milliseconds(300);
  auto r = RunWorkload(&dev, *spec);
  REQUIRE(r.ok());
  CHECK(r->ios > 100);
  CHECK(r->reads > 0);
  CHECK(r->writes > 0);
  CHECK(r->errors == 0);
  CHECK(r->verify_failures == 0);
  CHECK(r->latency.total == r->ios);
  CHECK(r->latency.PercentileUs(50) <= r->latency.PercentileUs(99.9));
}

TEST_CASE("verification catches a corrupted block") {
  testing::MemoryBlockDevice dev("mem", 1 << 20);
  auto spec = ParseWorkload("randread:4k:qd1");
  REQUIRE(spec.ok());
  spec->verify = true;
  spec->max_ios = 2000;
  spec->duration = absl::Seconds(5);
  // A device that misplaces writes (one block further on) while reads are
  // honest: the prefill's stamps end up at the wrong LBAs.
  struct Corrupting : BlockDevice {
    testing::MemoryBlockDevice* inner;
    const DeviceGeometry& geometry() const override {
      return inner->geometry();
    }
    void Submit(IoRequest* r) override {
      if (r->op == IoOp::kRead) {
        inner->Submit(r);
        return;
      }
      IoRequest shifted = *r;
      shifted.offset = (r->offset + 4096) % inner->geometry().size_bytes;
      shifted.done = [](IoRequest*, const absl::Status&) {};
      inner->Submit(&shifted);
      r->done(r, absl::OkStatus());
    }
  } corrupting;
  corrupting.inner = &dev;
  auto r = RunWorkload(&corrupting, *spec);
  REQUIRE(r.ok());
  CHECK(r->verify_failures > 0);
  CHECK(r->first_error.find("verify failed") != std::string::npos);
}

TEST_CASE("errors are counted, not fatal") {
  testing::MemoryBlockDevice dev("mem", 1 << 20);
  dev.fail_next = 5;
  auto spec = ParseWorkload("randread:4k:qd2");
  REQUIRE(spec.ok());
  spec->max_ios = 200;
  spec->duration = absl::Seconds(5);
  auto r = RunWorkload(&dev, *spec);
  REQUIRE(r.ok());
  CHECK(r->errors == 5);
  CHECK(r->first_error.find("injected") != std::string::npos);
}

}  // namespace
}  // namespace mpio::bench
