#!/usr/bin/env bash
# failover.sh: 2 paths, a verifying read/write workload (every read checks
# the stamp of the last write), and per fault on path 1 (link-down, then
# blackhole) a run that injects the fault, heals it, and reports:
#   - how long until the engine declared path 1 dead, and back active after
#     the heal (from the engine's timestamped log lines on mpio's stderr,
#     "path NAME: dead ..." / "path NAME: active"),
#   - the longest I/O stall (the run's max latency), errors and verify
#     failures (0 expected).
#
# Usage: sudo bench/scenarios/failover.sh [--duration S] [--fault-at S] [--heal-at S] [--out DIR]
# Default 24 s per fault (fault at 6 s, heal at 14 s): about 1 minute.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
duration=24 fault_at=6 heal_at=14 out=
while [ $# -gt 0 ]; do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --fault-at) fault_at=$2; shift 2 ;;
    --heal-at) heal_at=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
out=${out:-/tmp/mpio-bench-failover-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
echo "failover: 2 paths, faults on path 1 at ${fault_at}s, healed at ${heal_at}s, into $out"
lab_up bfail --paths 2
now() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }

for fault in link-down blackhole; do
  case $fault in link-down) heal=link-up ;; blackhole) heal=unblackhole ;; esac
  dir="$out/$fault"
  mkdir -p "$dir"
  echo "  $fault / $heal on path 1"
  # shellcheck disable=SC2046
  timeout $((duration + 90)) "$MPIO_BIN" bench $(portal_args) --policies "rr:iops=1" \
    -w randrw:4k:qd8:rwmixread=70 --verify --allow-writes --force --working-set 16m \
    --duration "$duration" --out "$dir" >"$dir/stdout.txt" 2>"$dir/stderr.txt" &
  bpid=$!
  own_pid "$bpid"
  # The run starts after login and the verify pre-fill (16 MiB, well under
  # a second here); wait for the workload's first PSP log line, bounded.
  for _ in $(seq 100); do grep -q "PSP set to" "$dir/stderr.txt" 2>/dev/null && break; sleep 0.1; done
  sleep "$fault_at"
  echo "fault $(now)" >"$dir/times.txt"
  lab_fault --path 1 "$fault"
  sleep $((heal_at - fault_at))
  echo "heal $(now)" >>"$dir/times.txt"
  lab_fault --path 1 "$heal"
  wait "$bpid"
  echo "rc $?" >>"$dir/times.txt"
done

python3 - "$out" "${LAB_PORTAL_1%:*}" <<'PY' | tee "$out/summary.md"
import datetime, json, os, re, sys
out, ip1 = sys.argv[1], sys.argv[2]
def ts(s): return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
print("| fault | declared dead after | back active after heal | longest I/O stall (max latency) | p99 | IOPS | errors | verify failures | exit |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
notes = []
for fault in ("link-down", "blackhole"):
    d = os.path.join(out, fault)
    times = dict(l.split(" ", 1) for l in open(os.path.join(d, "times.txt")).read().splitlines())
    t_fault, t_heal = ts(times["fault"].strip()), ts(times["heal"].strip())
    dead = back = None
    for line in open(os.path.join(d, "stderr.txt"), errors="replace"):
        m = re.match(r"(\S+Z)\s+\w+\s+device \S+: path (\S+): (\w+)", line)
        if not m or ip1 not in m.group(2):
            continue
        t = ts(m.group(1))
        if m.group(3) == "dead" and dead is None and t >= t_fault:
            dead = (t - t_fault).total_seconds()
        if m.group(3) == "active" and back is None and t >= t_heal:
            back = (t - t_heal).total_seconds()
    r = json.load(open(os.path.join(d, "results.json")))[0]
    f = lambda v: "not seen" if v is None else "%.2f s" % v
    print("| %s | %s | %s | %.0f ms | %.0f us | %.0f | %d | %d | %s |" % (fault, f(dead), f(back), r["max_us"] / 1000,
          r["p99_us"], r["iops"], r["errors"], r["verify_failures"], times.get("rc", "?").strip()))
    if r["first_error"]:
        notes.append("%s: first error: %s" % (fault, r["first_error"]))
for n in notes:
    print()
    print(n)
PY
echo "files: $out"
