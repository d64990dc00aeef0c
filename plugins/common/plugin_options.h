// Option strings for plugins: "key=value;key=value" in ESXi's words
// (e.g. "policy=iops;iops=1"). ',' is accepted as a separator too, keys are
// case-insensitive, blanks around keys and values are ignored.
//
// Header-only and exception-free so every plugin (C++ MODULE library) can use
// it without linking anything. Failure: Parse() returns false and writes a
// one-line reason naming the offending text and the valid keys.
#ifndef MPIO_PLUGINS_COMMON_PLUGIN_OPTIONS_H_
#define MPIO_PLUGINS_COMMON_PLUGIN_OPTIONS_H_

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mpio_plugin_options {

struct Option {
  std::string key;  // lower case
  std::string value;
};

inline std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

inline void WriteError(char* err, size_t cap, const std::string& text) {
  if (err == nullptr || cap == 0) return;
  std::snprintf(err, cap, "%s", text.c_str());
}

// Splits `text` into options, refusing keys not in `valid_keys` (a list like
// {"policy", "iops"}), empty keys, missing '=' and repeated keys.
inline bool ParseOptions(const char* text,
                         const std::vector<std::string_view>& valid_keys,
                         std::vector<Option>* out, char* err, size_t cap) {
  out->clear();
  std::string_view rest = text == nullptr ? std::string_view() : text;
  std::string valid;
  for (auto k : valid_keys) {
    if (!valid.empty()) valid += ", ";
    valid += k;
  }
  while (!rest.empty()) {
    size_t end = rest.find_first_of(";,");
    std::string_view item = Trim(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view()
                                         : rest.substr(end + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      WriteError(err, cap,
                 "option '" + std::string(item) +
                     "' has no '=value'; valid keys: " + valid);
      return false;
    }
    std::string key(Trim(item.substr(0, eq)));
    for (auto& c : key)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value(Trim(item.substr(eq + 1)));
    bool known = false;
    for (auto k : valid_keys) known = known || k == key;
    if (!known) {
      WriteError(err, cap,
                 "unknown option '" + key + "'; valid keys: " +
                     (valid.empty() ? std::string("(none)") : valid));
      return false;
    }
    for (const auto& o : *out) {
      if (o.key == key) {
        WriteError(err, cap, "option '" + key + "' given twice");
        return false;
      }
    }
    out->push_back({std::move(key), std::move(value)});
  }
  return true;
}

// Parses an unsigned integer in [min, max]; false + reason otherwise.
inline bool ParseUint(const Option& o, uint64_t min, uint64_t max,
                      uint64_t* value, char* err, size_t cap) {
  const char* s = o.value.c_str();
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (o.value.empty() || *end != '\0' || errno != 0 || s[0] == '-' || v < min ||
      v > max) {
    WriteError(err, cap,
               "option '" + o.key + "=" + o.value +
                   "': expected a whole number from " + std::to_string(min) +
                   " to " + std::to_string(max));
    return false;
  }
  *value = v;
  return true;
}

// Parses 0/1/true/false/yes/no/on/off.
inline bool ParseBool(const Option& o, bool* value, char* err, size_t cap) {
  std::string v = o.value;
  for (auto& c : v)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (v == "1" || v == "true" || v == "yes" || v == "on") {
    *value = true;
  } else if (v == "0" || v == "false" || v == "no" || v == "off") {
    *value = false;
  } else {
    WriteError(err, cap,
               "option '" + o.key + "=" + o.value + "': expected 0 or 1");
    return false;
  }
  return true;
}

// Copies `text` into a caller buffer; returns the length it wanted.
inline size_t WriteText(const std::string& text, char* buf, size_t cap) {
  if (buf != nullptr && cap > 0) std::snprintf(buf, cap, "%s", text.c_str());
  return text.size();
}

}  // namespace mpio_plugin_options

#endif  // MPIO_PLUGINS_COMMON_PLUGIN_OPTIONS_H_
