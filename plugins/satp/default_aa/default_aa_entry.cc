// The one exported symbol of satp_default_aa.so.
#include "engine/include/mpio/plugin.h"
#include "plugins/satp/common/descriptors.h"

extern "C" MPIO_PLUGIN_EXPORT const struct mpio_plugin* mpio_plugin_entry(
    void) {
  return mpio_satp::DefaultAaDescriptor();
}
