#!/usr/bin/env bash
# The mpio CLI against a real two-path tgtd lab: discover (text, JSON, exit
# codes, a refused portal, a portal that is not iSCSI), bench (runs, files,
# refusals), mount/umount in one step (mkfs, files survive a remount).
# Needs: MPIO_BIN, MPIO_LAB, MPIO_PLUGIN_DIR, MPIO_SOURCE_DIR.
set -uo pipefail
: "${MPIO_BIN:?}" "${MPIO_LAB:?}" "${MPIO_PLUGIN_DIR:?}" "${MPIO_SOURCE_DIR:?}"
eval "$(bash "$MPIO_SOURCE_DIR/tests/lab/lab.sh" env --name "$MPIO_LAB")"
export MPIO_PLUGIN_DIR
work=$(mktemp -d /tmp/mpio-cli.XXXXXX)
source "$MPIO_SOURCE_DIR/tests/integration/lib.sh"
http_pid=
cleanup() {
  set +e
  mountpoint -q "$work/mnt" && "$MPIO_BIN" umount "$work/mnt"
  [ -n "$http_pid" ] && kill "$http_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
portals=()
for p in $LAB_PORTALS; do portals+=(--portal "$p"); done

# ---- discover
"$MPIO_BIN" discover "${portals[@]}" >"$work/out" 2>&1; rc=$?
check "discover: exit 0 when every portal answers" test "$rc" -eq 0
check "discover: one device with $LAB_PATHS paths, vendor and size shown" bash -c "
  grep -q 'Paths: $LAB_PATHS' '$work/out' && grep -q '$LAB_VENDOR' '$work/out' &&
  grep -q '$LAB_LUN_SIZE_BYTES bytes' '$work/out'"
json=$("$MPIO_BIN" discover "${portals[@]}" --json 2>/dev/null)
check "discover --json: valid, identity and paths" python3 -c "
import json, sys
d = json.loads(sys.argv[1])
assert len(d['devices']) == 1 and len(d['devices'][0]['paths']) == $LAB_PATHS
assert d['devices'][0]['identity'].startswith('naa.')
assert d['devices'][0]['size_bytes'] == $LAB_LUN_SIZE_BYTES" "$json"
start=$(date +%s)
"$MPIO_BIN" discover "${portals[@]}" --portal 127.0.0.1:9 >"$work/out" 2>&1; rc=$?
took=$(( $(date +%s) - start ))
check "discover: a refused portal gives exit 3, is named, and the rest is listed" bash -c "
  [ $rc -eq 3 ] && grep -q '127.0.0.1:9.*ERROR' '$work/out' && grep -q 'Paths: $LAB_PATHS' '$work/out'"
check "discover: ... within seconds ($took s)" test "$took" -le 20
port=$((30000 + RANDOM % 20000))
python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1 &
http_pid=$!
sleep 1
"$MPIO_BIN" discover --portal "127.0.0.1:$port" --login-timeout 3 >"$work/out" 2>&1; rc=$?
check "discover: an HTTP server is reported as not iSCSI, exit 1 (no device)" bash -c "
  [ $rc -eq 1 ] && grep -q '127.0.0.1:$port.*ERROR' '$work/out'"
kill "$http_pid"; http_pid=
"$MPIO_BIN" discover 2>"$work/err"; rc=$?
check "discover without --portal: usage error" bash -c "[ $rc -ne 0 ] && grep -qi portal '$work/err'"

# ---- header digest: a target answering None is refused when CRC32C is required
"$MPIO_BIN" discover "${portals[@]}" --header-digest crc32c >"$work/out" 2>&1; rc=$?
check "discover --header-digest crc32c: a target offering only None is refused, naming it" bash -c "
  [ $rc -ne 0 ] && grep -q 'answered HeaderDigest=None' '$work/out'"
bash "$MPIO_SOURCE_DIR/tests/lab/lab.sh" fault --name "$MPIO_LAB" digest-crc32c
"$MPIO_BIN" discover "${portals[@]}" --header-digest crc32c >"$work/out" 2>&1; rc=$?
check "discover --header-digest crc32c: works once the target offers CRC32C" test "$rc" -eq 0
bash "$MPIO_SOURCE_DIR/tests/lab/lab.sh" fault --name "$MPIO_LAB" digest-none

# ---- bench
"$MPIO_BIN" bench "${portals[@]}" --policies "rr:iops=1,lqd,fixed" -w randread:4k:qd8 \
  --duration 1 --out "$work" >"$work/out" 2>&1; rc=$?
check "bench: three policies run, exit 0" test "$rc" -eq 0
check "bench: results.json has one row per policy with per-path shares" python3 -c "
import json
r = json.load(open('$work/results.json'))
assert [x['policy'] for x in r] == ['rr:iops=1', 'lqd', 'fixed'], r
assert all(x['iops'] > 0 and x['errors'] == 0 for x in r)
rr = r[0]['paths']; fixed = r[2]['paths']
assert all(p['ios'] > 0 for p in rr), rr
assert sum(1 for p in fixed if p['ios'] > 0) == 1, fixed"
"$MPIO_BIN" bench "${portals[@]}" -w randwrite:4k:qd8 --duration 1 >/dev/null 2>"$work/err"; rc=$?
check "bench: a write workload without --allow-writes is refused" bash -c "
  [ $rc -eq 2 ] && grep -q allow-writes '$work/err'"
"$MPIO_BIN" bench "${portals[@]}" --policies "rr:iops=0" --duration 1 >/dev/null 2>"$work/err"; rc=$?
check "bench: bad PSP options are refused naming the valid range" bash -c "
  [ $rc -eq 2 ] && grep -q 'iops' '$work/err'"
"$MPIO_BIN" bench "${portals[@]}" -w "randread:4k" --duration 1 >/dev/null 2>"$work/err"; rc=$?
check "bench: a malformed workload is refused with the expected format" bash -c "
  [ $rc -eq 2 ] && grep -q 'PATTERN:BLOCK:qdN' '$work/err'"

# ---- mount / umount
mkdir -p "$work/mnt"
check "mount --mkfs ext4: one command" "$MPIO_BIN" mount "${portals[@]}" --target "$LAB_TARGET_IQN" \
  --mkfs ext4 "$work/mnt"
head -c $((16 << 20)) /dev/urandom >"$work/f.bin"
cp "$work/f.bin" "$work/mnt/"
check "umount undoes it" "$MPIO_BIN" umount "$work/mnt"
check "nothing left mounted" bash -c "! mountpoint -q '$work/mnt'"
check "mount again: the filesystem is kept, not reformatted" "$MPIO_BIN" mount "${portals[@]}" \
  --target "$LAB_TARGET_IQN" --mkfs ext4 "$work/mnt"
check "the file survived" cmp "$work/f.bin" "$work/mnt/f.bin"
check "umount again" "$MPIO_BIN" umount "$work/mnt"
"$MPIO_BIN" umount "$work/mnt" 2>"$work/err"; rc=$?
check "umount of a directory mpio did not mount says so" bash -c "[ $rc -eq 1 ] && grep -q 'not mounted by' '$work/err'"

echo
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
