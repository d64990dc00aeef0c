// psp "rr" (alias VMW_PSP_RR): round robin, with ESXi's policies.
//
// Options (ESXi's words, "k=v;k=v"):
//   policy=iops|bytes|latency  (default iops)
//   iops=N     switch to the next path after N I/Os (1..1000000, default 1000)
//   bytes=N    switch after N bytes (1..2^40, default 10485760)
//   useANO=0|1 also use active/non-optimized paths while optimized ones are
//              usable (default 0: non-optimized only when no optimized path)
//   latencyEvalTime=ms  how often the latency policy re-measures (default
//              180000, 1..86400000)
//   samplingCycles=N    I/Os each path completes per measurement (default
//              16, 1..100000)
// The latency policy is ESXi's: sample every path round robin until each
// has completed samplingCycles I/Os, then send each I/O to the path with the
// smallest expected completion time, (outstanding I/Os + 1) * average
// latency; re-sample every latencyEvalTime and whenever the paths change.
//
// Thread rules, ownership and failure: those of engine/include/mpio/plugin.h.
#ifndef MPIO_PLUGINS_PSP_RR_RR_H_
#define MPIO_PLUGINS_PSP_RR_RR_H_

#include "mpio/plugin.h"

namespace mpio_psp {

// The static descriptor of the rr PSP.
const mpio_plugin* RrPlugin();

}  // namespace mpio_psp

#endif  // MPIO_PLUGINS_PSP_RR_RR_H_
