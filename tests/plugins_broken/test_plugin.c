/* Tiny mpio plugins for the loader tests (engine/claim/plugin_registry_test):
 * two good ones and one per way a plugin can be broken. One source, one
 * MODULE per variant, chosen by -DVARIANT_<NAME> (see CMakeLists.txt). They
 * are built into their own folder, never the engine's plugin folder, so
 * nothing loads them by default. No state, no threads. */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mpio/plugin.h"

static void* Create(const char* options, char* err, size_t err_cap) {
#if defined(VARIANT_CRASH_CREATE)
  /* A null write the compiler cannot drop: the trial run must see SIGSEGV. */
  volatile int* volatile nowhere = NULL;
  *nowhere = 1;
#elif defined(VARIANT_HANG_CREATE)
  for (;;) pause();
#endif
#if defined(VARIANT_REJECT_OPTIONS)
  /* Defaults are fine; any option is refused, with the valid keys. */
  if (options != NULL && *options != '\0') {
    if (err_cap > 0)
      snprintf(err, err_cap, "unknown option '%s': this plugin takes none",
               options);
    return NULL;
  }
#else
  (void)options;
  (void)err;
  (void)err_cap;
#endif
  static int instance;
  return &instance;
}

static void Destroy(void* instance) { (void)instance; }

static int64_t Select(void* instance, const struct mpio_psp_path* paths,
                      size_t n, const struct mpio_io_info* io) {
  (void)instance;
  (void)io;
  for (size_t i = 0; i < n; i++) {
    if (paths[i].usable) return paths[i].index;
  }
  return -1;
}

static int Claim(const struct mpio_lun_info* lun, char* why, size_t why_cap) {
  (void)lun;
  if (why_cap > 0) why[0] = '\0';
  return 1;
}

static void Classify(void* instance, int scsi_status, const uint8_t* sense,
                     size_t sense_len, const uint8_t* cdb, size_t cdb_len,
                     struct mpio_sense_verdict* out) {
  (void)instance;
  (void)scsi_status;
  (void)sense;
  (void)sense_len;
  (void)cdb;
  (void)cdb_len;
  memset(out, 0, sizeof(*out));
  out->action = MPIO_ACTION_FAIL_IO;
}

#if defined(VARIANT_GOOD_SATP)
#define KIND MPIO_PLUGIN_SATP
#else
#define KIND MPIO_PLUGIN_PSP
#endif

#ifndef PLUGIN_NAME
#error "PLUGIN_NAME must be defined"
#endif

static const struct mpio_plugin kPlugin = {
#if defined(VARIANT_WRONG_ABI)
    .abi_version = MPIO_PLUGIN_ABI_VERSION + 41,
#else
    .abi_version = MPIO_PLUGIN_ABI_VERSION,
#endif
#if defined(VARIANT_SMALL_STRUCT)
    .struct_size = 16,
#else
    .struct_size = sizeof(struct mpio_plugin),
#endif
    .kind = KIND,
    .name = PLUGIN_NAME,
    .summary = "loader test plugin",
    .options_help = "none",
    .create = Create,
    .destroy = Destroy,
#if !defined(VARIANT_NO_SELECT) && !defined(VARIANT_GOOD_SATP)
    .select = Select,
#endif
#if defined(VARIANT_GOOD_SATP)
    .claim = Claim,
    .classify = Classify,
#endif
};

#if defined(VARIANT_NO_ENTRY)
/* Exports something, just not the entry point. */
MPIO_PLUGIN_EXPORT const struct mpio_plugin* mpio_plugin_entry_v0(void) {
  return &kPlugin;
}
#else
MPIO_PLUGIN_EXPORT const struct mpio_plugin* mpio_plugin_entry(void) {
#if defined(VARIANT_NULL_ENTRY)
  return NULL;
#else
  return &kPlugin;
#endif
}
#endif

/* Keep the unused callbacks referenced in every variant (-Werror). */
MPIO_PLUGIN_EXPORT const void* mpio_test_plugin_unused[] = {
    (const void*)&kPlugin, (void*)Select, (void*)Claim, (void*)Classify};
