// The one exported symbol of psp_st.so. Kept apart from st.cc so the
// fuzzer and tests can link the PSP itself without a second entry point.
#include "mpio/plugin.h"
#include "plugins/psp/st/st.h"

extern "C" MPIO_PLUGIN_EXPORT const struct mpio_plugin* mpio_plugin_entry(
    void) {
  return mpio_psp::StPlugin();
}
