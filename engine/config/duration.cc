#include "engine/config/duration.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace mpio {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

absl::Status Bad(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("\"", text, "\": ", why));
}

}  // namespace

absl::StatusOr<absl::Duration> ParseConfigDuration(absl::string_view text) {
  // Nine integer digits per group is plenty (999999999h) and keeps every
  // product far from int64 overflow, so no saturation to "infinite".
  constexpr size_t kMaxIntDigits = 9;
  constexpr size_t kMaxFracDigits = 9;
  constexpr char kExpected[] =
      "expected a duration like \"5s\", \"500ms\", \"2m\" or \"1m30s\"";
  if (text.empty()) return Bad(text, kExpected);
  if (text == "0") return absl::ZeroDuration();
  if (text[0] == '-') return Bad(text, "a duration cannot be negative");

  absl::Duration total = absl::ZeroDuration();
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    int64_t whole = 0;
    while (i < text.size() && IsDigit(text[i])) {
      if (i - start >= kMaxIntDigits) return Bad(text, "number too large");
      whole = whole * 10 + (text[i] - '0');
      i++;
    }
    size_t int_digits = i - start;
    int64_t frac = 0;
    int64_t frac_scale = 1;
    if (i < text.size() && text[i] == '.') {
      i++;
      size_t frac_start = i;
      while (i < text.size() && IsDigit(text[i])) {
        if (i - frac_start >= kMaxFracDigits)
          return Bad(text, "too many decimals");
        frac = frac * 10 + (text[i] - '0');
        frac_scale *= 10;
        i++;
      }
      if (i == frac_start) return Bad(text, kExpected);
    }
    if (int_digits == 0 && frac_scale == 1) return Bad(text, kExpected);

    size_t unit_start = i;
    while (i < text.size() && !IsDigit(text[i]) && text[i] != '.') i++;
    absl::string_view unit = text.substr(unit_start, i - unit_start);
    absl::Duration scale;
    if (unit == "ms") {
      scale = absl::Milliseconds(1);
    } else if (unit == "s") {
      scale = absl::Seconds(1);
    } else if (unit == "m") {
      scale = absl::Minutes(1);
    } else if (unit == "h") {
      scale = absl::Hours(1);
    } else if (unit.empty()) {
      return Bad(text, absl::StrCat("a number needs a unit: \"",
                                    text.substr(start, i - start), "s\" or \"",
                                    text.substr(start, i - start), "ms\""));
    } else {
      return Bad(
          text, absl::StrCat("unknown unit \"", unit, "\"; use ms, s, m or h"));
    }
    total += scale * whole + scale * frac / frac_scale;
  }
  return total;
}

std::string FormatConfigDuration(absl::Duration d) {
  return absl::FormatDuration(d);
}

}  // namespace mpio
