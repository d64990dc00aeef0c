/*
 * lab_probe: send one raw SCSI CDB to an iSCSI LUN and print the result.
 *
 * Used by tests/lab/lab.sh (self-test, `lab.sh probe`) to measure what the
 * lab targets really answer (standard INQUIRY TPGS bits, VPD 0x83 bytes,
 * REPORT TARGET PORT GROUPS, PERSISTENT RESERVE IN) without a kernel
 * initiator. It is a test tool, not part of mpio; it uses libiscsi's
 * synchronous API on purpose (one command, then exit).
 *
 * Usage: lab_probe [-T SECONDS] [-i INITIATOR_IQN] URL COMMAND [+ COMMAND]...
 *   COMMAND is CDB_HEX [ALLOC_LEN]   (data-in of up to ALLOC_LEN bytes)
 *           or CDB_HEX -w DATA_HEX   (data-out)
 *   URL is iscsi://IP:PORT/IQN/LUN. All commands go over one session (one
 *   I_T nexus), in order, which is what persistent reservations need.
 * Output (stdout, per command, one item per line):
 *   status=0xNN
 *   sense=KEY/ASC/ASCQ            (only on CHECK CONDITION)
 *   data=HEX                      (data-in, possibly empty)
 * Exit: 0 all GOOD, 2 some other SCSI status, 1 transport/usage error (the
 * remaining commands are not sent). Every error leaves nothing behind: the
 * session is logged out and the context freed.
 */
#include <ctype.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int ParseHex(const char* text, unsigned char* out, size_t cap,
                    size_t* len) {
  size_t n = 0;
  int high = -1;
  for (const char* p = text; *p != '\0'; ++p) {
    if (isspace((unsigned char)*p) || *p == ':' || *p == '-') continue;
    if (!isxdigit((unsigned char)*p)) return -1;
    int v = isdigit((unsigned char)*p) ? *p - '0'
                                       : tolower((unsigned char)*p) - 'a' + 10;
    if (high < 0) {
      high = v;
    } else {
      if (n >= cap) return -1;
      out[n++] = (unsigned char)(high << 4 | v);
      high = -1;
    }
  }
  if (high >= 0) return -1;
  *len = n;
  return 0;
}

static void Usage(void) {
  fprintf(stderr,
          "usage: lab_probe [-T SECONDS] [-i INITIATOR] URL CDB_HEX "
          "[ALLOC_LEN | -w DATA_HEX] [+ CDB_HEX ...]\n");
}

/* One command: argv[*pos] is the CDB; advances *pos past its arguments and
 * a following "+". Returns 0 GOOD, 2 other status, 1 error. */
static int RunOne(struct iscsi_context* ctx, int lun, int argc, char** argv,
                  int* pos) {
  static unsigned char out_data[1 << 20];
  unsigned char cdb[16];
  size_t cdb_len = 0;
  size_t out_len = 0;
  int alloc_len = 0;
  int writing = 0;
  int i = *pos;
  if (ParseHex(argv[i], cdb, sizeof(cdb), &cdb_len) != 0 ||
      (cdb_len != 6 && cdb_len != 10 && cdb_len != 12 && cdb_len != 16)) {
    fprintf(stderr, "lab_probe: CDB must be 6/10/12/16 bytes of hex: %s\n",
            argv[i]);
    return 1;
  }
  ++i;
  if (i + 1 < argc && strcmp(argv[i], "-w") == 0) {
    if (ParseHex(argv[i + 1], out_data, sizeof(out_data), &out_len) != 0) {
      fprintf(stderr, "lab_probe: bad DATA_HEX\n");
      return 1;
    }
    writing = 1;
    i += 2;
  } else if (i < argc && strcmp(argv[i], "+") != 0) {
    alloc_len = atoi(argv[i]);
    if (alloc_len < 0 || alloc_len > 1 << 20) {
      fprintf(stderr, "lab_probe: bad ALLOC_LEN\n");
      return 1;
    }
    ++i;
  }
  if (i < argc) {
    if (strcmp(argv[i], "+") != 0) {
      fprintf(stderr, "lab_probe: expected '+' before %s\n", argv[i]);
      return 1;
    }
    ++i;
  }
  *pos = i;

  struct scsi_task* task = scsi_create_task(
      (int)cdb_len, cdb,
      writing ? SCSI_XFER_WRITE
              : (alloc_len > 0 ? SCSI_XFER_READ : SCSI_XFER_NONE),
      writing ? (int)out_len : alloc_len);
  if (task == NULL) {
    fprintf(stderr, "lab_probe: scsi_create_task failed\n");
    return 1;
  }
  struct iscsi_data data_out = {.size = out_len, .data = out_data};
  int rc = 1;
  if (iscsi_scsi_command_sync(ctx, lun, task, writing ? &data_out : NULL) ==
      NULL) {
    fprintf(stderr, "lab_probe: command failed: %s\n", iscsi_get_error(ctx));
  } else {
    printf("status=0x%02x\n", task->status & 0xff);
    if (task->status == SCSI_STATUS_CHECK_CONDITION) {
      printf("sense=0x%x/0x%02x/0x%02x\n", task->sense.key,
             (task->sense.ascq >> 8) & 0xff, task->sense.ascq & 0xff);
    }
    printf("data=");
    if (task->status == SCSI_STATUS_GOOD) {
      for (int k = 0; k < task->datain.size; ++k) {
        printf("%02x", task->datain.data[k]);
      }
    }
    printf("\n");
    rc = task->status == SCSI_STATUS_GOOD ? 0 : 2;
  }
  scsi_free_scsi_task(task);
  return rc;
}

int main(int argc, char** argv) {
  int timeout_s = 10;
  const char* initiator = "iqn.2026-12.test.mpio:lab-probe";
  int opt;
  while ((opt = getopt(argc, argv, "+T:i:h")) != -1) {
    switch (opt) {
      case 'T':
        timeout_s = atoi(optarg);
        break;
      case 'i':
        initiator = optarg;
        break;
      default:
        Usage();
        return 1;
    }
  }
  if (argc - optind < 2) {
    Usage();
    return 1;
  }
  const char* url_text = argv[optind];

  struct iscsi_context* ctx = iscsi_create_context(initiator);
  if (ctx == NULL) {
    fprintf(stderr, "lab_probe: iscsi_create_context failed\n");
    return 1;
  }
  struct iscsi_url* url = iscsi_parse_full_url(ctx, url_text);
  if (url == NULL) {
    fprintf(stderr, "lab_probe: bad URL: %s\n", iscsi_get_error(ctx));
    iscsi_destroy_context(ctx);
    return 1;
  }
  iscsi_set_targetname(ctx, url->target);
  iscsi_set_session_type(ctx, ISCSI_SESSION_NORMAL);
  iscsi_set_header_digest(ctx, ISCSI_HEADER_DIGEST_NONE_CRC32C);
  iscsi_set_timeout(ctx, timeout_s);
  if (iscsi_full_connect_sync(ctx, url->portal, url->lun) != 0) {
    fprintf(stderr, "lab_probe: login failed: %s\n", iscsi_get_error(ctx));
    iscsi_destroy_url(url);
    iscsi_destroy_context(ctx);
    return 1;
  }
  int rc = 0;
  int pos = optind + 1;
  while (pos < argc) {
    int one = RunOne(ctx, url->lun, argc, argv, &pos);
    if (one == 1) {
      rc = 1;
      break;
    }
    if (one == 2) rc = 2;
  }
  fflush(stdout);
  iscsi_logout_sync(ctx);
  iscsi_destroy_url(url);
  iscsi_destroy_context(ctx);
  return rc;
}
