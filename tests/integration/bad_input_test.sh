#!/usr/bin/env bash
# Bad input from below and around the engine, on a real two-path tgtd lab
# with `mpio serve` exporting the LUN as a FUSE file (issue #8):
#  1. the LUN shrinks under the running export (lab fault resize, no UNIT
#     ATTENTION): data below the new end reads back intact, I/O past it
#     fails at once (an error, not a hang, not a failed path), the log says
#     "LUN shrank" with both sizes, both paths stay active, writes below the
#     end still work, and growing the LUN back is noticed and serves again;
#  2. the disk of the log file is full (a 64 KiB tmpfs): I/O and failover go
#     on, the file stays within its disk, and once there is room the log
#     says how many lines were lost and why;
#  3. stderr is a pipe nobody reads (4 KiB buffer): I/O and failover go on;
#     the log queue drops lines instead of stopping the engine;
#  4. paths whose LUNs disagree in size: a second target on the same portals
#     claims the LUN's identity with half its size (lab fault twin-add); the
#     paths that disagree with the device are refused with both sizes named,
#     the device serves on the others.
# Needs: MPIO_BIN, MPIO_LAB, MPIO_PLUGIN_DIR, MPIO_SOURCE_DIR; python3.
set -uo pipefail
: "${MPIO_BIN:?}" "${MPIO_LAB:?}" "${MPIO_PLUGIN_DIR:?}" "${MPIO_SOURCE_DIR:?}"
source "$MPIO_SOURCE_DIR/tests/integration/lib.sh"
lab="$MPIO_SOURCE_DIR/tests/lab/lab.sh"
eval "$(bash "$lab" env --name "$MPIO_LAB")"
work=$(mktemp -d /tmp/mpio-badinput.XXXXXX)
full_mib=$((LAB_LUN_SIZE_BYTES >> 20))
half_mib=$((full_mib / 2))
serve_pid= holder_pid=
cleanup() {
  set +e
  stop "$serve_pid"
  stop "$holder_pid"
  bash "$lab" fault --name "$MPIO_LAB" resize --mib "$full_mib" >/dev/null 2>&1
  bash "$lab" fault --name "$MPIO_LAB" twin-remove >/dev/null 2>&1
  mountpoint -q "$work/fuse" && fusermount3 -uz "$work/fuse"
  mountpoint -q "$work/logs" && umount -l "$work/logs"
  rm -rf "$work"
}
trap cleanup EXIT
portals=()
for p in $LAB_PORTALS; do portals+=(--portal "$p"); done
export MPIO_CONTROL=$work/control.sock

# serve OUT ARGS...: start `mpio serve` with stdout+stderr to OUT.
serve() {
  local out=$1
  shift
  mkdir -p "$work/fuse"
  "$MPIO_BIN" serve "${portals[@]}" --target "$LAB_TARGET_IQN" --lun "$LAB_LUN" \
    --plugin-dir "$MPIO_PLUGIN_DIR" --fuse "$work/fuse" --control "$MPIO_CONTROL" \
    --metrics off "$@" >"$out" 2>&1 &
  serve_pid=$!
}
# ready_by_socket: `mpio serve` answers on its control socket (for runs
# whose log is not readable).
ready_by_socket() {
  for _ in $(seq 1 200); do
    "$MPIO_BIN" path list >/dev/null 2>&1 && [ -n "$(ls "$work/fuse" 2>/dev/null)" ] && return 0
    kill -0 "$serve_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
active_paths() {
  "$MPIO_BIN" path list --json 2>/dev/null | grep -o '"state": *"active"' | wc -l
}
# all_paths_back SECONDS: both paths active again (reconnect + probation).
all_paths_back() {
  local deadline=$((SECONDS + $1))
  while [ $SECONDS -lt "$deadline" ]; do
    [ "$(active_paths)" -eq 2 ] && return 0
    sleep 0.5
  done
  "$MPIO_BIN" path list >&2
  return 1
}
# dd_at FILE OFFSET_MIB COUNT_MIB [in|out]: O_DIRECT I/O through the FUSE
# file, bounded in time.
read_at() {
  timeout 60 dd if="$work/fuse/$dev" bs=1M skip="$1" count="$2" iflag=direct status=none
}
write_at() {  # write_at SRC OFFSET_MIB COUNT_MIB
  timeout 60 dd if="$1" of="$work/fuse/$dev" bs=1M seek="$2" count="$3" \
    oflag=direct conv=notrunc,fsync status=none
}
# verify_io TAG: 4 MiB written at 2 MiB and read back identical.
verify_io() {
  head -c $((4 << 20)) /dev/urandom >"$work/v.$1"
  write_at "$work/v.$1" 2 4 && read_at 2 4 | cmp -s - "$work/v.$1"
}

# ---- 1. the LUN shrinks under a running export
serve "$work/serve.log"
if ! wait_ready "$work/serve.log" "$serve_pid"; then
  cat "$work/serve.log"
  bad "serve started"
  finish
  exit
fi
dev=$(ls "$work/fuse" | head -n1)
head -c "$LAB_LUN_SIZE_BYTES" /dev/urandom >"$work/pattern"
check "pattern written over the whole ${full_mib} MiB LUN" write_at "$work/pattern" 0 "$full_mib"

bash "$lab" fault --name "$MPIO_LAB" resize --mib "$half_mib"
check "after the shrink to ${half_mib} MiB: data below the new end reads back intact" \
  bash -c "$(declare -f read_at); work='$work' dev='$dev'; read_at 0 $half_mib | cmp -s - <(head -c $((half_mib << 20)) '$work/pattern')"
start=$SECONDS
read_at $((half_mib + 4)) 1 >/dev/null 2>"$work/past.err"
rc=$?
check "a read past the new end fails with an error ($(tr -d '\n' <"$work/past.err"))" \
  bash -c "[ $rc -ne 0 ] && [ $rc -ne 124 ]"
check "... at once, not after retries or timeouts ($((SECONDS - start)) s)" test $((SECONDS - start)) -le 10
check "the log says the LUN shrank, with both sizes" \
  wait_for_line "$work/serve.log" "WARN .*LUN shrank: path .* reports $((half_mib << 20)) bytes, the device was exported with $LAB_LUN_SIZE_BYTES" 15
check "both paths stay active (an out-of-range LBA is not a path failure)" test "$(active_paths)" -eq 2
check "writes below the new end still work" verify_io shrunk
check "the engine is still up" kill -0 "$serve_pid"

bash "$lab" fault --name "$MPIO_LAB" resize --mib "$full_mib"
# tgtd raises no UNIT ATTENTION: the periodic re-probe (10 s) notices.
check "growing the LUN back is noticed" \
  wait_for_line "$work/serve.log" "LUN size is back to the exported $LAB_LUN_SIZE_BYTES bytes" 30
check "... and the range past the old end serves again (zeros: the array dropped it)" \
  bash -c "$(declare -f read_at); work='$work' dev='$dev'; read_at $((half_mib + 4)) 1 | cmp -s - <(head -c $((1 << 20)) /dev/zero)"
check "... data below the shrink point still intact" \
  bash -c "$(declare -f read_at); work='$work' dev='$dev'; read_at 8 8 | cmp -s - <(tail -c +$(((8 << 20) + 1)) '$work/pattern' | head -c $((8 << 20)))"
term_and_wait "$serve_pid" 30
rc=$?
serve_pid=
check "SIGTERM after the resize: exit 0" test "$rc" -eq 0

# ---- 2. the log file's disk is full
mkdir -p "$work/logs"
mount -t tmpfs -o size=64k mpio-test-logs "$work/logs"
serve "$work/serve2.out" --log-file "$work/logs/mpio.log" --log-level debug
if ready_by_socket; then ok "serve with --log-file on a 64 KiB tmpfs started"; else bad "serve with --log-file started"; fi
dev=$(ls "$work/fuse" | head -n1)
dd if=/dev/zero of="$work/logs/filler" bs=4k status=none 2>/dev/null
check "the log disk is full" bash -c "! echo x >'$work/logs/probe' 2>/dev/null"
# More log lines than the free rest of the log file's last page: a path
# switched off and on (the operator's way; `path fail` three times in a
# minute makes it marginal, and then it stays quiet), and SIGHUPs.
p1=$(first_path)
for i in $(seq 1 8); do
  "$MPIO_BIN" path set --path "$p1" --state off >/dev/null 2>&1
  "$MPIO_BIN" path set --path "$p1" --state on >/dev/null 2>&1
  kill -HUP "$serve_pid"
  sleep 0.3
done
for i in $(seq 1 40); do kill -HUP "$serve_pid"; sleep 0.01; done
check "with the log disk full: I/O is verified" verify_io fulldisk
check "... the engine is up and both paths are back" all_paths_back 60
rm -f "$work/logs/filler"
kill -HUP "$serve_pid"
check "once there is room, the log says what was lost and why" \
  wait_for_line "$work/logs/mpio.log" "log lines lost \(No space left on device\)" 15
check "... and logs again (the SIGHUP after the note)" \
  bash -c "grep -A1 'log lines lost' '$work/logs/mpio.log' | grep -q 'SIGHUP: no --config file'"
term_and_wait "$serve_pid" 30
rc=$?
serve_pid=
check "SIGTERM: exit 0" test "$rc" -eq 0
umount "$work/logs"

# ---- 3. stderr is a pipe nobody reads
mkfifo "$work/pipe"
# Holds the pipe open (so writers never get EPIPE), shrinks its buffer to
# 4 KiB, and never reads; bounded.
python3 -c '
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.fcntl(fd, 1031, 4096)  # F_SETPIPE_SZ
time.sleep(120)' "$work/pipe" &
holder_pid=$!
sleep 0.5
serve "$work/pipe" --log-level debug
if ready_by_socket; then ok "serve with stderr into a full pipe started"; else bad "serve with stderr into a full pipe started"; fi
dev=$(ls "$work/fuse" | head -n1)
# Fill the pipe (each SIGHUP logs a line), then make the reactor thread log:
# a path switched off and on. A logger that wrote inline would now block
# the reactor, and with it all I/O.
for i in $(seq 1 100); do kill -HUP "$serve_pid"; sleep 0.01; done
sleep 0.5
p1=$(first_path)
for i in 1 2 3; do
  "$MPIO_BIN" path set --path "$p1" --state off >/dev/null 2>&1
  "$MPIO_BIN" path set --path "$p1" --state on >/dev/null 2>&1
  sleep 0.3
done
check "with stderr blocked: I/O is verified" verify_io pipe
check "... the control socket answers and both paths are back" all_paths_back 60
term_and_wait "$serve_pid" 30
rc=$?
serve_pid=
check "SIGTERM with stderr blocked: exit 0 within 30 s (the last lines are given up after 2 s)" test "$rc" -eq 0
stop "$holder_pid"
holder_pid=

# ---- 4. paths whose LUNs disagree in size
bash "$lab" fault --name "$MPIO_LAB" twin-add --mib "$half_mib"
portal_list=$(printf '"%s", ' $LAB_PORTALS)
cat >"$work/twin.toml" <<EOF
[engine]
plugin_dirs = ["$MPIO_PLUGIN_DIR"]

[[target]]
portals = [${portal_list%, }]
iqn = "$LAB_TARGET_IQN"

[[target]]
portals = [${portal_list%, }]
iqn = "$LAB_TARGET_IQN-twin"
EOF
mkdir -p "$work/fuse"
"$MPIO_BIN" serve --config "$work/twin.toml" --fuse "$work/fuse" --control "$MPIO_CONTROL" \
  --metrics off >"$work/serve4.log" 2>&1 &
serve_pid=$!
if wait_ready "$work/serve4.log" "$serve_pid"; then
  ok "serve over two targets that disagree started"
else
  bad "serve over two targets that disagree started"
  cat "$work/serve4.log"
fi
sizes="($LAB_LUN_SIZE_BYTES|$((half_mib << 20)))"
check "the two paths that disagree are refused, both sizes named" \
  test "$(grep -Ec "WARN .*refusing path .*: it claims identity .* but reports $sizes bytes in 512-byte blocks, while path .* reports $sizes bytes" "$work/serve4.log")" -eq 2
check "one device, on the two paths that agree" \
  bash -c "[ \$(ls '$work/fuse' | wc -l) -eq 1 ] && [ \$(MPIO_CONTROL='$MPIO_CONTROL' '$MPIO_BIN' path list --json | grep -o '\"state\": *\"active\"' | wc -l) -eq 2 ]"
dev=$(ls "$work/fuse" | head -n1)
check "... and it serves verified I/O" verify_io twin
term_and_wait "$serve_pid" 30
rc=$?
serve_pid=
check "SIGTERM: exit 0" test "$rc" -eq 0
bash "$lab" fault --name "$MPIO_LAB" twin-remove

finish
