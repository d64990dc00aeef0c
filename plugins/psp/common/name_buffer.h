// A fixed-size copy of a path name, for describe() output.
//
// The engine's path names are valid only during a call, and select() must not
// allocate, so PSPs copy the name of the path they switch to into this buffer
// (a bounded copy, only when the path changes). Names longer than the buffer
// are cut; they are for display only. Not thread-safe (instances never need
// it); no failure modes.
#ifndef MPIO_PLUGINS_PSP_COMMON_NAME_BUFFER_H_
#define MPIO_PLUGINS_PSP_COMMON_NAME_BUFFER_H_

#include <cstddef>
#include <cstring>

namespace mpio_psp {

class NameBuffer {
 public:
  void Set(const char* name) {
    if (name == nullptr) name = "";
    size_t len = std::strlen(name);
    if (len >= sizeof(text_)) len = sizeof(text_) - 1;
    std::memcpy(text_, name, len);
    text_[len] = '\0';
  }
  void Clear() { text_[0] = '\0'; }
  bool Empty() const { return text_[0] == '\0'; }
  const char* c_str() const { return text_; }

 private:
  char text_[256] = {};
};

}  // namespace mpio_psp

#endif  // MPIO_PLUGINS_PSP_COMMON_NAME_BUFFER_H_
