// psp "st": service time, like dm-multipath's service-time selector.
//
// No options. Each I/O goes to the path (among those that may carry I/O:
// usable, best ALUA tier present) where it would finish first:
//   (inflight_bytes + this I/O's bytes) / throughput
// with each path's throughput measured from its completions (bytes per
// second, exponentially weighted). A path without a measurement yet counts
// as fast as the best measured one, so new and recovered paths get tried.
// Equal estimates prefer the faster path, then go round robin.
//
// Thread rules, ownership and failure: those of engine/include/mpio/plugin.h.
#ifndef MPIO_PLUGINS_PSP_ST_ST_H_
#define MPIO_PLUGINS_PSP_ST_ST_H_

#include "mpio/plugin.h"

namespace mpio_psp {

// The static descriptor of the st PSP.
const mpio_plugin* StPlugin();

}  // namespace mpio_psp

#endif  // MPIO_PLUGINS_PSP_ST_ST_H_
