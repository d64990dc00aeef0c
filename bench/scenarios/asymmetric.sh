#!/usr/bin/env bash
# asymmetric.sh: 2 paths, path 2 at a quarter of path 1's rate. Runs
# rr:iops=1, rr:policy=latency, lqd and st over the same workloads and
# prints best adaptive / rr:iops=1 throughput (goal >= 1.3) and the p99s.
#
# Usage: sudo bench/scenarios/asymmetric.sh [--duration S] [--rate MBIT] [--out DIR]
# Default 8 s per run, 200 Mbit/s on path 1 (50 on path 2): about 90 s.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
duration=8 rate=200 out=
while [ $# -gt 0 ]; do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
out=${out:-/tmp/mpio-bench-asymmetric-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
slow=$((rate / 4))
echo "asymmetric: path 1 at $rate Mbit/s, path 2 at $slow Mbit/s, ${duration}s per run, into $out"
lab_up basym --paths 2 --rate "$rate"
dd if=/dev/urandom of="$LAB_LUN_FILE" bs=1M count=256 conv=notrunc status=none
lab_fault --path 2 slow --rate "$slow"
# shellcheck disable=SC2046
bench "$out/run" $(portal_args) --policies "rr:iops=1,rr:policy=latency,lqd,st" \
  -w randread:4k:qd32 -w read:1m:qd8 --duration "$duration" --ramp 1 || exit 1

python3 - "$out/run/results.json" <<'PY' | tee "$out/summary.md"
import json, sys
rows = json.load(open(sys.argv[1]))
print("| policy | workload | IOPS | MiB/s | p50 us | p99 us | max us | path 1 share | errors |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    tot = sum(p["ios"] for p in r["paths"]) or 1
    print("| %s | %s | %.0f | %.1f | %.0f | %.0f | %.0f | %.0f%% | %d |" % (r["policy"], r["workload"], r["iops"],
          r["mib_per_s"], r["p50_us"], r["p99_us"], r["max_us"], 100.0 * r["paths"][0]["ios"] / tot, r["errors"]))
print()
print("| workload | rr:iops=1 | best adaptive | ratio | goal >= 1.3 | p99 rr:iops=1 | p99 best adaptive |")
print("|---|---:|---|---:|---|---:|---:|")
for wl, key in (("randread:4k:qd32", "iops"), ("read:1m:qd8", "mib_per_s")):
    mine = [r for r in rows if r["workload"] == wl]
    base = next(r for r in mine if r["policy"] == "rr:iops=1")
    best = max((r for r in mine if r["policy"] != "rr:iops=1"), key=lambda r: r[key])
    ratio = best[key] / base[key] if base[key] else 0
    unit = "IOPS" if key == "iops" else "MiB/s"
    print("| %s | %.1f %s | %s: %.1f | %.2f | %s | %.0f us | %.0f us |" % (wl, base[key], unit, best["policy"],
          best[key], ratio, "met" if ratio >= 1.3 else "NOT met", base["p99_us"], best["p99_us"]))
PY
echo "files: $out"
