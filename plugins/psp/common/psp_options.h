// Option parsing for the PSPs: a thin bridge to
// plugins/common/plugin_options.h.
//
// PSP sources call these instead of the header's templates so the parsing
// code is compiled once, into mpio_psp_common.
//
// Same semantics as plugin_options.h: "k=v;k=v" (',' too), keys lower-cased,
// blanks trimmed, unknown/repeated keys refused; on failure a one-line
// reason in `err` (NUL-terminated when cap > 0). May allocate and may throw
// std::bad_alloc: call from create()/describe() only, never from select().
#ifndef MPIO_PLUGINS_PSP_COMMON_PSP_OPTIONS_H_
#define MPIO_PLUGINS_PSP_COMMON_PSP_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace mpio_psp {

struct OptionKv {
  std::string key;  // lower case
  std::string value;
};

// Splits `text` into options whose keys are all in `valid_keys` (lower case).
bool ParseOptions(const char* text,
                  std::initializer_list<std::string_view> valid_keys,
                  std::vector<OptionKv>* out, char* err, size_t cap);
// A whole number in [min, max].
bool ParseUint(const OptionKv& o, uint64_t min, uint64_t max, uint64_t* value,
               char* err, size_t cap);
// 0/1/true/false/yes/no/on/off.
bool ParseBool(const OptionKv& o, bool* value, char* err, size_t cap);
// Writes a one-line reason into err.
void WriteError(char* err, size_t cap, const std::string& text);
// Copies text into a caller buffer; returns the length it wanted.
size_t WriteText(const std::string& text, char* buf, size_t cap);

}  // namespace mpio_psp

#endif  // MPIO_PLUGINS_PSP_COMMON_PSP_OPTIONS_H_
