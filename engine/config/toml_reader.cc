#include "engine/config/toml_reader.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/config/duration.h"

namespace mpio::config_internal {
namespace {

constexpr char kDurationExpected[] =
    "expected a duration like \"5s\" or \"500ms\"";

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); j++) row[j] = j;
  for (size_t i = 1; i <= a.size(); i++) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); j++) {
      size_t above = row[j];
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string Printable(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (u < 0x20 || u == 0x7f) {
      absl::StrAppend(&out, "\\x", absl::Hex(u, absl::kZeroPad2));
    } else {
      out += c;
    }
  }
  return out;
}

void Diagnostics::Add(const toml::source_position& at, absl::string_view path,
                      absl::string_view message) {
  entries_.push_back(Entry{
      at.line, at.column,
      absl::StrCat(Prefix(at), Printable(path), ": ", Printable(message))});
}

std::string Diagnostics::Prefix(const toml::source_position& at) const {
  if (at.line == 0) return absl::StrCat(Printable(file_), ": ");
  return absl::StrCat(Printable(file_), ":", at.line, ":", at.column, ": ");
}

absl::Status Diagnostics::ToStatus() const {
  if (entries_.empty()) return absl::OkStatus();
  std::vector<const Entry*> sorted;
  for (const Entry& e : entries_) sorted.push_back(&e);
  std::stable_sort(
      sorted.begin(), sorted.end(), [](const Entry* a, const Entry* b) {
        return a->line != b->line ? a->line < b->line : a->column < b->column;
      });
  std::string text;
  for (size_t i = 0; i < sorted.size() && i < kMaxShown; i++) {
    if (i > 0) text += "\n";
    text += sorted[i]->text;
  }
  if (sorted.size() > kMaxShown) {
    absl::StrAppend(&text, "\n(and ", sorted.size() - kMaxShown,
                    " more problems)");
  }
  return absl::InvalidArgumentError(text);
}

absl::string_view TypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

absl::string_view Suggest(absl::string_view key,
                          std::span<const absl::string_view> valid) {
  // Long keys are not typos of ours; and the DP is quadratic.
  if (key.size() > 64) return {};
  std::string lower = absl::AsciiStrToLower(key);
  absl::string_view best;
  size_t best_distance = 3;
  for (absl::string_view v : valid) {
    size_t d = EditDistance(lower, v);
    if (d < best_distance) {
      best_distance = d;
      best = v;
    }
  }
  return best;
}

void TableReader::CheckKeys(std::span<const absl::string_view> valid,
                            std::span<const absl::string_view> handled) {
  for (auto&& [key, node] : table_) {
    absl::string_view k(key.str().data(), key.str().size());
    if (std::find(valid.begin(), valid.end(), k) != valid.end()) continue;
    if (std::find(handled.begin(), handled.end(), k) != handled.end()) continue;
    std::string message = "unknown key";
    absl::string_view near = Suggest(k, valid);
    if (!near.empty()) absl::StrAppend(&message, " (did you mean ", near, "?)");
    absl::StrAppend(&message, "; valid keys in ", header_, ": ",
                    absl::StrJoin(valid, ", "));
    diag_->Add(key.source().begin, KeyPath(k), message);
  }
}

bool TableReader::Has(absl::string_view key) const {
  return table_.contains(StdView(key));
}

const toml::node* TableReader::Get(absl::string_view key) const {
  return table_.get(StdView(key));
}

std::string TableReader::KeyPath(absl::string_view key) const {
  return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", key);
}

toml::source_position TableReader::KeyPosition(absl::string_view key) const {
  auto it = table_.find(StdView(key));
  if (it == table_.end()) return table_.source().begin;
  return it->first.source().begin;
}

void TableReader::Error(absl::string_view key, absl::string_view message) {
  diag_->Add(KeyPosition(key), KeyPath(key), message);
}

void TableReader::ElementError(absl::string_view key, size_t index,
                               const toml::node& node,
                               absl::string_view message) {
  diag_->Add(node.source().begin, absl::StrCat(KeyPath(key), "[", index, "]"),
             message);
}

void TableReader::TableError(absl::string_view message) {
  diag_->Add(table_.source().begin, path_, message);
}

void TableReader::Missing(absl::string_view key, absl::string_view message) {
  diag_->Add(table_.source().begin, KeyPath(key), message);
}

const std::string* TableReader::StringValue(absl::string_view key,
                                            const toml::node& node,
                                            absl::string_view element_path) {
  const toml::value<std::string>* s = node.as_string();
  std::string path =
      element_path.empty() ? KeyPath(key) : std::string(element_path);
  toml::source_position at =
      element_path.empty() ? KeyPosition(key) : node.source().begin;
  if (s == nullptr) {
    diag_->Add(at, path,
               absl::StrCat("expected a string, got ", TypeName(node)));
    return nullptr;
  }
  // A NUL would silently cut the value short in every C API it reaches.
  if (s->get().find('\0') != std::string::npos) {
    diag_->Add(at, path, "contains a NUL character");
    return nullptr;
  }
  return &s->get();
}

bool TableReader::ReadString(absl::string_view key, std::string* out) {
  const toml::node* node = Get(key);
  if (node == nullptr) return false;
  const std::string* s = StringValue(key, *node, {});
  if (s == nullptr) return false;
  *out = *s;
  return true;
}

bool TableReader::ReadBool(absl::string_view key, bool* out) {
  const toml::node* node = Get(key);
  if (node == nullptr) return false;
  const toml::value<bool>* b = node->as_boolean();
  if (b == nullptr) {
    Error(key, absl::StrCat("expected true or false, got ", TypeName(*node)));
    return false;
  }
  *out = b->get();
  return true;
}

bool TableReader::ReadInt(absl::string_view key, int64_t min, int64_t max,
                          int* out) {
  const toml::node* node = Get(key);
  if (node == nullptr) return false;
  const toml::value<int64_t>* i = node->as_integer();
  if (i == nullptr) {
    Error(key, absl::StrCat("expected an integer, got ", TypeName(*node)));
    return false;
  }
  int64_t v = i->get();
  if (v < min || v > max) {
    Error(key, absl::StrCat("must be from ", min, " to ", max, ", got ", v));
    return false;
  }
  *out = static_cast<int>(v);
  return true;
}

bool TableReader::ReadDuration(absl::string_view key, DurationRange range,
                               absl::Duration* out) {
  const toml::node* node = Get(key);
  if (node == nullptr) return false;
  absl::Duration d;
  std::string shown;
  if (const toml::value<std::string>* s = node->as_string();
      s && range.allow_queue_fail &&
      (s->get() == "queue" || s->get() == "fail")) {
    *out =
        s->get() == "queue" ? absl::InfiniteDuration() : absl::ZeroDuration();
    return true;
  }
  if (const toml::value<std::string>* s = node->as_string()) {
    absl::StatusOr<absl::Duration> parsed = ParseConfigDuration(s->get());
    if (!parsed.ok()) {
      Error(key, parsed.status().message());
      return false;
    }
    d = *parsed;
    shown = absl::StrCat("\"", s->get(), "\"");
  } else if (const toml::value<int64_t>* i = node->as_integer()) {
    if (i->get() < 0) {
      Error(key, absl::StrCat("a duration cannot be negative, got ", i->get()));
      return false;
    }
    d = absl::Seconds(i->get());
    shown = absl::StrCat(i->get());
  } else if (const toml::value<double>* f = node->as_floating_point()) {
    if (!std::isfinite(f->get()) || f->get() < 0) {
      Error(key, absl::StrCat(kDurationExpected,
                              " or a number of seconds, got ", f->get()));
      return false;
    }
    d = absl::Seconds(f->get());
    shown = absl::StrCat(f->get());
  } else {
    Error(key, absl::StrCat(kDurationExpected, ", got ", TypeName(*node)));
    return false;
  }
  if (d == absl::ZeroDuration() && !range.allow_zero) {
    Error(key, absl::StrCat("must be more than 0, got ", shown));
    return false;
  }
  if (d > range.max) {
    Error(key, absl::StrCat("must be at most ", FormatConfigDuration(range.max),
                            ", got ", shown));
    return false;
  }
  *out = d;
  return true;
}

bool TableReader::ReadChoice(absl::string_view key,
                             std::span<const absl::string_view> choices,
                             std::string* out) {
  std::string value;
  if (!ReadString(key, &value)) return false;
  std::string lower = absl::AsciiStrToLower(value);
  for (absl::string_view c : choices) {
    if (lower == c) {
      *out = std::string(c);
      return true;
    }
  }
  Error(key, absl::StrCat("must be one of ", absl::StrJoin(choices, ", "),
                          "; got \"", value, "\""));
  return false;
}

const toml::array* TableReader::ReadArray(absl::string_view key,
                                          absl::string_view what) {
  const toml::node* node = Get(key);
  if (node == nullptr) return nullptr;
  const toml::array* a = node->as_array();
  if (a == nullptr) {
    Error(key, absl::StrCat("expected an array of ", what, ", got ",
                            TypeName(*node)));
  }
  return a;
}

bool TableReader::ReadStringArray(absl::string_view key,
                                  std::vector<std::string>* out) {
  const toml::array* a = ReadArray(key, "strings");
  if (a == nullptr) return false;
  std::vector<std::string> values;
  bool ok = true;
  for (size_t i = 0; i < a->size(); i++) {
    const std::string* s =
        StringValue(key, (*a)[i], absl::StrCat(KeyPath(key), "[", i, "]"));
    if (s == nullptr) {
      ok = false;
      continue;
    }
    values.push_back(*s);
  }
  if (!ok) return false;
  *out = std::move(values);
  return true;
}

}  // namespace mpio::config_internal
