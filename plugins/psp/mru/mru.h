// psp "mru" (alias VMW_PSP_MRU): most recently used path, no failback.
//
// No options. I/O stays on the current path while it may carry I/O (usable
// and in the best ALUA tier present); when it may not, the next path by
// index (wrapping) that may becomes current, optimized paths first. A path
// that comes back never takes I/O away from the current one. (If the
// current path turns active/non-optimized while an optimized path is usable,
// MRU moves to the optimized one: that follows the array, it is not a
// failback.)
//
// Thread rules, ownership and failure: those of engine/include/mpio/plugin.h.
#ifndef MPIO_PLUGINS_PSP_MRU_MRU_H_
#define MPIO_PLUGINS_PSP_MRU_MRU_H_

#include "mpio/plugin.h"

namespace mpio_psp {

// The static descriptor of the mru PSP.
const mpio_plugin* MruPlugin();

}  // namespace mpio_psp

#endif  // MPIO_PLUGINS_PSP_MRU_MRU_H_
