#!/usr/bin/env bash
# `mpio serve` on a real two-path tgtd lab, driven by real clients we did not
# write: nbdinfo, nbdcopy, qemu-img, fio (nbd engine and on the FUSE file),
# losetup + mkfs.ext4 + mount + fsck, promtool and curl for /metrics, and the
# mpio CLI verbs against the control socket. Ends with SIGTERM: exit 0,
# nothing left mounted.
# Needs: MPIO_BIN, MPIO_LAB (a lab of at least 768 MiB), MPIO_PLUGIN_DIR.
set -uo pipefail
: "${MPIO_BIN:?}" "${MPIO_LAB:?}" "${MPIO_PLUGIN_DIR:?}" "${MPIO_SOURCE_DIR:?}"
lab=$MPIO_SOURCE_DIR/tests/lab/lab.sh
eval "$(bash "$lab" env --name "$MPIO_LAB")"

work=$(mktemp -d /tmp/mpio-frontends.XXXXXX)
source "$MPIO_SOURCE_DIR/tests/integration/lib.sh"

serve_pid=
loopdev=
cleanup() {
  set +e
  mountpoint -q "$work/mnt" && umount "$work/mnt"
  [ -n "$loopdev" ] && losetup -d "$loopdev" 2>/dev/null
  [ -n "${prom_pid:-}" ] && kill "$prom_pid" 2>/dev/null && wait "$prom_pid" 2>/dev/null
  if [ -n "$serve_pid" ] && kill -0 "$serve_pid" 2>/dev/null; then
    kill -TERM "$serve_pid"; wait "$serve_pid"
  fi
  mountpoint -q "$work/fuse" && fusermount3 -uz "$work/fuse"
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/fuse" "$work/mnt"
portals=()
for p in $LAB_PORTALS; do portals+=(--portal "$p"); done
metrics_port=$((20000 + RANDOM % 20000))
"$MPIO_BIN" serve "${portals[@]}" --target "$LAB_TARGET_IQN" --plugin-dir "$MPIO_PLUGIN_DIR" \
  --nbd "unix:$work/nbd.sock" --fuse "$work/fuse" --control "$work/control.sock" \
  --metrics "127.0.0.1:$metrics_port" >"$work/serve.log" 2>&1 &
serve_pid=$!
if ! wait_ready "$work/serve.log" "$serve_pid"; then
  cat "$work/serve.log"
  echo "0 passed, 1 failed"
  exit 1
fi
export MPIO_CONTROL=$work/control.sock

# A real Prometheus server scrapes the engine every second from here on.
prom_port=$((20000 + RANDOM % 20000))
printf '%s\n' "global: {scrape_interval: 1s, evaluation_interval: 1s}" \
  "scrape_configs:" "  - job_name: mpio" \
  "    static_configs: [{targets: ['127.0.0.1:$metrics_port']}]" >"$work/prometheus.yml"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
prom_pid=$!
dev=$(ls "$work/fuse" | head -n1)
size=$LAB_LUN_SIZE_BYTES
uri="nbd+unix:///$dev?socket=$work/nbd.sock"

# ---- NBD
timeout 30 nbdinfo --list "nbd+unix:///?socket=$work/nbd.sock" >"$work/list" 2>&1
check "nbdinfo --list shows the device and its size" \
  bash -c "grep -q '$dev' '$work/list' && grep -q '$size' '$work/list'"
timeout 30 nbdinfo --json "$uri" >"$work/info" 2>&1
check "nbdinfo shows block size constraints and trim/flush/fua" bash -c "
  grep -q '\"block_size_minimum\": 512' '$work/info' &&
  grep -q '\"can_flush\": true' '$work/info' && grep -q '\"can_fua\": true' '$work/info' &&
  grep -q '\"can_trim\": true' '$work/info' && grep -q '\"can_multi_conn\": true' '$work/info'"

img=$((512 << 20))
head -c "$img" /dev/urandom >"$work/in.img"
check "nbdcopy writes 512 MiB of random data in" timeout 300 nbdcopy "$work/in.img" "$uri"
check "nbdcopy reads it back identically" bash -c "
  timeout 300 nbdcopy '$uri' - | head -c $img | cmp - '$work/in.img'"
truncate -s "$size" "$work/in.img"
check "qemu-img compare: device equals the image" \
  timeout 300 qemu-img compare -f raw -F raw "$work/in.img" "$uri"
check "fio over NBD: random read/write with crc32c verification" \
  timeout 300 fio --name=nbd --ioengine=nbd --uri="$uri" --rw=randrw --bs=4k --iodepth=16 \
  --size=64M --offset=600M --verify=crc32c --do_verify=1 --output="$work/fio-nbd.txt"

# ---- FUSE
check "the FUSE file has the device's size" test "$(stat -c %s "$work/fuse/$dev")" = "$size"
check "fio on the FUSE file: random read/write with crc32c verification" \
  timeout 300 fio --name=fuse --filename="$work/fuse/$dev" --ioengine=psync --rw=randrw \
  --bs=4k --size=32M --offset=640M --verify=crc32c --do_verify=1 --output="$work/fio-fuse.txt"
check "fio on the FUSE file with O_DIRECT" \
  timeout 300 fio --name=direct --filename="$work/fuse/$dev" --ioengine=psync --direct=1 \
  --rw=randwrite --bs=64k --size=16M --offset=680M --verify=md5 --do_verify=1 \
  --output="$work/fio-direct.txt"
loopdev=$(losetup --find --show "$work/fuse/$dev")
check "losetup attaches the FUSE file" test -b "$loopdev"
check "mkfs.ext4 on the loop device" mkfs.ext4 -q -F "$loopdev"
check "mount it" mount "$loopdev" "$work/mnt"
head -c $((32 << 20)) /dev/urandom >"$work/file.bin"
cp "$work/file.bin" "$work/mnt/file.bin" && mkdir -p "$work/mnt/dir" &&
  for i in $(seq 1 50); do echo "$i" >"$work/mnt/dir/f$i"; done
sync
check "umount" umount "$work/mnt"
check "fsck.ext4 -n finds the filesystem clean" fsck.ext4 -n -f "$loopdev"
mount "$loopdev" "$work/mnt"
check "files read back after remount" cmp "$work/file.bin" "$work/mnt/file.bin"
umount "$work/mnt"
losetup -d "$loopdev" && loopdev=

# ---- control socket and CLI
check "mpio device list shows the device with its SATP and PSP" bash -c "
  '$MPIO_BIN' device list | grep -q '$dev' && '$MPIO_BIN' device list | grep -q default_aa &&
  '$MPIO_BIN' device list | grep -q rr"
check "mpio path list --json lists every path with I/O counted" bash -c "
  '$MPIO_BIN' path list --json | python3 -c '
import json, sys
paths = json.load(sys.stdin)
paths = paths.get(\"paths\", paths) if isinstance(paths, dict) else paths
assert len(paths) == $LAB_PATHS, paths
assert all(p[\"reads\"] + p[\"writes\"] > 0 for p in paths), paths'"

# ---- metrics
curl -sf "http://127.0.0.1:$metrics_port/metrics" >"$work/metrics.txt"
check "/metrics passes promtool check metrics" bash -c "promtool check metrics <'$work/metrics.txt'"
check "/metrics has per-path read counters for every path" bash -c "
  [ \$(grep -c '^mpio_path_ios_total{.*op=\"read\"' '$work/metrics.txt') -ge $LAB_PATHS ]"

# ---- Prometheus: per-path rates over the workload above, state changes
cat >"$work/promql.py" <<'PY'
import json, subprocess, sys
def query(port, expr):
    out = subprocess.run(['curl', '-sf', '--get', f'http://127.0.0.1:{port}/api/v1/query',
                          '--data-urlencode', 'query=' + expr],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)['data']['result']
port, mode, arg = sys.argv[1], sys.argv[2], sys.argv[3]
if mode == 'rates':  # arg: number of paths
    res = query(port, 'rate(mpio_path_bytes_total{op="read"}[1m]) > 0')
    assert len({r['metric']['path'] for r in res}) == int(arg), res
else:  # arg: portal whose state must have left active and come back
    sel = 'mpio_path_state{state="active",portal="%s"}[40s]' % arg
    lo, hi = query(port, 'min_over_time(' + sel + ')'), query(port, 'max_over_time(' + sel + ')')
    assert lo and float(lo[0]['value'][1]) == 0, lo
    assert hi and float(hi[0]['value'][1]) == 1, hi
PY
check "Prometheus: a non-zero read rate for every path" \
  python3 "$work/promql.py" "$prom_port" rates "$LAB_PATHS"
first_portal=${LAB_PORTALS%% *}
"$MPIO_BIN" path fail --path "$first_portal" >/dev/null
sleep 5
check "Prometheus: the failed path's state series left 'active' and came back" \
  python3 "$work/promql.py" "$prom_port" state "$first_portal"

# ---- SIGTERM: drain, unmount, exit 0
kill -TERM "$serve_pid"
wait "$serve_pid"
rc=$?
serve_pid=
check "SIGTERM: exit status 0" test "$rc" -eq 0
check "SIGTERM: FUSE directory unmounted" bash -c "! mountpoint -q '$work/fuse'"
check "SIGTERM: NBD socket removed" test ! -e "$work/nbd.sock"

echo
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
