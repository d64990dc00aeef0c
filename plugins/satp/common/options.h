// plugins/common/plugin_options.h for SATP code, under the name
// mpio_satp::opts.
//
#ifndef MPIO_PLUGINS_SATP_COMMON_OPTIONS_H_
#define MPIO_PLUGINS_SATP_COMMON_OPTIONS_H_

#include "engine/include/mpio/plugin.h"
#include "plugins/common/plugin_options.h"

namespace mpio_satp {
namespace opts = ::mpio_plugin_options;
}  // namespace mpio_satp

#endif  // MPIO_PLUGINS_SATP_COMMON_OPTIONS_H_
