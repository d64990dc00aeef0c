// Round-robin order over engine path indices, without sorting.
//
// PSPs need "the next path after the one I used last", where the path array
// is in any order and indices may have gaps. CyclicDistance() gives each
// index its distance from the slot after `last` going upwards and wrapping
// around; the smallest distance is the next path. One pass, no allocation.
//
// Header-only, pure; safe on the select() hot path.
#ifndef MPIO_PLUGINS_PSP_COMMON_PATH_ORDER_H_
#define MPIO_PLUGINS_PSP_COMMON_PATH_ORDER_H_

#include <cstdint>

namespace mpio_psp {

// last < 0 means "nothing chosen yet": index 0 comes first. Unsigned
// wrap-around makes indices at or below `last` sort after all indices above
// it, and `last` itself comes very last (distance 2^32 - 1).
inline uint32_t CyclicDistance(uint32_t index, int64_t last) {
  uint32_t start = last < 0 ? 0u : static_cast<uint32_t>(last) + 1u;
  return index - start;
}

}  // namespace mpio_psp

#endif  // MPIO_PLUGINS_PSP_COMMON_PATH_ORDER_H_
