#!/usr/bin/env bash
# `mpio check` against `mpio serve` on a real two-path tgtd lab. Each path
# has its own veth and /30, so the setup starts clean; then findings are
# made for real and cleared again: one host-side veth lowered to MTU 1400
# (reconnected so the session's MSS follows), a claim rule whose SATP
# (ALUA) tgtd refuses (TPGS=0), no_path_retry shorter than the way back
# with long timers, CHAP on one path only. Also: no daemon -> exit 3.
# Needs: MPIO_BIN, MPIO_LAB, MPIO_PLUGIN_DIR, MPIO_SOURCE_DIR; root.
set -uo pipefail
: "${MPIO_BIN:?}" "${MPIO_LAB:?}" "${MPIO_PLUGIN_DIR:?}" "${MPIO_SOURCE_DIR:?}"
eval "$(bash "$MPIO_SOURCE_DIR/tests/lab/lab.sh" env --name "$MPIO_LAB")"
work=$(mktemp -d /tmp/mpio-check.XXXXXX)
export MPIO_CONTROL=$work/control.sock
source "$MPIO_SOURCE_DIR/tests/integration/lib.sh"
serve_pid=
mtu_before=$(cat "/sys/class/net/$LAB_HOST_IF_1/mtu")
stop_serve() {
  if [ -n "$serve_pid" ] && kill -0 "$serve_pid" 2>/dev/null; then
    kill -TERM "$serve_pid"
    wait "$serve_pid"
  fi
  serve_pid=
}
cleanup() {
  set +e
  stop_serve
  ip link set dev "$LAB_HOST_IF_1" mtu "$mtu_before"
  rm -rf "$work"
}
trap cleanup EXIT
portals=()
for p in $LAB_PORTALS; do portals+=(--portal "$p"); done

# start_serve [serve args...]: waits (bounded) for " ready".
start_serve() {
  stop_serve
  rm -f "$MPIO_CONTROL"
  "$MPIO_BIN" serve --plugin-dir "$MPIO_PLUGIN_DIR" --control "$MPIO_CONTROL" \
    "$@" >"$work/serve.log" 2>&1 &
  serve_pid=$!
  wait_ready "$work/serve.log" "$serve_pid" 30 && return 0
  echo "serve did not start:"; cat "$work/serve.log"
  return 1
}

# wait_active N: every path active (probation passed), at most 30 s.
wait_active() {
  for _ in $(seq 1 60); do
    "$MPIO_BIN" path list --json 2>/dev/null | python3 -c "
import json, sys
p = json.load(sys.stdin)
sys.exit(0 if len(p) == $1 and all(x['state'] == 'active' for x in p) else 1)" && return 0
    sleep 0.5
  done
  "$MPIO_BIN" path list
  return 1
}

# run_check: mpio check (text in $work/out, JSON in $work/json, rc in $rc).
run_check() {
  "$MPIO_BIN" check >"$work/out" 2>&1; rc=$?
  "$MPIO_BIN" check --json >"$work/json" 2>"$work/json.err"; json_rc=$?
  cat "$work/out"
}

# ---- no daemon
"$MPIO_BIN" check >"$work/out" 2>&1; rc=$?
check "no daemon: exit 3 and says to start mpio serve" bash -c "
  [ $rc -eq 3 ] && grep -q 'daemon not running' '$work/out' && grep -q 'mpio serve' '$work/out'"
"$MPIO_BIN" check --bogus >/dev/null 2>&1; rc=$?
check "bad argument: exit 2" test "$rc" -eq 2
check "--help documents the exit codes" bash -c "
  '$MPIO_BIN' check --help | tr -s ' \n' ' ' | grep -q '0 clean.*1 a warning or error.*3 the daemon'"

# ---- the lab as built: one veth and /30 per path -> clean
start_serve "${portals[@]}" --target "$LAB_TARGET_IQN" || exit 1
wait_active "$LAB_PATHS"
run_check
check "clean lab: exit 0, no findings" bash -c "[ $rc -eq 0 ] && grep -q 'No findings' '$work/out'"
check "clean lab --json: exit 0, facts read from the live sockets" python3 -c "
import json, sys
r = json.load(open('$work/json'))
assert $json_rc == 0 and r['findings'] == [] and r['errors'] == 0 and r['warnings'] == 0, r
paths = r['devices'][0]['paths']
assert len(paths) == $LAB_PATHS, paths
by_if = {p['local_interface']: p for p in paths}
for i in range(1, $LAB_PATHS + 1):
    p = by_if['$LAB_HOST_IF_1'.replace('p1', 'p%d' % i)]
    assert p['connected'] and p['mtu'] == $mtu_before and 0 < p['mss'] < p['mtu'], p
assert by_if['$LAB_HOST_IF_1']['local_address'] == '$LAB_HOST_IP_1', paths
assert by_if['$LAB_HOST_IF_1']['prefix_len'] == 30, paths
assert by_if['$LAB_HOST_IF_2']['local_address'] == '$LAB_HOST_IP_2', paths
assert all(not p['chap'] and p['bound_interface'] == '' for p in paths), paths"
path1=$(python3 -c "
import json
r = json.load(open('$work/json'))
print([p['id'] for p in r['devices'][0]['paths'] if p['local_interface'] == '$LAB_HOST_IF_1'][0])")

# ---- MTU 1400 on path 1's veth; the MSS changes with a new connection
ip link set dev "$LAB_HOST_IF_1" mtu 1400
"$MPIO_BIN" path fail --path "$LAB_PORTAL_1" >/dev/null
wait_active "$LAB_PATHS"
run_check
check "MTU 1400 on one veth: exit 1, mtu_mismatch names the path and the fix" bash -c "
  [ $rc -eq 1 ] && grep -q 'WARNING  mtu_mismatch' '$work/out' &&
  grep -q 'path $path1' '$work/out' &&
  grep -q 'ip link set dev $LAB_HOST_IF_1 mtu $mtu_before' '$work/out'"
check "... --json: exit 1, the reconnected session's MSS follows the MTU" python3 -c "
import json
r = json.load(open('$work/json'))
assert $json_rc == 1 and r['warnings'] >= 1, r
f = [x for x in r['findings'] if x['code'] == 'mtu_mismatch']
assert len(f) == 1 and f[0]['severity'] == 'warning' and f[0]['path'] == '$path1', f
p = {x['local_interface']: x for x in r['devices'][0]['paths']}
assert p['$LAB_HOST_IF_1']['mtu'] == 1400 and p['$LAB_HOST_IF_1']['mss'] <= 1360, p
assert p['$LAB_HOST_IF_2']['mss'] > 1360, p"
ip link set dev "$LAB_HOST_IF_1" mtu "$mtu_before"
"$MPIO_BIN" path fail --path "$LAB_PORTAL_1" >/dev/null
wait_active "$LAB_PATHS"
run_check
check "MTU restored and reconnected: clean again" test "$rc" -eq 0

# ---- a claim rule whose SATP refuses the device (tgtd: TPGS=0)
"$MPIO_BIN" rule add --id 100 -s VMW_SATP_ALUA -e "check test" >/dev/null
run_check
check "refused claim rule: exit 1, claim_rule_refused with the reason and fix" bash -c "
  [ $rc -eq 1 ] && grep -q 'WARNING  claim_rule_refused' '$work/out' &&
  grep -q 'claim rule 100' '$work/out' && grep -qi 'tpgs' '$work/out' &&
  grep -q 'mpio rule remove --id 100' '$work/out'"
"$MPIO_BIN" rule remove --id 100 >/dev/null
run_check
check "rule removed: clean again" test "$rc" -eq 0

# ---- short no_path_retry, long timers
cat >"$work/timers.toml" <<'EOF'
[engine]
no_path_retry = "5s"
reconnect_max = "10s"
nop_interval = "2s"
ack_stall = "10s"
EOF
start_serve --config "$work/timers.toml" "${portals[@]}" --target "$LAB_TARGET_IQN" || exit 1
wait_active "$LAB_PATHS"
run_check
check "short no_path_retry with long timers: exit 1, apd_budget and slow_detection" bash -c "
  [ $rc -eq 1 ] && grep -q 'WARNING  apd_budget' '$work/out' &&
  grep -q 'WARNING  slow_detection' '$work/out' && grep -q 'no_path_retry = \"' '$work/out'"
check "... --json: the arithmetic (detection 12.1 s, way back 19 s)" python3 -c "
import json
r = json.load(open('$work/json'))
t = r['devices'][0]['timers_s']
assert t['no_path_retry'] == 5 and abs(t['detection_worst'] - 12.1) < 1e-6, t
assert abs(t['recovery_worst'] - 19) < 1e-6, t
codes = sorted(f['code'] for f in r['findings'])
assert codes == ['apd_budget', 'slow_detection'], codes"
printf '[engine]\nno_path_retry = "1s"\n' >"$work/short.toml"
start_serve --config "$work/short.toml" "${portals[@]}" --target "$LAB_TARGET_IQN" || exit 1
wait_active "$LAB_PATHS"
run_check
check "no_path_retry 1s (below probation): ERROR apd_budget" bash -c "
  [ $rc -eq 1 ] && grep -q 'ERROR  apd_budget' '$work/out'"

# ---- PORTAL%IFACE: the socket's SO_BINDTODEVICE is read back, still clean
start_serve --portal "$LAB_PORTAL_1%$LAB_HOST_IF_1" --portal "$LAB_PORTAL_2%$LAB_HOST_IF_2" \
  --target "$LAB_TARGET_IQN" || exit 1
wait_active "$LAB_PATHS"
run_check
check "bound paths: clean, and each socket reports its bound interface" python3 -c "
import json
r = json.load(open('$work/json'))
assert $rc == 0 and $json_rc == 0 and r['findings'] == [], r['findings']
p = {x['portal']: x for x in r['devices'][0]['paths']}
assert p['$LAB_PORTAL_1']['bound_interface'] == '$LAB_HOST_IF_1', p
assert p['$LAB_PORTAL_2']['bound_interface'] == '$LAB_HOST_IF_2', p"

# ---- CHAP on one path only: two [[target]]s reaching the same LUN
cat >"$work/chap.toml" <<EOF
[[target]]
portals = ["$LAB_PORTAL_1"]
iqn = "$LAB_TARGET_IQN"
chap_user = "check-user"
chap_secret_env = "CHECK_TEST_SECRET"

[[target]]
portals = ["$LAB_PORTAL_2"]
iqn = "$LAB_TARGET_IQN"
EOF
export CHECK_TEST_SECRET=not-a-real-secret-123
if start_serve --config "$work/chap.toml" && wait_active "$LAB_PATHS"; then
  run_check
  check "CHAP on one path only: exit 1, chap_partial names the other path" bash -c "
    [ $rc -eq 1 ] && grep -q 'WARNING  chap_partial' '$work/out' && grep -q 'chap_user' '$work/out'"
  check "... --json: chap true on path 1 only, and the secret never shows" bash -c "
    python3 -c \"
import json
r = json.load(open('$work/json'))
p = {x['portal']: x for x in r['devices'][0]['paths']}
assert p['$LAB_PORTAL_1']['chap'] and not p['$LAB_PORTAL_2']['chap'], p
f = [x for x in r['findings'] if x['code'] == 'chap_partial']
assert len(f) == 1 and f[0]['path'] == p['$LAB_PORTAL_2']['id'], f\" &&
    ! grep -q '$CHECK_TEST_SECRET' '$work/json' '$work/out'"
else
  bad "CHAP on one path only: serve with two [[target]]s did not come up"
fi
stop_serve

echo "# check: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
