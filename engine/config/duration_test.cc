#include "engine/config/duration.h"

#include <doctest/doctest.h>

#include <string>

namespace mpio {
namespace {

TEST_CASE("ParseConfigDuration accepts every documented form") {
  struct Case {
    const char* text;
    absl::Duration want;
  };
  const Case cases[] = {
      {"0", absl::ZeroDuration()},
      {"0s", absl::ZeroDuration()},
      {"0ms", absl::ZeroDuration()},
      {"500ms", absl::Milliseconds(500)},
      {"1200ms", absl::Milliseconds(1200)},
      {"5s", absl::Seconds(5)},
      {"2m", absl::Minutes(2)},
      {"1h", absl::Hours(1)},
      {"1.5s", absl::Milliseconds(1500)},
      {"0.25s", absl::Milliseconds(250)},
      {".5s", absl::Milliseconds(500)},
      {"2.5ms", absl::Microseconds(2500)},
      {"1m30s", absl::Seconds(90)},
      {"1h2m3s4ms", absl::Hours(1) + absl::Minutes(2) + absl::Seconds(3) +
                        absl::Milliseconds(4)},
      {"007s", absl::Seconds(7)},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    absl::StatusOr<absl::Duration> d = ParseConfigDuration(c.text);
    REQUIRE(d.ok());
    CHECK(*d == c.want);
  }
}

TEST_CASE("ParseConfigDuration refuses what is ambiguous or wrong") {
  struct Case {
    const char* text;
    const char* message_part;
  };
  const Case cases[] = {
      {"", "expected a duration"},
      {"5", "a number needs a unit: \"5s\" or \"5ms\""},
      {"1m30", "needs a unit: \"30s\""},
      {"5x", "unknown unit \"x\"; use ms, s, m or h"},
      {"5 s", "unknown unit \" s\""},
      {"5sec", "unknown unit \"sec\""},
      {"5us", "unknown unit \"us\""},
      {"-5s", "cannot be negative"},
      {"s", "expected a duration"},
      {"1.s", "expected a duration"},
      {".s", "expected a duration"},
      {"1..5s", "expected a duration"},
      {"1234567890s", "number too large"},
      {"1.1234567890s", "too many decimals"},
      {"inf", "expected a duration"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    absl::StatusOr<absl::Duration> d = ParseConfigDuration(c.text);
    REQUIRE_FALSE(d.ok());
    CHECK(d.status().code() == absl::StatusCode::kInvalidArgument);
    std::string message(d.status().message());
    CHECK(message.find(c.message_part) != std::string::npos);
    CHECK(message.rfind(std::string("\"") + c.text + "\": ", 0) == 0);
  }
}

TEST_CASE("FormatConfigDuration shows durations the way they are written") {
  CHECK(FormatConfigDuration(absl::Milliseconds(500)) == "500ms");
  CHECK(FormatConfigDuration(absl::Seconds(10)) == "10s");
  CHECK(FormatConfigDuration(absl::Minutes(2)) == "2m");
}

}  // namespace
}  // namespace mpio
