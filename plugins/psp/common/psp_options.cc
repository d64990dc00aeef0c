// Must not include mpio/plugin.h: see psp_options.h.
#include "plugins/psp/common/psp_options.h"

#include "plugins/common/plugin_options.h"

namespace mpio_psp {

bool ParseOptions(const char* text,
                  std::initializer_list<std::string_view> valid_keys,
                  std::vector<OptionKv>* out, char* err, size_t cap) {
  std::vector<mpio_plugin_options::Option> parsed;
  out->clear();
  if (!mpio_plugin_options::ParseOptions(
          text, std::vector<std::string_view>(valid_keys), &parsed, err, cap)) {
    return false;
  }
  for (auto& o : parsed) out->push_back({std::move(o.key), std::move(o.value)});
  return true;
}

bool ParseUint(const OptionKv& o, uint64_t min, uint64_t max, uint64_t* value,
               char* err, size_t cap) {
  return mpio_plugin_options::ParseUint({o.key, o.value}, min, max, value, err,
                                        cap);
}

bool ParseBool(const OptionKv& o, bool* value, char* err, size_t cap) {
  return mpio_plugin_options::ParseBool({o.key, o.value}, value, err, cap);
}

void WriteError(char* err, size_t cap, const std::string& text) {
  mpio_plugin_options::WriteError(err, cap, text);
}

size_t WriteText(const std::string& text, char* buf, size_t cap) {
  return mpio_plugin_options::WriteText(text, buf, cap);
}

}  // namespace mpio_psp
