// psp "lqd": least queue depth, like dm-multipath's queue-length selector.
//
// No options. Each I/O goes to the path (among those that may carry I/O:
// usable, best ALUA tier present) with the fewest I/Os in flight; among
// equally loaded paths the next index after the last one chosen wins, so
// idle equal paths alternate instead of one of them taking everything.
//
// Thread rules, ownership and failure: those of engine/include/mpio/plugin.h.
#ifndef MPIO_PLUGINS_PSP_LQD_LQD_H_
#define MPIO_PLUGINS_PSP_LQD_LQD_H_

#include "mpio/plugin.h"

namespace mpio_psp {

// The static descriptor of the lqd PSP.
const mpio_plugin* LqdPlugin();

}  // namespace mpio_psp

#endif  // MPIO_PLUGINS_PSP_LQD_LQD_H_
