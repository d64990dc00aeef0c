// Readers for the control socket's JSON answers that never throw and never
// insert, whatever the daemon sent: a missing or mistyped field reads as
// empty/zero/false. Shared by the admin verbs and `mpio check`.
// Threads: any (pure functions over the caller's value).
#ifndef MPIO_MPIO_JSON_FIELDS_H_
#define MPIO_MPIO_JSON_FIELDS_H_

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace mpio::cli {

// A string field as text; other types as their JSON text.
inline std::string Str(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

// A non-negative count; negative or float values are clamped/truncated.
inline uint64_t Num(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  if (it == j.end()) return 0;
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (it->is_number_integer())
    return static_cast<uint64_t>(std::max<int64_t>(0, it->get<int64_t>()));
  if (it->is_number_float())
    return static_cast<uint64_t>(std::max(0.0, it->get<double>()));
  return 0;
}

inline int64_t Int(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<int64_t>() : 0;
}

inline double Float(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}

inline bool Bool(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return false;
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

// The member `key` of `j`, or null.
inline const nlohmann::json& Field(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

// `j` itself when it is an array, else an empty array.
inline const nlohmann::json& Array(const nlohmann::json& j) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  return j.is_array() ? j : kEmpty;
}

}  // namespace mpio::cli

#endif  // MPIO_MPIO_JSON_FIELDS_H_
