#!/usr/bin/env bash
# `mpio bench` against a real two-path tgtd lab: --out writes a consistent
# report (report.md, results.csv matching results.json, well-formed SVGs
# naming every policy), --via nbd runs fio through the NBD export, and bad
# arguments are refused before anything runs.
# Needs: MPIO_BIN, MPIO_LAB, MPIO_PLUGIN_DIR, MPIO_SOURCE_DIR; fio, python3.
set -uo pipefail
: "${MPIO_BIN:?}" "${MPIO_LAB:?}" "${MPIO_PLUGIN_DIR:?}" "${MPIO_SOURCE_DIR:?}"
eval "$(bash "$MPIO_SOURCE_DIR/tests/lab/lab.sh" env --name "$MPIO_LAB")"
export MPIO_PLUGIN_DIR
work=$(mktemp -d /tmp/mpio-bench-cli.XXXXXX)
source "$MPIO_SOURCE_DIR/tests/integration/lib.sh"
trap 'rm -rf "$work"' EXIT
portals=()
for p in $LAB_PORTALS; do portals+=(--portal "$p"); done

# ---- --out: every file, consistent with each other
out="$work/out/nested"   # does not exist yet: bench creates it
timeout 120 "$MPIO_BIN" bench "${portals[@]}" --policies "rr:iops=1,lqd" \
  -w randread:4k:qd8 -w read:64k:qd4 --duration 1 --out "$out" >"$work/stdout" 2>"$work/stderr"
rc=$?
check "bench --out: exit 0 (rc $rc)" test "$rc" -eq 0
for f in report.md results.csv results.json throughput.svg path_share.svg latency_cdf.svg; do
  check "bench --out: $f written" test -s "$out/$f"
done
check "report.md: machine, device, both workloads and both policies" python3 - "$out" <<'EOF'
import sys
md = open(sys.argv[1] + "/report.md").read()
for want in ("CPUs", "Linux", "naa.", "## randread:4k:qd8", "## read:64k:qd4",
             "| rr:iops=1 |", "| lqd |", "throughput.svg"):
    assert want in md, want
EOF
check "results.csv: fixed header, one row per policy x workload, numbers match results.json" \
  python3 - "$out" <<'EOF'
import csv, json, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(d + "/results.csv")))
js = json.load(open(d + "/results.json"))
head = open(d + "/results.csv").readline().strip()
assert head.startswith("policy,workload,via,iops,mib_per_s,p50_us,p99_us,p999_us,max_us,"), head
assert len(rows) == 4 == len(js), (len(rows), len(js))
assert [(r["policy"], r["workload"]) for r in rows] == [
    ("rr:iops=1", "randread:4k:qd8"), ("rr:iops=1", "read:64k:qd4"),
    ("lqd", "randread:4k:qd8"), ("lqd", "read:64k:qd4")], rows
for r, j in zip(rows, js):
    assert (r["policy"], r["workload"]) == (j["policy"], j["workload"])
    for k in ("iops", "mib_per_s", "p50_us", "p99_us", "max_us"):
        assert abs(float(r[k]) - j[k]) <= 0.06 + 1e-4 * abs(j[k]), (k, r[k], j[k])
    assert float(r["iops"]) > 0 and int(r["errors"]) == 0, r
    assert int(r["ios"]) == j["ios"], (r, j)
    # The engine's path counters saw the same I/Os (no ramp here).
    assert abs(sum(p["ios"] for p in j["paths"]) - j["ios"]) <= 0.01 * j["ios"] + 64, j
    assert len(j["cdf"]) > 0 and abs(j["cdf"][-1][1] - 1.0) < 1e-9
rr = js[0]["paths"]
assert len(rr) == 2 and all(p["ios"] > 0 for p in rr), rr
EOF
check "SVGs: well-formed XML, each names every policy, axes and a title" python3 - "$out" <<'EOF'
import sys, xml.etree.ElementTree as ET
for name in ("throughput.svg", "path_share.svg", "latency_cdf.svg"):
    text = open(sys.argv[1] + "/" + name).read()
    root = ET.fromstring(text.encode())
    assert root.tag.endswith("svg"), name
    assert root.find("{http://www.w3.org/2000/svg}title") is not None, name
    for want in ("rr:iops=1", "lqd", "randread:4k:qd8", "read:64k:qd4"):
        assert want in text, (name, want)
    assert "<line" in text, name
t = open(sys.argv[1] + "/throughput.svg").read()
assert "IOPS" in t and "MiB/s" in t
EOF
check "stdout: the table shows both policies" bash -c "
  grep -q 'rr:iops=1' '$work/stdout' && grep -q 'lqd' '$work/stdout' && grep -q 'Report:' '$work/stdout'"

# ---- --via nbd: fio through the NBD export
nbd="$work/nbd"
tmp_before=$(ls -d /tmp/mpio-bench.* 2>/dev/null | wc -l)
timeout 120 "$MPIO_BIN" bench "${portals[@]}" --policies "rr:iops=1" --via nbd \
  -w randread:4k:qd8 --duration 2 --out "$nbd" >"$work/stdout" 2>"$work/stderr"
rc=$?
check "bench --via nbd: exit 0 (rc $rc)" test "$rc" -eq 0
check "bench --via nbd: fio numbers, latency and both paths used" python3 - "$nbd" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1] + "/results.json"))
assert len(r) == 1 and r[0]["via"] == "nbd", r
x = r[0]
assert x["iops"] > 50 and x["ios"] > 100 and x["errors"] == 0, x
assert 0 < x["p50_us"] <= x["p99_us"] <= x["max_us"], x
assert 1.5 < x["seconds"] < 3, x
assert all(p["ios"] > 0 for p in x["paths"]), x["paths"]
# The engine saw at least what fio counted (fio's ramp-down adds a few).
assert sum(p["ios"] for p in x["paths"]) >= x["ios"] * 0.95, x
EOF
tmp_after=$(ls -d /tmp/mpio-bench.* 2>/dev/null | wc -l)
check "bench --via nbd: the export's socket dir is removed" test "$tmp_after" -eq "$tmp_before"

# ---- refusals (exit 2, message says what to fix, nothing run)
refuse() {
  local what=$1 want=$2; shift 2
  local start=$SECONDS
  timeout 60 "$MPIO_BIN" bench "$@" >/dev/null 2>"$work/err"; local rc=$?
  if [ "$rc" -eq 2 ] && grep -qi -- "$want" "$work/err" && [ $((SECONDS - start)) -le 30 ]; then
    ok "$what"
  else
    bad "$what (rc $rc: $(head -c 300 "$work/err"))"
  fi
}
refuse "unknown policy is refused" "nosuchpsp" "${portals[@]}" --policies nosuchpsp --duration 1
refuse "bad workload is refused with the format" "PATTERN:BLOCK:qdN" "${portals[@]}" \
  -w "randread:4k:deep" --duration 1
refuse "write workload without --allow-writes is refused" "allow-writes" "${portals[@]}" \
  -w "randrw:4k:qd8:rwmixread=70" --duration 1
touch "$work/afile"
refuse "unwritable --out is refused before the run" "$work/afile/sub" "${portals[@]}" \
  --duration 30 --out "$work/afile/sub"
refuse "unknown --via is refused" "via" "${portals[@]}" --via carrier-pigeon --duration 1
refuse "--via nbd with --verify is refused" "verify" "${portals[@]}" --via nbd --verify \
  --allow-writes --duration 1
refuse "no portal and no --nbd-uri is refused" "portal" --duration 1

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
