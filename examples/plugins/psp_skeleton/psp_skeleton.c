/* psp_skeleton: a complete, minimal path selection plugin (PSP) in C, to
 * copy when writing your own out of tree. It sends I/O round robin, one I/O
 * per path, over the usable paths of the best ALUA tier present.
 *
 * Build: see README.md. The only interface is engine/include/mpio/plugin.h;
 * read its rules (one reactor thread per instance, no blocking, no
 * allocation in select(), copy what you keep, NUL-terminate text). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpio/plugin.h"

/* Per-device state: everything lives here, nothing in globals. */
struct skeleton {
  int64_t last; /* index of the path used last, -1 before the first I/O */
  uint64_t ios; /* I/Os routed, for describe() */
};

static void* skeleton_create(const char* options, char* err, size_t cap) {
  /* This PSP has no options: refuse anything but blanks and separators,
   * and say which keys are valid (none). */
  for (const char* c = options ? options : ""; *c; ++c) {
    if (*c != ' ' && *c != ';' && *c != ',') {
      if (cap > 0)
        snprintf(err, cap, "skeleton takes no options; valid keys: (none)");
      return NULL;
    }
  }
  struct skeleton* s = calloc(1, sizeof(*s));
  if (s == NULL) {
    if (cap > 0) snprintf(err, cap, "out of memory");
    return NULL;
  }
  s->last = -1;
  return s;
}

static void skeleton_destroy(void* instance) { free(instance); }

static size_t skeleton_describe(void* instance, char* buf, size_t cap) {
  const struct skeleton* s = instance;
  int n = snprintf(buf, cap, "{lastPathIndex=%lld, ios=%llu}",
                   (long long)s->last, (unsigned long long)s->ios);
  return n < 0 ? 0 : (size_t)n;
}

/* 0: optimized (or no ALUA), 1: non-optimized, 2: must not carry I/O. */
static int tier(const struct mpio_psp_path* p) {
  if (p->usable != 1) return 2;
  if (p->alua_state == MPIO_ALUA_ACTIVE_OPTIMIZED ||
      p->alua_state == MPIO_ALUA_NONE)
    return 0;
  if (p->alua_state == MPIO_ALUA_ACTIVE_NON_OPTIMIZED) return 1;
  return 2; /* standby, unavailable, offline, transitioning */
}

static int64_t skeleton_select(void* instance,
                               const struct mpio_psp_path* paths, size_t n,
                               const struct mpio_io_info* io) {
  struct skeleton* s = instance;
  (void)io;
  int best_tier = 2;
  for (size_t i = 0; i < n; ++i) {
    int t = tier(&paths[i]);
    if (t < best_tier) best_tier = t;
  }
  if (best_tier == 2) return -1; /* nothing usable: the engine queues I/O */
  /* The next index after the last one, wrapping: unsigned distance from
   * last+1 makes indices at or below `last` sort after the others. */
  uint32_t start = s->last < 0 ? 0u : (uint32_t)s->last + 1u;
  const struct mpio_psp_path* chosen = NULL;
  for (size_t i = 0; i < n; ++i) {
    if (tier(&paths[i]) != best_tier) continue;
    if (chosen == NULL ||
        (uint32_t)(paths[i].index - start) < (uint32_t)(chosen->index - start))
      chosen = &paths[i];
  }
  s->last = chosen->index;
  s->ios++;
  return chosen->index;
}

static void skeleton_on_complete(void* instance, uint32_t path_index,
                                 uint64_t bytes, uint64_t latency_ns,
                                 int result, uint64_t now_ns) {
  /* A smarter PSP would learn from latency_ns and bytes here. */
  (void)instance, (void)path_index, (void)bytes, (void)latency_ns;
  (void)result, (void)now_ns;
}

static void skeleton_paths_changed(void* instance,
                                   const struct mpio_psp_path* paths, size_t n,
                                   uint64_t now_ns) {
  (void)instance, (void)paths, (void)n, (void)now_ns;
}

static const char* const skeleton_aliases[] = {"EXAMPLE_PSP_SKELETON", NULL};

static const struct mpio_plugin skeleton_plugin = {
    .abi_version = MPIO_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(struct mpio_plugin),
    .kind = MPIO_PLUGIN_PSP,
    .name = "skeleton",
    .aliases = skeleton_aliases,
    .summary = "Example: round robin, one I/O per path",
    .options_help = "(no options)",
    .create = skeleton_create,
    .destroy = skeleton_destroy,
    .describe = skeleton_describe,
    .select = skeleton_select,
    .on_complete = skeleton_on_complete,
    .paths_changed = skeleton_paths_changed,
};

MPIO_PLUGIN_EXPORT const struct mpio_plugin* mpio_plugin_entry(void) {
  return &skeleton_plugin;
}
