#include "bench/soak/soak_report.h"

#include <doctest/doctest.h>

namespace mpio::bench {
namespace {

// Samples every 10 s for `minutes`, RSS = base + growth per minute (from
// t = 0), fds and threads constant.
std::vector<SoakSample> Linear(double minutes, uint64_t base_kib,
                               double kib_per_min) {
  std::vector<SoakSample> v;
  for (double t = 0; t <= minutes * 60 + 1e-9; t += 10) {
    SoakSample s;
    s.t_s = t;
    s.stats.rss_kib = base_kib + static_cast<uint64_t>(kib_per_min * t / 60);
    s.stats.fds = 12;
    s.stats.threads = 3;
    v.push_back(s);
  }
  return v;
}

TEST_CASE("slope is fitted over the second half only") {
  auto v = Linear(10, 50000, 0);
  // Warm-up growth in the first half does not count...
  for (auto& s : v)
    if (s.t_s < 300)
      s.stats.rss_kib = 40000 + static_cast<uint64_t>(s.t_s * 30);
  CHECK(RssSlopeKibPerMin(v) == doctest::Approx(0).epsilon(0.001));
  // ...steady growth in the second half does.
  auto g = Linear(10, 50000, 120);
  CHECK(RssSlopeKibPerMin(g) == doctest::Approx(120).epsilon(0.02));
}

TEST_CASE("flat memory, equal fds and threads, no errors: PASS") {
  auto v = Linear(10, 50000, 5);
  SoakVerdict r = JudgeSoak(v, 0, 0);
  CHECK(r.pass);
  CHECK(r.problems.empty());
  CHECK(r.fds_start == 12);
  CHECK(r.threads_end == 3);
  CHECK(r.peak_ratio == doctest::Approx(50050.0 / 50000).epsilon(0.001));
  CHECK(FormatSoakVerdict(r).find("verdict: PASS") != std::string::npos);
}

TEST_CASE("each kind of leak or error fails the verdict and is named") {
  SUBCASE("memory growth") {
    SoakVerdict r = JudgeSoak(Linear(10, 50000, 500), 0, 0);
    CHECK_FALSE(r.pass);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].find("RSS grows") != std::string::npos);
  }
  SUBCASE("a peak far above the start") {
    auto v = Linear(10, 50000, 0);
    v[20].stats.rss_kib = 100000;  // first half: slope unaffected
    SoakVerdict r = JudgeSoak(v, 0, 0);
    CHECK_FALSE(r.pass);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].find("peak RSS") != std::string::npos);
  }
  SUBCASE("an fd and a thread more at the end") {
    auto v = Linear(10, 50000, 0);
    v.back().stats.fds++;
    v.back().stats.threads++;
    SoakVerdict r = JudgeSoak(v, 0, 0);
    CHECK_FALSE(r.pass);
    CHECK(r.problems.size() == 2);
    CHECK(FormatSoakVerdict(r).find("open fds 12 -> 13") != std::string::npos);
  }
  SUBCASE("I/O errors and verify failures") {
    SoakVerdict r = JudgeSoak(Linear(10, 50000, 0), 3, 1);
    CHECK_FALSE(r.pass);
    CHECK(r.problems.size() == 2);
    std::string text = FormatSoakVerdict(r);
    CHECK(text.find("3 I/O errors") != std::string::npos);
    CHECK(text.find("1 verify failures") != std::string::npos);
    CHECK(text.find("verdict: FAIL") != std::string::npos);
  }
  SUBCASE("too short to judge") {
    SoakVerdict r = JudgeSoak({SoakSample{}}, 0, 0);
    CHECK_FALSE(r.pass);
  }
}

TEST_CASE("the table has one row per sample") {
  auto v = Linear(1, 1000, 0);
  std::string t = FormatSoakTable(v);
  size_t rows = 0;
  for (char c : t) rows += c == '\n';
  CHECK(rows == v.size() + 2);
  CHECK(t.find("| 60 | 1000 | 12 | 3 | 0 | 0 |") != std::string::npos);
}

}  // namespace
}  // namespace mpio::bench
