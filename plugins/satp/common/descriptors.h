// The SATP descriptors built into this tree, reachable without dlopen.
//
// Each plugin's .so exports them through its one `mpio_plugin_entry`
// (default_aa_entry.cc, alua_entry.cc); the fuzzer links the same code
// statically and calls these. The returned structs are static and const.
#ifndef MPIO_PLUGINS_SATP_COMMON_DESCRIPTORS_H_
#define MPIO_PLUGINS_SATP_COMMON_DESCRIPTORS_H_

#include "engine/include/mpio/plugin.h"

namespace mpio_satp {

const mpio_plugin* DefaultAaDescriptor();
const mpio_plugin* AluaDescriptor();

}  // namespace mpio_satp

#endif  // MPIO_PLUGINS_SATP_COMMON_DESCRIPTORS_H_
