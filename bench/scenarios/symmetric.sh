#!/usr/bin/env bash
# symmetric.sh N: N (2 or 4) paths rate-limited alike. Measures
#   (a) one path alone (mpio bench over one portal),
#   (b) mpio over all N paths, rr:iops=1 and lqd, in-process and --via nbd,
#   (c) the peer: qemu-nbd exporting the same LUN over ONE libiscsi session,
#       driven by the same fio nbd jobs (read-only workloads, so it is safe),
# and prints the ratios: aggregate / (N x one path) (goal >= 0.95),
# mpio-nbd / qemu-nbd for 4k random IOPS (goal 1.5) and 1M sequential MiB/s
# (goal 1.3), in-process / raw libiscsi (skipped: Debian's fio has no
# libiscsi engine), and CPU us per I/O.
#
# Usage: sudo bench/scenarios/symmetric.sh [N] [--duration S] [--rate MBIT] [--out DIR]
# Default 8 s per run, 200 Mbit/s per path: about 2 minutes.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
paths=2 duration=8 rate=200 out=
[ $# -gt 0 ] && [[ $1 != --* ]] && { paths=$1; shift; }
while [ $# -gt 0 ]; do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$paths" = 2 ] || [ "$paths" = 4 ] || { echo "N must be 2 or 4" >&2; exit 2; }
out=${out:-/tmp/mpio-bench-symmetric$paths-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
workloads=(-w randread:4k:qd32 -w read:1m:qd8)
common=(--duration "$duration" --ramp 1 "${workloads[@]}")

echo "symmetric: $paths paths at $rate Mbit/s each, ${duration}s per run, into $out"
lab_up bsym --paths "$paths" --rate "$rate" --size 512
# Read a LUN with data in it, not a sparse hole: fill it once (the lab LUN is
# fresh), so the target reads pages rather than nothing.
dd if=/dev/urandom of="$LAB_LUN_FILE" bs=1M count=512 conv=notrunc status=none

echo "(a) one path alone"
bench "$out/one-path" --portal "$LAB_PORTAL_1" --policies fixed "${common[@]}" || exit 1
echo "(b) mpio over $paths paths"
# shellcheck disable=SC2046
bench "$out/mpio-inproc" $(portal_args) --policies "rr:iops=1,lqd" "${common[@]}" || exit 1
# shellcheck disable=SC2046
bench "$out/mpio-nbd" $(portal_args) --policies "rr:iops=1,lqd" --via nbd "${common[@]}" || exit 1

echo "(c) qemu-nbd over one libiscsi session"
sock="$out/qemu-nbd.sock"
rm -f "$sock"
qemu-nbd --read-only --persistent --format=raw --socket="$sock" \
  "iscsi://$LAB_PORTAL_1/$LAB_TARGET_IQN/$LAB_LUN" 2>"$out/qemu-nbd.log" &
qpid=$!
own_pid "$qpid"
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
if [ -S "$sock" ]; then
  bench "$out/qemu-nbd" --nbd-uri "nbd+unix:///?socket=$sock" --label qemu-nbd \
    --server-pid "$qpid" "${common[@]}" || exit 1
else
  echo "qemu-nbd did not start:" >&2; cat "$out/qemu-nbd.log" >&2
fi
kill "$qpid" 2>/dev/null

python3 - "$out" "$paths" <<'PY' | tee "$out/summary.md"
import json, os, sys
out, n = sys.argv[1], int(sys.argv[2])
def load(name):
    p = os.path.join(out, name, "results.json")
    return json.load(open(p)) if os.path.exists(p) else []
one, inproc, nbd, qemu = load("one-path"), load("mpio-inproc"), load("mpio-nbd"), load("qemu-nbd")
def pick(rows, wl, key, policy=None):
    vals = [r[key] for r in rows if r["workload"] == wl and (policy is None or r["policy"] == policy)]
    return max(vals) if vals else None
def ratio(a, b): return "n/a" if not a or not b else "%.2f" % (a / b)
def goal(v, g): return "n/a" if v == "n/a" else ("met" if float(v) >= g else "NOT met")
print("| run | policy | workload | IOPS | MiB/s | p50 us | p99 us | max us | CPU us/IO | errors |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
for name, rows in (("one path", one), ("mpio in-process", inproc), ("mpio via nbd", nbd), ("qemu-nbd, 1 session", qemu)):
    for r in rows:
        print("| %s | %s | %s | %.0f | %.1f | %.0f | %.0f | %.0f | %.1f | %d |" % (name, r["policy"], r["workload"],
              r["iops"], r["mib_per_s"], r["p50_us"], r["p99_us"], r["max_us"], r["cpu_us_per_io"], r["errors"]))
print()
rows = []
for wl, key in (("randread:4k:qd32", "iops"), ("read:1m:qd8", "mib_per_s")):
    single = pick(one, wl, key)
    for pol in ("rr:iops=1", "lqd"):
        v = ratio(pick(inproc, wl, key, pol), n * single if single else None)
        rows.append(("aggregate in-process / (%d x one path), %s, %s" % (n, wl, pol), v, 0.95))
        v = ratio(pick(nbd, wl, key, pol), n * single if single else None)
        rows.append(("aggregate via nbd / (%d x one path), %s, %s" % (n, wl, pol), v, 0.95))
rows.append(("mpio-nbd / qemu-nbd, randread:4k:qd32 IOPS (best policy)",
             ratio(pick(nbd, "randread:4k:qd32", "iops"), pick(qemu, "randread:4k:qd32", "iops")), 1.5))
rows.append(("mpio-nbd / qemu-nbd, read:1m:qd8 MiB/s (best policy)",
             ratio(pick(nbd, "read:1m:qd8", "mib_per_s"), pick(qemu, "read:1m:qd8", "mib_per_s")), 1.3))
print("| ratio | value | goal | |")
print("|---|---:|---:|---|")
for name, v, g in rows:
    print("| %s | %s | >= %.2f | %s |" % (name, v, g, goal(v, g)))
print("| in-process / raw libiscsi | skipped | | Debian's fio 3.33 has no libiscsi engine |")
PY
echo "files: $out"
