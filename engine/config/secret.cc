#include "engine/config/secret.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "engine/config/small_file.h"

namespace mpio {
namespace {

// Far above any real CHAP secret (RFC 7143 practice: up to 255 bytes); a
// bigger file is the wrong file.
constexpr size_t kMaxSecretFileBytes = 4096;

}  // namespace

absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  absl::StatusOr<std::string> read = config_internal::ReadSmallFile(
      path, kMaxSecretFileBytes, "secret file", /*regular_only=*/true);
  if (!read.ok()) return read.status();
  std::string content = std::move(*read);
  while (!content.empty() &&
         (content.back() == '\n' || content.back() == '\r')) {
    content.pop_back();
  }
  if (content.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("secret file ", path, " is empty"));
  }
  if (content.find_first_of("\r\n") != std::string::npos) {
    std::fill(content.begin(), content.end(), '\0');
    return absl::InvalidArgumentError(absl::StrCat(
        "secret file ", path,
        " has more than one line: it should hold only the secret"));
  }
  return content;
}

absl::StatusOr<std::string> ReadSecretEnv(const std::string& name) {
  bool valid = !name.empty() &&
               !absl::ascii_isdigit(static_cast<unsigned char>(name[0]));
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') {
      valid = false;
    }
  }
  if (!valid) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", name,
        "\" is not an environment variable name (letters, digits, '_')"));
  }
  const char* value = getenv(name.c_str());
  if (value == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("environment variable ", name, " is not set"));
  }
  if (*value == '\0') {
    return absl::InvalidArgumentError(
        absl::StrCat("environment variable ", name, " is empty"));
  }
  return std::string(value);
}

}  // namespace mpio
