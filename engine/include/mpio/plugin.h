/* mpio plugin ABI: path selection plugins (PSP) and storage array type
 * plugins (SATP) as shared objects.
 *
 * A plugin is a MODULE library that exports exactly one symbol,
 * `mpio_plugin_entry`, returning a pointer to a const `struct mpio_plugin`.
 * The struct only ever grows at its end and records its own size in
 * `struct_size`: the loader copies min(struct_size, sizeof(host struct)) into a
 * zeroed struct, so a plugin built against an older header keeps working on a
 * newer engine (missing callbacks read as NULL). `abi_version` changes only
 * when an existing field changes meaning; the loader refuses a mismatch and
 * names the file and both versions.
 *
 * Rules, for every callback:
 *  - Threads: the engine calls an instance only from the reactor thread that
 *    owns its device, never concurrently. Plugins need no locks and must not
 *    start threads, block, sleep or do I/O. The engine sends every SCSI
 *    command; an SATP only builds CDBs and parses replies.
 *  - Ownership: every pointer the engine passes in is owned by the engine and
 *    valid only during the call; copy what you keep. Strings returned in
 *    descriptor fields are static. Text is written into caller buffers
 *    (`buf`, `cap`) and always NUL-terminated when cap > 0.
 *  - Errors: no C++ exception may leave a callback. create() reports bad
 *    options by returning NULL and writing a one-line reason into `err`
 *    that lists the valid keys.
 *  - State: per-device state lives in the instance returned by create();
 *    no global mutable state.
 *  - Time: `now_ns` is the engine's monotonic clock in nanoseconds; plugins
 *    never read a clock themselves (so tests can drive them with a fake one).
 */
#ifndef MPIO_PLUGIN_H_
#define MPIO_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MPIO_PLUGIN_ABI_VERSION 1u
#define MPIO_PLUGIN_ENTRY_SYMBOL "mpio_plugin_entry"

enum mpio_plugin_kind {
  MPIO_PLUGIN_PSP = 1,
  MPIO_PLUGIN_SATP = 2,
};

/* ALUA asymmetric access state of a path's target port group (SPC-4
 * 6.37). MPIO_ALUA_NONE: the array is not ALUA (all paths equal). */
enum mpio_alua_state {
  MPIO_ALUA_ACTIVE_OPTIMIZED = 0x0,
  MPIO_ALUA_ACTIVE_NON_OPTIMIZED = 0x1,
  MPIO_ALUA_STANDBY = 0x2,
  MPIO_ALUA_UNAVAILABLE = 0x3,
  MPIO_ALUA_LBA_DEPENDENT = 0x4,
  MPIO_ALUA_OFFLINE = 0xE,
  MPIO_ALUA_TRANSITIONING = 0xF,
  MPIO_ALUA_NONE = 0x100,
};

/* ------------------------------------------------------------------ PSP */

/* What a PSP sees of one path. `index` is the engine's stable id of the path
 * within its device; select() returns it. The array passed to select() and
 * paths_changed() holds every path of the device, usable or not. */
struct mpio_psp_path {
  uint32_t index;
  const char* name;      /* e.g. "198.18.0.2:3261/iqn.../lun0" */
  int usable;            /* 1: may carry I/O now (state active) */
  int alua_state;        /* enum mpio_alua_state */
  int preferred;         /* 1: the operator or array prefers it */
  uint64_t inflight_ios; /* I/Os issued, not yet completed */
  uint64_t inflight_bytes;
};

#define MPIO_IO_READ 0x1u
#define MPIO_IO_WRITE 0x2u
#define MPIO_IO_OTHER 0x4u /* flush, unmap, write same */

struct mpio_io_info {
  uint32_t flags; /* MPIO_IO_* */
  uint64_t lba;
  uint64_t bytes;
  uint64_t now_ns;
};

/* Completion status passed to on_complete(). */
enum mpio_io_result {
  MPIO_IO_OK = 0,
  MPIO_IO_FAILED = 1,      /* the device returned an error */
  MPIO_IO_PATH_FAILED = 2, /* transport error or timeout on this path */
};

/* ----------------------------------------------------------------- SATP */

/* Identity and capability data of a LUN as seen over one path. */
struct mpio_lun_info {
  char vendor[9]; /* INQUIRY T10 vendor, trailing blanks removed */
  char product[17];
  char revision[5];
  int tpgs;               /* INQUIRY byte 5 bits 5:4: 0 none, 1 implicit,
                             2 explicit, 3 both */
  const uint8_t* inquiry; /* standard INQUIRY data */
  size_t inquiry_len;
  const uint8_t* vpd83; /* VPD page 0x83 (device identification), whole */
  size_t vpd83_len;
  const char* transport; /* "iscsi" */
};

/* What the engine knows about a path when it asks an SATP about it.
 * target_port_group / relative_port_id come from the path's VPD 0x83
 * (association 1 designators); -1 where the target does not report them. */
struct mpio_satp_path {
  uint32_t index;
  const char* name;
  int32_t target_port_group;
  int32_t relative_port_id;
};

/* An SATP's verdict on one path after a probe. */
struct mpio_satp_path_state {
  int alua_state; /* enum mpio_alua_state */
  int32_t target_port_group;
  int preferred;    /* PREF bit of the port group */
  char reason[128]; /* human text, e.g. "TPG 1 active/optimized" */
};

/* What to do with a command that ended with a non-GOOD SCSI status. */
enum mpio_sense_action {
  MPIO_ACTION_RETRY_SAME = 1, /* retry on the same path (e.g. UA reset) */
  MPIO_ACTION_FAIL_PATH = 2,  /* path-level error: fail path, retry elsewhere */
  MPIO_ACTION_FAIL_IO = 3,    /* medium/request error: return to caller */
  MPIO_ACTION_RETRY_DELAY = 4, /* busy/transitioning: retry after delay_ms */
  MPIO_ACTION_REPROBE = 5,     /* ALUA state or inquiry data changed: re-probe
                                  the paths, then retry */
  MPIO_ACTION_DEVICE_LOST = 6, /* permanent device loss: fail at once */
};

struct mpio_sense_verdict {
  int action;           /* enum mpio_sense_action */
  uint32_t delay_ms;    /* for RETRY_DELAY */
  uint32_t max_retries; /* retries of this class before FAIL_IO */
  int errno_value;      /* errno for FAIL_IO / DEVICE_LOST (EIO, ENOSPC...) */
  char reason[128];     /* e.g. "NOT READY/LUN becoming ready (04/01)" */
};

/* A SCSI command an SATP wants the engine to send. */
struct mpio_scsi_cdb {
  uint8_t cdb[16];
  size_t cdb_len;
  int data_direction;    /* 0 none, 1 from target (read), 2 to target (write) */
  uint32_t transfer_len; /* allocation length (read) or data length (write) */
  uint8_t data[256];     /* parameter data for writes (e.g. STPG) */
};

/* ------------------------------------------------------------ the plugin */

struct mpio_plugin {
  uint32_t abi_version;       /* MPIO_PLUGIN_ABI_VERSION */
  uint32_t struct_size;       /* sizeof(struct mpio_plugin) the plugin was built
                                 with */
  uint32_t kind;              /* enum mpio_plugin_kind */
  const char* name;           /* short name, e.g. "rr" */
  const char* const* aliases; /* NULL-terminated, e.g. {"VMW_PSP_RR", NULL} */
  const char* summary;        /* one line for `mpio plugin list` */
  const char* options_help;   /* "policy=iops|bytes|latency; iops=N ..." */

  /* Per-device instance from an options string ("k=v;k=v", ESXi's words,
   * ',' also accepted as separator). NULL + err on bad options. */
  void* (*create)(const char* options, char* err, size_t err_cap);
  void (*destroy)(void* instance);
  /* Current configuration as text, like esxcli's "Path Selection Policy
   * Device Config" (e.g. "{policy=iops,iops=1000,curpath=...}"). Returns the
   * length it wanted to write. */
  size_t (*describe)(void* instance, char* buf, size_t cap);

  /* ---- PSP callbacks (kind == MPIO_PLUGIN_PSP) ---- */

  /* The path for this I/O: a `index` of one usable entry, or -1 when none
   * is usable. Called for every I/O: must be O(paths) at most, no
   * allocation. */
  int64_t (*select)(void* instance, const struct mpio_psp_path* paths, size_t n,
                    const struct mpio_io_info* io);
  /* Every I/O that select() routed comes back here exactly once. */
  void (*on_complete)(void* instance, uint32_t path_index, uint64_t bytes,
                      uint64_t latency_ns, int result, uint64_t now_ns);
  /* A path was added, removed, or changed state/ALUA state/preference. */
  void (*paths_changed)(void* instance, const struct mpio_psp_path* paths,
                        size_t n, uint64_t now_ns);

  /* ---- SATP callbacks (kind == MPIO_PLUGIN_SATP) ---- */

  /* Can this SATP drive the LUN? 1 yes; 0 no with the reason in `why`.
   * Called without an instance, before create(). */
  int (*claim)(const struct mpio_lun_info* lun, char* why, size_t why_cap);
  /* The probe command to send on each path (e.g. REPORT TARGET PORT
   * GROUPS). Returns 0 when the SATP needs no probe (all paths active). */
  int (*probe_command)(void* instance, struct mpio_scsi_cdb* out);
  /* The probe's result on one path: fill `out`. scsi_status is the SCSI
   * status byte (0 GOOD); data is the Data-In, sense the sense bytes. Returns
   * 0 when understood, -1 when the reply is malformed (reason in out). */
  int (*probe_result)(void* instance, const struct mpio_satp_path* path,
                      int scsi_status, const uint8_t* data, size_t data_len,
                      const uint8_t* sense, size_t sense_len,
                      struct mpio_satp_path_state* out);
  /* Classify a command that ended with a non-GOOD status. sense may be
   * empty (BUSY, TASK SET FULL, RESERVATION CONFLICT have none). */
  void (*classify)(void* instance, int scsi_status, const uint8_t* sense,
                   size_t sense_len, const uint8_t* cdb, size_t cdb_len,
                   struct mpio_sense_verdict* out);
  /* Explicit ALUA: the command that makes `target_port_group` active
   * (SET TARGET PORT GROUPS). Returns 0 when activation is not supported
   * or not needed. */
  int (*activate_command)(void* instance, int32_t target_port_group,
                          struct mpio_scsi_cdb* out);
};

/* The one symbol a plugin exports. */
typedef const struct mpio_plugin* (*mpio_plugin_entry_fn)(void);

#if defined(__GNUC__)
#define MPIO_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define MPIO_PLUGIN_EXPORT
#endif

#ifdef __cplusplus
}
#endif

#endif /* MPIO_PLUGIN_H_ */
