#!/usr/bin/env bash
# ALUA claim rules against real targets and the real `mpio serve`:
#   alua_test.sh fallback   on a tgtd lab (INQUIRY TPGS=0, no RTPG): a rule
#       `-s VMW_SATP_ALUA -V TrueNAS` must not hide the device: a warning
#       names the rule and the reason, the next rule or the default claims
#       it, `mpio device list` and `mpio rule explain` show why; with
#       `-o tpgs=forced` the alua SATP takes it and, RTPG being refused,
#       treats every path as active.
#   alua_test.sh istgt      on an istgt lab (TPGS=0 yet RTPG/STPG work):
#       `-o tpgs=forced` gives real ALUA states per path; SET TARGET PORT
#       GROUPS from outside (lab.sh fault alua-an/alua-ao) is picked up by
#       the periodic re-probe (istgt raises no UNIT ATTENTION), and rr sends
#       I/O to the active/optimized path only.
# Needs: MPIO_BIN, MPIO_LAB, MPIO_PLUGIN_DIR, MPIO_SOURCE_DIR; root.
set -uo pipefail
: "${MPIO_BIN:?}" "${MPIO_LAB:?}" "${MPIO_PLUGIN_DIR:?}" "${MPIO_SOURCE_DIR:?}"
mode=${1:?usage: alua_test.sh fallback|istgt}
lab=$MPIO_SOURCE_DIR/tests/lab/lab.sh
eval "$(bash "$lab" env --name "$MPIO_LAB")"
work=$(mktemp -d /tmp/mpio-alua.XXXXXX)
source "$MPIO_SOURCE_DIR/tests/integration/lib.sh"
serve_pid=
cleanup() {
  set +e
  stop "$serve_pid"
  mountpoint -q "$work/fuse" && fusermount3 -uz "$work/fuse"
  rm -rf "$work"
}
trap cleanup EXIT
portals=()
for p in $LAB_PORTALS; do portals+=(--portal "$p"); done
export MPIO_CONTROL=$work/control.sock

# serve CONFIG_TEXT: starts `mpio serve` with that config, waits for ready.
serve() {
  printf '%s\n' "$1" >"$work/mpio.toml"
  mkdir -p "$work/fuse"
  "$MPIO_BIN" serve "${portals[@]}" --target "$LAB_TARGET_IQN" --plugin-dir "$MPIO_PLUGIN_DIR" \
    --config "$work/mpio.toml" --control "$work/control.sock" --fuse "$work/fuse" \
    >"$work/serve.log" 2>&1 &
  serve_pid=$!
  wait_ready "$work/serve.log" "$serve_pid" && return 0
  cat "$work/serve.log"
  echo "$pass passed, $((fail + 1)) failed (serve did not start)"
  exit 1
}

# py EXPR-CODE: runs python with D = device list, P = path list (JSON).
py() {
  "$MPIO_BIN" device list --json >"$work/d.json" 2>"$work/d.err" &&
    "$MPIO_BIN" path list --json >"$work/p.json" 2>"$work/p.err" &&
    python3 - "$work/d.json" "$work/p.json" "$LAB_PORTAL_1" "$LAB_PORTAL_2" <<EOF
import json, sys
D = json.load(open(sys.argv[1])); P = json.load(open(sys.argv[2]))
P1 = [p for p in P if p['portal'] == sys.argv[3]]
P2 = [p for p in P if p['portal'] == sys.argv[4]]
assert len(D) == 1 and len(P1) == 1 and len(P2) == 1, (D, P)
d, p1, p2 = D[0], P1[0], P2[0]
$1
EOF
}

# wait_for SECONDS CODE: py CODE until it succeeds, bounded.
wait_for() {
  local until=$(($(date +%s) + $1))
  while [ "$(date +%s)" -lt "$until" ]; do
    py "$2" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  py "$2"  # once more, showing why
}

# reads BLOCK: 8 MiB of direct reads at a fresh offset through the FUSE file.
reads() {
  local f
  f=$(ls "$work/fuse" | head -n1)
  timeout 60 dd if="$work/fuse/$f" of=/dev/null bs=256k count=32 skip=$(($1 * 32)) \
    iflag=direct status=none
}

counters() { py 'print(p1["reads"], p2["reads"])'; }

stop_serve() {
  kill -TERM "$serve_pid"
  wait "$serve_pid"
  serve_pid=
}

if [ "$mode" = fallback ]; then
  [ "$LAB_TARGET_KIND" = tgtd ] || { echo "fallback needs a tgtd lab"; exit 1; }
  # The premise, measured: tgtd reports TPGS=0 and refuses RTPG.
  inq=$(bash "$lab" scsi --name "$MPIO_LAB" --path 1 120000006000 96 | sed -n 's/^data=//p')
  check "tgtd: INQUIRY TPGS=0" test "$(((16#${inq:10:2} >> 4) & 3))" -eq 0
  check "tgtd: REPORT TARGET PORT GROUPS is refused (ILLEGAL REQUEST)" bash -c "
    bash '$lab' scsi --name '$MPIO_LAB' --path 1 a30a00000000000004000000 1024 | grep -q 'sense=0x5/'"

  serve "[[claim_rule]]
id = 100
vendor = \"$LAB_VENDOR\"
satp = \"VMW_SATP_ALUA\"
description = \"ALUA for $LAB_VENDOR\""
  check "serve warns, naming rule 100 and why the ALUA SATP refused" \
    grep -q 'rule 100: SATP alua refused: TPGS is 0 in INQUIRY' "$work/serve.log"
  check "device list --json: claimed by the default default_aa, reason shown" py '
assert d["satp"] == "default_aa", d
assert d["usable_paths"] == 2, d
r = d["claim_reason"]
assert r.startswith("default: no ALUA (TPGS=0)"), r
assert "rule 100: SATP alua refused: TPGS is 0 in INQUIRY" in r, r'
  "$MPIO_BIN" device list >"$work/out" 2>&1
  check "device list (text) shows the refused rule and the reason" \
    grep -q 'Claimed By: .*rule 100: SATP alua refused: TPGS is 0' "$work/out"
  "$MPIO_BIN" rule explain --device 0 >"$work/out" 2>&1
  check "rule explain: rule 100 matched but refused, the default chosen" bash -c "
    grep -q 'rule 100 (ALUA for $LAB_VENDOR): matched, but SATP alua refused: TPGS is 0.*next rule' '$work/out' &&
    grep -q 'built-in default: default: no ALUA (TPGS=0).*SATP default_aa.*CHOSEN' '$work/out'"

  # A next rule takes over once the device is re-claimed.
  "$MPIO_BIN" rule add --id 200 -V "$LAB_VENDOR" -s VMW_SATP_DEFAULT_AA -P fixed \
    -e "fallback" >/dev/null 2>&1
  "$MPIO_BIN" device reclaim --device 0 >"$work/out" 2>&1; rc=$?
  check "reclaim: exit 0" test "$rc" -eq 0
  check "reclaim: the next rule (200, fixed) claims it, rule 100's refusal kept" py '
assert d["satp"] == "default_aa" and d["psp"] == "fixed", d
r = d["claim_reason"]
assert r.startswith("rule 200 (fallback)"), r
assert "rule 100: SATP alua refused: TPGS is 0" in r, r'
  "$MPIO_BIN" rule explain --device 0 >"$work/out" 2>&1
  check "rule explain: rule 100 refused, rule 200 CHOSEN, no default" bash -c "
    grep -q 'rule 100.*refused' '$work/out' &&
    grep -q 'rule 200 (fallback): matched, SATP default_aa accepts: CHOSEN (PSP fixed)' '$work/out' &&
    ! grep -q 'built-in default' '$work/out'"

  # tpgs=forced on a target without RTPG: ALUA SATP, every path active.
  "$MPIO_BIN" rule add --id 50 -V "$LAB_VENDOR" -s VMW_SATP_ALUA -o tpgs=forced \
    -e "forced" >/dev/null 2>&1
  "$MPIO_BIN" device reclaim --device 0 >/dev/null 2>&1
  check "tpgs=forced: the alua SATP claims the TPGS=0 device, saying so" py '
assert d["satp"] == "alua", d
assert d["satp_options"] == "tpgs=forced", d
assert "tpgs=forced: claimed as ALUA although INQUIRY says TPGS=0" in d["claim_reason"], d'
  check "tpgs=forced, RTPG refused: both paths active, not ALUA, config says so" \
    wait_for 15 '
assert "rtpg=unsupported" in d["satp_config"], d
for p in (p1, p2):
    assert p["usable"] and p["alua_state"] == "n/a", p'
  before=$(counters)
  reads 1 && reads 2
  after=$(counters)
  check "tpgs=forced, RTPG refused: I/O flows on both paths ($before -> $after)" python3 -c "
b = list(map(int, '$before'.split())); a = list(map(int, '$after'.split()))
assert a[0] > b[0] and a[1] > b[1], (b, a)"
  stop_serve
  check "serve exits cleanly" test $? -eq 0

elif [ "$mode" = istgt ]; then
  [ "$LAB_TARGET_KIND" = istgt ] || { echo "istgt needs an istgt lab"; exit 1; }
  # Port groups are per LU and not persistent: start from both optimized.
  check "lab: both port groups set active/optimized" bash -c "
    bash '$lab' fault --name '$MPIO_LAB' --path 1 alua-ao &&
    bash '$lab' fault --name '$MPIO_LAB' --path 2 alua-ao"
  # The premise, measured: TPGS=0 in INQUIRY, yet RTPG answers on each path.
  for i in 1 2; do
    inq=$(bash "$lab" scsi --name "$MPIO_LAB" --path $i 120000006000 96 | sed -n 's/^data=//p')
    check "istgt path $i: INQUIRY TPGS=0" test "$(((16#${inq:10:2} >> 4) & 3))" -eq 0
    check "istgt path $i: REPORT TARGET PORT GROUPS answers GOOD" bash -c "
      bash '$lab' scsi --name '$MPIO_LAB' --path $i a30a00000000000004000000 1024 | grep -q 'status=0x00'"
  done

  # fence = "reset": under the reservation fence (Write Exclusive -
  # Registrants Only) istgt answers the lab's own STPG, from a session that
  # is no registrant, with RESERVATION CONFLICT.
  serve "[engine]
fence = \"reset\"

[[claim_rule]]
id = 100
vendor = \"$LAB_VENDOR\"
satp = \"VMW_SATP_ALUA\"
satp_options = \"tpgs=forced\"
description = \"istgt ALUA\""
  check "the forced rule claims it with the alua SATP" py '
assert d["satp"] == "alua" and d["satp_options"] == "tpgs=forced", d
r = d["claim_reason"]
assert r.startswith("rule 100 (istgt ALUA) (tpgs=forced: claimed as ALUA"), r
assert "tpgs=forced" in d["satp_config"] and "rtpg=unsupported" not in d["satp_config"], d'
  "$MPIO_BIN" rule explain --device 0 >"$work/out" 2>&1
  check "rule explain: TPGS 0, rule 100 forced and CHOSEN" bash -c "
    grep -q 'TPGS 0' '$work/out' &&
    grep -q 'rule 100 (istgt ALUA): matched, SATP alua accepts (tpgs=forced.*CHOSEN' '$work/out'"
  check "path list: each path in its own port group, both active/optimized" wait_for 15 '
assert (p1["tpg"], p1["alua_state"]) == (1, "active/optimized"), p1
assert (p2["tpg"], p2["alua_state"]) == (2, "active/optimized"), p2'
  before=$(counters)
  reads 1 && reads 2
  after=$(counters)
  check "both optimized: rr reads on both paths ($before -> $after)" python3 -c "
b = list(map(int, '$before'.split())); a = list(map(int, '$after'.split()))
assert a[0] > b[0] and a[1] > b[1], (b, a)"

  start=$(date +%s)
  check "lab: STPG moves port group 1 to active/non-optimized" \
    bash "$lab" fault --name "$MPIO_LAB" --path 1 alua-an
  check "alua-an on path 1: the periodic re-probe sees it (no UA from istgt)" wait_for 30 '
assert (p1["tpg"], p1["alua_state"]) == (1, "active/non-optimized"), p1
assert p2["alua_state"] == "active/optimized", p2
assert p1["usable"] and p2["usable"], (p1, p2)'
  took=$(($(date +%s) - start))
  check "... within one re-probe interval and a bit (${took} s <= 15 s)" test "$took" -le 15
  before=$(counters)
  reads 3 && reads 4
  after=$(counters)
  check "one AN, one AO: rr reads only on the AO path ($before -> $after)" python3 -c "
b = list(map(int, '$before'.split())); a = list(map(int, '$after'.split()))
assert a[0] == b[0] and a[1] > b[1], (b, a)"

  check "lab: STPG moves port group 1 back to active/optimized" \
    bash "$lab" fault --name "$MPIO_LAB" --path 1 alua-ao
  check "alua-ao on path 1: back to active/optimized" wait_for 30 '
assert p1["alua_state"] == "active/optimized" and p2["alua_state"] == "active/optimized", (p1, p2)'
  before=$(counters)
  reads 5 && reads 6
  after=$(counters)
  check "both optimized again: reads on both paths ($before -> $after)" python3 -c "
b = list(map(int, '$before'.split())); a = list(map(int, '$after'.split()))
assert a[0] > b[0] and a[1] > b[1], (b, a)"
  # Explicit ALUA: with no optimized group left, the engine itself asks the
  # array (SET TARGET PORT GROUPS) to make a group active/optimized.
  check "lab: both port groups active/non-optimized" bash -c "
    bash '$lab' fault --name '$MPIO_LAB' --path 1 alua-an &&
    bash '$lab' fault --name '$MPIO_LAB' --path 2 alua-an"
  activated() {
    "$MPIO_BIN" events --device 0 >"$work/out" 2>&1
    grep -q 'no active/optimized path: asking the array to make target port group' "$work/out" &&
      grep -q 'SET TARGET PORT GROUPS for group [0-9]*: done' "$work/out"
  }
  for _ in $(seq 1 80); do activated && break; sleep 0.5; done
  check "no optimized path left: the engine sends SET TARGET PORT GROUPS, the array takes it" activated
  check "... and a path is active/optimized again" wait_for 20 '
assert "active/optimized" in (p1["alua_state"], p2["alua_state"]), (p1, p2)
assert p1["usable"] or p2["usable"], (p1, p2)'
  "$MPIO_BIN" events --device 0 >"$work/out" 2>&1
  check "events record the state change of path 1" \
    grep -q "$LAB_PORTAL_1.*TPG 1 active/non-optimized" "$work/out"
  stop_serve
  check "serve exits cleanly" test $? -eq 0
else
  echo "usage: alua_test.sh fallback|istgt"
  exit 2
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
