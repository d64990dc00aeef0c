#!/usr/bin/env bash
# CHAP and mutual CHAP against tgtd accounts (lab.sh fault chap-on/chap-off),
# driven through the real mpio binary on a two-path lab:
#  - one-way and mutual CHAP work (discover, and serve with I/O), secrets
#    from a file and from MPIO_CHAP_SECRET;
#  - a wrong secret, no secret while the target requires CHAP, and a wrong
#    (or missing) mutual secret each fail within seconds with exit 1 and a
#    message naming every portal and the cause;
#  - a path refused for authentication backs off (no retry storm) while the
#    other path keeps carrying I/O, and comes back once the secret matches
#    again (tgtd accounts are per target, not per portal: the target's
#    secret is rotated under a running daemon, then one path's session is
#    dropped, so only that path has to log in again);
#  - no secret in the daemon log, `mpio device list --json`, `mpio path list
#    --json`, /metrics, discover --json, any error output, or the command
#    line of the running daemon.
# Needs: MPIO_BIN, MPIO_LAB, MPIO_PLUGIN_DIR, MPIO_SOURCE_DIR; curl, python3.
set -uo pipefail
: "${MPIO_BIN:?}" "${MPIO_LAB:?}" "${MPIO_PLUGIN_DIR:?}" "${MPIO_SOURCE_DIR:?}"
lab=$MPIO_SOURCE_DIR/tests/lab/lab.sh
eval "$(bash "$lab" env --name "$MPIO_LAB")"
export MPIO_PLUGIN_DIR
unset MPIO_CHAP_SECRET MPIO_TARGET_CHAP_SECRET
work=$(mktemp -d /tmp/mpio-chap.XXXXXX)
chmod 700 "$work"
source "$MPIO_SOURCE_DIR/tests/integration/lib.sh"
now_ms() { echo $(($(date +%s%N) / 1000000)); }
serve_pid=
cleanup() {
  set +e
  if [ -n "$serve_pid" ] && kill -0 "$serve_pid" 2>/dev/null; then
    kill -TERM "$serve_pid"; wait "$serve_pid"
  fi
  mountpoint -q "$work/fuse" && fusermount3 -uz "$work/fuse"
  bash "$lab" fault --name "$MPIO_LAB" chap-off
  rm -rf "$work"
}
trap cleanup EXIT

# Random secrets, so that finding one anywhere cannot be a coincidence.
rand() { head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
user=mpio-init tuser=mpio-target
secret=init-$(rand) secret2=rotated-$(rand) wrong=wrong-$(rand)
tsecret=target-$(rand) twrong=twrong-$(rand)
all_secrets=("$secret" "$secret2" "$wrong" "$tsecret" "$twrong")
(umask 077
 printf '%s\n' "$secret" >"$work/secret"
 printf '%s\n' "$wrong" >"$work/wrong"
 printf '%s\n' "$tsecret" >"$work/tsecret"
 printf '%s\n' "$twrong" >"$work/twrong")
portals=()
for p in $LAB_PORTALS; do portals+=(--portal "$p"); done
p1=$LAB_PORTAL_1 p2=$LAB_PORTAL_2
# Every file in $work/leak* is searched for secrets at the end.
leak=0
keep() { cp "$1" "$work/leak.$((leak += 1))"; }

# discover_case NAME EXPECTED_RC PATTERN ARGS...: runs mpio discover with the
# lab's portals and --target, checks the exit code, that each portal is
# named together with PATTERN (or listed as ok when PATTERN is empty), and
# that it took under 5 s.
discover_case() {
  local name=$1 want=$2 pattern=$3; shift 3
  local t0 rc took
  t0=$(now_ms)
  timeout 60 "$MPIO_BIN" discover "${portals[@]}" --target "$LAB_TARGET_IQN" "$@" \
    >"$work/out" 2>&1
  rc=$?
  took=$(($(now_ms) - t0))
  keep "$work/out"
  check "$name: exit $want (got $rc)" test "$rc" -eq "$want"
  check "$name: answered within 5 s (${took} ms)" test "$took" -lt 5000
  local p
  for p in $p1 $p2; do
    if [ -z "$pattern" ]; then
      check "$name: $p listed as ok" grep -qE "^$p .* ok *$" "$work/out"
    else
      check "$name: $p named with '$pattern'" grep -qE "(portal )?$p.*$pattern" "$work/out"
    fi
  done
  [ "$rc" -eq "$want" ] || cat "$work/out"
}

# ---- one-way CHAP
bash "$lab" fault --name "$MPIO_LAB" chap-on --user "$user" --secret "$secret"

discover_case "no CHAP configured, target requires it" 1 \
  "login refused: the target requires CHAP and no CHAP user is configured"
discover_case "wrong CHAP secret" 1 \
  "login refused: authentication failed \(check the CHAP user and secret\)" \
  --chap-user "$user" --chap-secret-file "$work/wrong"
discover_case "unknown CHAP user" 1 "login refused: authentication failed" \
  --chap-user nobody --chap-secret-file "$work/secret"
discover_case "one-way CHAP, secret from a file" 0 "" \
  --chap-user "$user" --chap-secret-file "$work/secret"
check "one-way CHAP: one device with both paths" grep -q "Paths: 2 (2 usable)" "$work/out"
MPIO_CHAP_SECRET=$secret discover_case "one-way CHAP, secret from MPIO_CHAP_SECRET" 0 "" \
  --chap-user "$user"

# Without --target: SendTargets (tgtd never asks discovery sessions for
# CHAP), then the normal login of each portal is refused.
t0=$(now_ms)
timeout 60 "$MPIO_BIN" discover "${portals[@]}" --json >"$work/out" 2>"$work/err"; rc=$?
took=$(($(now_ms) - t0)); keep "$work/out"; keep "$work/err"
check "SendTargets, no CHAP: exit 1 within 5 s (rc $rc, ${took} ms)" \
  bash -c "[ $rc -eq 1 ] && [ $took -lt 5000 ]"
check "SendTargets, no CHAP: --json lists the target, each portal's error names CHAP" python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert d['devices'] == [], d
errs = {p['portal']: p['error'] for p in d['portals']}
for p in sys.argv[2:]:
    assert p in errs and 'requires CHAP' in errs[p] and p in errs[p], errs
    assert all(t == '$LAB_TARGET_IQN' for t in d['portals'][0]['targets']), d
" "$work/out" "$p1" "$p2"
timeout 60 "$MPIO_BIN" discover "${portals[@]}" --json --chap-user "$user" \
  --chap-secret-file "$work/secret" >"$work/out" 2>"$work/err"; rc=$?
keep "$work/out"; keep "$work/err"
check "SendTargets + one-way CHAP --json: exit 0, one device, two paths" python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert $rc == 0 and len(d['devices']) == 1 and len(d['devices'][0]['paths']) == 2, d" "$work/out"

"$MPIO_BIN" discover "${portals[@]}" --chap-user "$user" >"$work/out" 2>&1; rc=$?
keep "$work/out"
check "--chap-user without a secret: usage error naming the ways to give one" bash -c "
  [ $rc -eq 2 ] && grep -q 'chap-secret-file or MPIO_CHAP_SECRET' '$work/out'"
"$MPIO_BIN" discover "${portals[@]}" --chap-user "$user" --chap-secret "$secret" \
  >"$work/out.argv" 2>&1; rc=$?
check "there is no option that takes a secret on the command line (rc $rc)" test "$rc" -ne 0

# ---- mutual CHAP
discover_case "mutual CHAP requested, target has no mutual account" 1 \
  "authentication failed \(check the CHAP user and secret; for mutual CHAP the target also needs its own CHAP account\)" \
  --chap-user "$user" --chap-secret-file "$work/secret" \
  --target-chap-user "$tuser" --target-chap-secret-file "$work/tsecret"
bash "$lab" fault --name "$MPIO_LAB" chap-on --user "$user" --secret "$secret" \
  --mutual-user "$tuser" --mutual-secret "$tsecret"
discover_case "mutual CHAP" 0 "" \
  --chap-user "$user" --chap-secret-file "$work/secret" \
  --target-chap-user "$tuser" --target-chap-secret-file "$work/tsecret"
MPIO_TARGET_CHAP_SECRET=$tsecret discover_case "mutual CHAP, target secret from MPIO_TARGET_CHAP_SECRET" 0 "" \
  --chap-user "$user" --chap-secret-file "$work/secret" --target-chap-user "$tuser"
discover_case "mutual CHAP, wrong target secret (the target's answer fails)" 1 \
  "login aborted: the target failed mutual CHAP" \
  --chap-user "$user" --chap-secret-file "$work/secret" \
  --target-chap-user "$tuser" --target-chap-secret-file "$work/twrong"
discover_case "mutual CHAP, wrong target user name" 1 \
  "the target failed mutual CHAP: it answered as another CHAP user" \
  --chap-user "$user" --chap-secret-file "$work/secret" \
  --target-chap-user someone-else --target-chap-secret-file "$work/tsecret"
check "... and the user name the target sent is not echoed" bash -c "! grep -q '$tuser' '$work/out'"
discover_case "mutual account on the target, initiator secret wrong" 1 \
  "authentication failed \(check the CHAP user and secret" \
  --chap-user "$user" --chap-secret-file "$work/wrong" \
  --target-chap-user "$tuser" --target-chap-secret-file "$work/tsecret"
discover_case "one-way CHAP against a target that also offers mutual" 0 "" \
  --chap-user "$user" --chap-secret-file "$work/secret"

# ---- serve: a path refused for authentication backs off, the other works
bash "$lab" fault --name "$MPIO_LAB" chap-on --user "$user" --secret "$secret" \
  --mutual-user "$tuser" --mutual-secret "$tsecret"
mkdir -p "$work/fuse"
metrics_port=$((20000 + RANDOM % 20000))
"$MPIO_BIN" serve "${portals[@]}" --target "$LAB_TARGET_IQN" --lun "$LAB_LUN" \
  --chap-user "$user" --chap-secret-file "$work/secret" \
  --target-chap-user "$tuser" --target-chap-secret-file "$work/tsecret" \
  --fuse "$work/fuse" --control "$work/control.sock" \
  --metrics "127.0.0.1:$metrics_port" --log-level debug >"$work/serve.log" 2>&1 &
serve_pid=$!
if ! wait_ready "$work/serve.log" "$serve_pid"; then
  cat "$work/serve.log"
  echo "$pass passed, $((fail + 1)) failed"
  exit 1
fi
export MPIO_CONTROL=$work/control.sock
dev=$(ls "$work/fuse" | head -n1)

# read_mib N OFFSET_MIB: O_DIRECT reads through the FUSE file, bounded.
read_mib() {
  timeout 30 dd if="$work/fuse/$dev" of=/dev/null bs=1M count="$1" skip="$2" \
    iflag=direct status=none
}
check "serve, mutual CHAP: both paths active" bash -c "
  [ \"\$(MPIO_CONTROL='$MPIO_CONTROL' '$MPIO_BIN' path list --json | grep -o '\"state\": *\"active\"' | wc -l)\" -eq 2 ]"
check "serve, mutual CHAP: reads through the FUSE file" read_mib 32 0
r1=$(path_field "$p1" reads) r2=$(path_field "$p2" reads)
check "serve: both paths carried reads ($r1, $r2)" bash -c "[ $r1 -gt 0 ] && [ $r2 -gt 0 ]"

# Rotate the initiator secret on the target: logged-in sessions stay, new
# logins need the new secret. Then drop path 1's session only.
bash "$lab" fault --name "$MPIO_LAB" chap-on --user "$user" --secret "$secret2" \
  --mutual-user "$tuser" --mutual-secret "$tsecret"
f0=$(path_field "$p1" failures)
t0=$(now_ms)
"$MPIO_BIN" path fail --path "$p1" >/dev/null
state="" reason=""
for _ in $(seq 1 50); do
  state=$(path_field "$p1" state)
  reason=$(path_field "$p1" reason)
  case $reason in *"authentication failed"*) break ;; esac
  sleep 0.1
done
took=$(($(now_ms) - t0))
check "path 1 refused on reconnect: reported within 5 s (${took} ms)" test "$took" -lt 5000
check "path 1: its reason names the portal and the cause ($state: $reason)" bash -c '
  case "$1" in *"portal $2 "*"login refused: authentication failed (check the CHAP user and secret"*) exit 0 ;; esac; exit 1' _ "$reason" "$p1"
check "path 2 stays active" test "$(path_field "$p2" state)" = active
# Count login attempts over 6 s while I/O keeps going on path 2.
fa=$(path_field "$p1" failures) r1a=$(path_field "$p1" reads) r2a=$(path_field "$p2" reads)
t0=$(now_ms)
ios_ok=1
for i in $(seq 0 5); do
  read_mib 8 $((64 + i * 8)) || ios_ok=0
  sleep 0.8
done
window=$(($(now_ms) - t0))
fb=$(path_field "$p1" failures) r1b=$(path_field "$p1" reads) r2b=$(path_field "$p2" reads)
check "I/O keeps working on path 2 while path 1 is refused" test "$ios_ok" -eq 1
check "... carried by path 2 ($r2a -> $r2b), none by path 1 ($r1a -> $r1b)" \
  bash -c "[ $r2b -gt $r2a ] && [ $r1b -eq $r1a ]"
check "no retry storm: $((fb - fa)) refused logins of path 1 in ${window} ms (backoff, at most 8)" \
  bash -c "[ $((fb - fa)) -ge 1 ] && [ $((fb - fa)) -le 8 ]"
check "the path is still retried: $((fb - f0)) refusals since the drop" test $((fb - f0)) -ge 2
refusals=$(grep -c "portal $p1 .*authentication failed" "$work/serve.log")
check "the log records the refusals without flooding ($refusals lines)" \
  bash -c "[ $refusals -ge 1 ] && [ $refusals -le 40 ]"
check "the daemon is still up" kill -0 "$serve_pid"

# The target gets the old secret back: path 1 logs in again on its next
# try (backoff at most 5 s + 20 % jitter), then serves a probation (2 s).
bash "$lab" fault --name "$MPIO_LAB" chap-on --user "$user" --secret "$secret" \
  --mutual-user "$tuser" --mutual-secret "$tsecret"
t0=$(now_ms)
for _ in $(seq 1 120); do
  case $(path_field "$p1" state) in probation | active) break ;; esac
  sleep 0.1
done
took=$(($(now_ms) - t0))
check "path 1 logs in again once the secret matches (${took} ms, under 7 s)" \
  test "$took" -lt 7000
for _ in $(seq 1 60); do
  [ "$(path_field "$p1" state)" = active ] && break
  sleep 0.1
done
took=$(($(now_ms) - t0))
check "... and is active after its probation (${took} ms, under 11 s)" \
  bash -c "[ \"\$(MPIO_CONTROL='$MPIO_CONTROL' '$MPIO_BIN' path list --json | grep -o '\"state\": *\"active\"' | wc -l)\" -eq 2 ] && [ $took -lt 11000 ]"
r1c=$(path_field "$p1" reads)
read_mib 16 128 >/dev/null
check "... and carries reads again" test "$(path_field "$p1" reads)" -gt "$r1c"

# Everything a user or a scraper can see, while the daemon runs.
"$MPIO_BIN" device list --json >"$work/leak.device-list" 2>&1
"$MPIO_BIN" path list --json >"$work/leak.path-list" 2>&1
"$MPIO_BIN" device list >"$work/leak.device-list-text" 2>&1
"$MPIO_BIN" path list >"$work/leak.path-list-text" 2>&1
curl -sf "http://127.0.0.1:$metrics_port/metrics" >"$work/leak.metrics"
tr '\0' ' ' <"/proc/$serve_pid/cmdline" >"$work/leak.cmdline"
check "device list --json is valid and non-empty" python3 -c "
import json, sys; d = json.load(open(sys.argv[1])); assert d, d" "$work/leak.device-list"
check "/metrics answered" test -s "$work/leak.metrics"
kill -TERM "$serve_pid"; wait "$serve_pid"; rc=$?; serve_pid=
check "serve: SIGTERM, exit 0" test "$rc" -eq 0
cp "$work/serve.log" "$work/leak.serve-log"
check "the daemon log (debug level) has content" test -s "$work/leak.serve-log"

# ---- serve with a wrong secret: it stays up and says why
"$MPIO_BIN" serve "${portals[@]}" --target "$LAB_TARGET_IQN" \
  --chap-user "$user" --chap-secret-file "$work/wrong" --control "$work/control.sock" \
  --log-level debug >"$work/serve2.log" 2>&1 &
serve_pid=$!
t0=$(now_ms)
for _ in $(seq 1 100); do
  grep -q ' ready' "$work/serve2.log" && break
  kill -0 "$serve_pid" 2>/dev/null || break
  sleep 0.1
done
took=$(($(now_ms) - t0))
check "serve, wrong secret: ready within 5 s, still running (${took} ms)" \
  bash -c "[ $took -lt 5000 ] && kill -0 $serve_pid"
for p in $p1 $p2; do
  check "serve, wrong secret: the log names $p and the cause" \
    grep -q "portal $p .*authentication failed (check the CHAP user and secret)" "$work/serve2.log"
done
"$MPIO_BIN" device list --json >"$work/leak.device-list2" 2>&1
check "serve, wrong secret: no device" python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
d = d.get('devices', d) if isinstance(d, dict) else d
assert len(d) == 0, d" "$work/leak.device-list2"
kill -TERM "$serve_pid"; wait "$serve_pid"; serve_pid=
cp "$work/serve2.log" "$work/leak.serve2-log"

# ---- no secret anywhere
cp "$work/secret" "$work/control-positive"
check "the search below finds a secret where there is one" grep -qF -- "$secret" "$work/control-positive"
found=0
for s in "${all_secrets[@]}"; do
  if grep -lF -- "$s" "$work"/leak.* >"$work/hits"; then
    found=1
    echo "secret found in: $(tr '\n' ' ' <"$work/hits")"
  fi
done
check "no secret in logs, --json, text output, /metrics or the command line ($(ls "$work"/leak.* | wc -l) files)" \
  test "$found" -eq 0

echo
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
