/* satp_skeleton: a minimal storage array type plugin (SATP) for mpio, in C,
 * to copy when writing one for your array out of tree. See README.md.
 *
 * It claims LUNs whose INQUIRY vendor is SKELETON_VENDOR, treats all paths
 * as equal (no probe), and classifies errors with a tiny table. Per-device
 * state lives in the instance from create(); nothing global is mutable.
 * Callbacks run on the device's reactor thread: never block or do I/O. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpio/plugin.h"

#ifndef SKELETON_VENDOR
#define SKELETON_VENDOR "ACME"
#endif

struct skeleton {
  unsigned retries;
};

static void* skeleton_create(const char* options, char* err, size_t cap) {
  struct skeleton* s;
  unsigned retries = 5;
  if (options != NULL && *options != '\0' &&
      sscanf(options, "retries=%u", &retries) != 1) {
    if (cap > 0)
      snprintf(err, cap, "bad options '%s'; valid keys: retries", options);
    return NULL;
  }
  s = calloc(1, sizeof(*s));
  if (s == NULL) {
    if (cap > 0) snprintf(err, cap, "out of memory");
    return NULL;
  }
  s->retries = retries;
  return s;
}

static void skeleton_destroy(void* instance) { free(instance); }

static size_t skeleton_describe(void* instance, char* buf, size_t cap) {
  const struct skeleton* s = instance;
  int n = snprintf(buf, cap, "{retries=%u}", s->retries);
  return n < 0 ? 0 : (size_t)n;
}

static int skeleton_claim(const struct mpio_lun_info* lun, char* why,
                          size_t cap) {
  if (lun != NULL && strcmp(lun->vendor, SKELETON_VENDOR) == 0) return 1;
  if (cap > 0) snprintf(why, cap, "vendor is not %s", SKELETON_VENDOR);
  return 0;
}

static int skeleton_probe_command(void* instance, struct mpio_scsi_cdb* out) {
  (void)instance;
  (void)out;
  return 0; /* all paths active: nothing to probe */
}

static void verdict(struct mpio_sense_verdict* out, int action, uint32_t delay,
                    uint32_t retries, int err, const char* reason) {
  memset(out, 0, sizeof(*out));
  out->action = action;
  out->delay_ms = delay;
  out->max_retries = retries;
  out->errno_value = err;
  snprintf(out->reason, sizeof(out->reason), "%s", reason);
}

static void skeleton_classify(void* instance, int status, const uint8_t* sense,
                              size_t len, const uint8_t* cdb, size_t cdb_len,
                              struct mpio_sense_verdict* out) {
  const struct skeleton* s = instance;
  int key = -1;
  (void)cdb;
  (void)cdb_len;
  if (status == 0x08 || status == 0x28) { /* BUSY, TASK SET FULL */
    verdict(out, MPIO_ACTION_RETRY_DELAY, 100, s->retries, EIO, "busy");
    return;
  }
  /* Sense key: fixed format byte 2, descriptor format byte 1. */
  if (sense != NULL && len >= 3 && (sense[0] & 0x7E) == 0x70)
    key = sense[2] & 0xF;
  if (sense != NULL && len >= 2 && (sense[0] & 0x7E) == 0x72)
    key = sense[1] & 0xF;
  switch (key) {
    case 0x2:
      verdict(out, MPIO_ACTION_RETRY_DELAY, 1000, s->retries, EIO, "NOT READY");
      return;
    case 0x6:
      verdict(out, MPIO_ACTION_RETRY_SAME, 0, s->retries, EIO,
              "UNIT ATTENTION");
      return;
    case 0xB:
      verdict(out, MPIO_ACTION_FAIL_PATH, 0, 0, 0, "ABORTED COMMAND");
      return;
    default:
      verdict(out, MPIO_ACTION_FAIL_IO, 0, 0, EIO, "error");
      return;
  }
}

static const char* const skeleton_aliases[] = {"EXAMPLE_SATP_SKELETON", NULL};

static const struct mpio_plugin skeleton_plugin = {
    .abi_version = MPIO_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(struct mpio_plugin),
    .kind = MPIO_PLUGIN_SATP,
    .name = "skeleton",
    .aliases = skeleton_aliases,
    .summary =
        "Example SATP: claims vendor " SKELETON_VENDOR ", all paths equal",
    .options_help = "retries=N",
    .create = skeleton_create,
    .destroy = skeleton_destroy,
    .describe = skeleton_describe,
    .claim = skeleton_claim,
    .probe_command = skeleton_probe_command,
    .classify = skeleton_classify,
};

MPIO_PLUGIN_EXPORT const struct mpio_plugin* mpio_plugin_entry(void) {
  return &skeleton_plugin;
}
