// psp "fixed" (alias VMW_PSP_FIXED): one preferred path, with failback.
//
// Option: preferred=<path name> (optional). The preferred path is the one
// named by the option, else the first path flagged `preferred` by the
// operator or array, else the path with the lowest index. I/O goes to the
// preferred path whenever it may carry I/O (usable, and in the best ALUA tier
// present); otherwise to the lowest-index path that may; as soon as the
// preferred path is back, I/O fails back to it.
//
// Thread rules, ownership and failure: those of engine/include/mpio/plugin.h.
#ifndef MPIO_PLUGINS_PSP_FIXED_FIXED_H_
#define MPIO_PLUGINS_PSP_FIXED_FIXED_H_

#include "mpio/plugin.h"

namespace mpio_psp {

// The static descriptor of the fixed PSP.
const mpio_plugin* FixedPlugin();

}  // namespace mpio_psp

#endif  // MPIO_PLUGINS_PSP_FIXED_FIXED_H_
