// Internal to mpio_config: typed, range-checked reads from one toml++ table,
// with every problem recorded as "file:line:col: path.key: what is wrong".
//
// Single-threaded helper objects living for one parse. A failed read leaves
// the destination untouched and adds a diagnostic, so one pass over a file
// reports all of its mistakes, not just the first. Diagnostics quote types
// and (for non-secret keys) values, never the value of an unknown key, which
// could be a misspelled secret.
#ifndef MPIO_ENGINE_CONFIG_TOML_READER_H_
#define MPIO_ENGINE_CONFIG_TOML_READER_H_

#include <toml++/toml.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace mpio::config_internal {

// Problems found in one document, reported together in file order.
class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  void Add(const toml::source_position& at, absl::string_view path,
           absl::string_view message);
  bool empty() const { return entries_.empty(); }
  // InvalidArgument with one line per problem (the first kMaxShown of them),
  // sorted by position; OK when there are none.
  absl::Status ToStatus() const;
  std::string Prefix(const toml::source_position& at) const;

  static constexpr size_t kMaxShown = 20;

 private:
  struct Entry {
    uint32_t line, column;
    std::string text;
  };
  std::string file_;
  std::vector<Entry> entries_;
};

// Abseil 20220623 here has its own string_view; toml++ takes std's.
inline std::string_view StdView(absl::string_view s) {
  return {s.data(), s.size()};
}

// `text` with control characters escaped ("\n", "\x01"), so that a quoted
// value or a toml++ description can never break a message's one line.
std::string Printable(absl::string_view text);

// "boolean", "integer", "string", ... for "expected X, got Y".
absl::string_view TypeName(const toml::node& node);

// The valid key closest to a misspelled one (edit distance <= 2), or "".
absl::string_view Suggest(absl::string_view key,
                          std::span<const absl::string_view> valid);

// Which durations a key accepts.
struct DurationRange {
  bool allow_zero = false;
  // dm-multipath's words for no_path_retry: "queue" (forever) and "fail"
  // (at once) stand for an infinite and a zero duration.
  bool allow_queue_fail = false;
  absl::Duration max = absl::Hours(24 * 7);
};

class TableReader {
 public:
  // `path` names the table in messages ("engine", "target[1]"); `header` is
  // how it is written in the file ("[engine]", "[[target]]").
  TableReader(const toml::table& table, std::string path, std::string header,
              Diagnostics* diagnostics)
      : table_(table),
        path_(std::move(path)),
        header_(std::move(header)),
        diag_(diagnostics) {}

  // Records an error for every key that is neither in `valid` (listed in
  // the message) nor in `handled` (refused elsewhere with its own message).
  void CheckKeys(std::span<const absl::string_view> valid,
                 std::span<const absl::string_view> handled = {});

  bool Has(absl::string_view key) const;
  const toml::node* Get(absl::string_view key) const;

  // Each returns true when the key is present and valid (and sets *out);
  // false when absent (nothing recorded) or invalid (error recorded).
  bool ReadString(absl::string_view key, std::string* out);
  bool ReadBool(absl::string_view key, bool* out);
  bool ReadInt(absl::string_view key, int64_t min, int64_t max, int* out);
  bool ReadDuration(absl::string_view key, DurationRange range,
                    absl::Duration* out);
  bool ReadChoice(absl::string_view key,
                  std::span<const absl::string_view> choices, std::string* out);
  bool ReadStringArray(absl::string_view key, std::vector<std::string>* out);
  // The array under `key`, or null when absent or not an array (recorded).
  const toml::array* ReadArray(absl::string_view key, absl::string_view what);

  // Errors about `key` (at the key), one element of an array under `key`
  // (at the element) or the table itself (at its header).
  void Error(absl::string_view key, absl::string_view message);
  void ElementError(absl::string_view key, size_t index, const toml::node& node,
                    absl::string_view message);
  void TableError(absl::string_view message);
  // A required key that is absent: reported at the table's header.
  void Missing(absl::string_view key, absl::string_view message);

  std::string KeyPath(absl::string_view key) const;
  const std::string& path() const { return path_; }
  const std::string& header() const { return header_; }
  const toml::table& table() const { return table_; }

 private:
  toml::source_position KeyPosition(absl::string_view key) const;
  // A string element or value; records "expected ..., got ..." otherwise.
  const std::string* StringValue(absl::string_view key, const toml::node& node,
                                 absl::string_view element_path);

  const toml::table& table_;
  std::string path_;
  std::string header_;
  Diagnostics* diag_;
};

}  // namespace mpio::config_internal

#endif  // MPIO_ENGINE_CONFIG_TOML_READER_H_
