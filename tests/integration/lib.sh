# Shared by the integration test scripts (source it after `set -uo pipefail`):
# pass/fail counting, bounded process stops, waiting for `mpio serve`.
# Each script ends with `finish`, which prints the tally and sets the exit
# status.
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   - $* [${SECONDS}s]"; }
bad() { fail=$((fail + 1)); echo "FAIL - $* [${SECONDS}s]"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

stop() {  # stop PID: SIGTERM, bounded wait, then SIGKILL; only our own PIDs
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  wait "$pid" 2>/dev/null
}

# wait_ready LOG PID [SECONDS]: until `mpio serve` logs "ready" (default
# 20 s); fails at once when PID has exited.
wait_ready() {
  for _ in $(seq 1 $((${3:-20} * 10))); do
    grep -q ' ready' "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

wait_for_line() {  # wait_for_line FILE REGEX SECONDS
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt "$deadline" ]; do
    grep -Eq "$2" "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

finish() {
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}

# term_and_wait PID SECONDS: SIGTERM, then the exit status within SECONDS;
# 124 (and SIGKILL) when it did not exit in time.
term_and_wait() {
  local pid=$1 deadline=$((SECONDS + $2))
  kill -TERM "$pid" 2>/dev/null
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge "$deadline" ]; then
      kill -KILL "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
      return 124
    fi
    sleep 0.1
  done
  wait "$pid"
}

# path_field PORTAL FIELD: one field of the path to PORTAL in
# `mpio path list --json` (the daemon at $MPIO_CONTROL).
path_field() {
  "$MPIO_BIN" path list --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
paths = d.get("paths", d) if isinstance(d, dict) else d
print([p for p in paths if p["portal"] == sys.argv[1]][0][sys.argv[2]])' "$1" "$2"
}
# first_path: the name of path 0 in `mpio path list --json`.
first_path() {
  "$MPIO_BIN" path list --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
paths = d.get("paths", d) if isinstance(d, dict) else d
print(paths[0]["name"])'
}
