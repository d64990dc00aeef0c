#!/usr/bin/env bash
# `mpio serve` as a service on a real two-path tgtd lab: configured by a TOML
# file, metrics on 127.0.0.1:9580 by default (a second daemon warns and runs
# without), SIGHUP reloads claim rules and the log level while a verifying
# fio workload runs through the FUSE file with no error, a broken config on
# SIGHUP is refused and the old rules stay, the op/kind labels and the
# per-device failover counter on /metrics, SIGTERM exits 0.
# Needs: MPIO_BIN, MPIO_LAB, MPIO_PLUGIN_DIR, MPIO_SOURCE_DIR; fio, curl.
set -uo pipefail
: "${MPIO_BIN:?}" "${MPIO_LAB:?}" "${MPIO_PLUGIN_DIR:?}" "${MPIO_SOURCE_DIR:?}"
eval "$(bash "$MPIO_SOURCE_DIR/tests/lab/lab.sh" env --name "$MPIO_LAB")"
work=$(mktemp -d /tmp/mpio-daemon.XXXXXX)
source "$MPIO_SOURCE_DIR/tests/integration/lib.sh"
serve_pid= second_pid= fio_pid=
cleanup() {
  set +e
  stop "$fio_pid"
  stop "$second_pid"
  stop "$serve_pid"
  mountpoint -q "$work/fuse" && fusermount3 -uz "$work/fuse"
  rm -rf "$work"
}
trap cleanup EXIT
metrics() { curl -sf --max-time 5 http://127.0.0.1:9580/metrics; }

if curl -s --max-time 2 -o /dev/null http://127.0.0.1:9580/; then
  echo "127.0.0.1:9580 is already in use on this host: cannot test the default"
  echo "0 passed, 1 failed"
  exit 1
fi

mkdir -p "$work/fuse"
portal_list=$(printf '"%s", ' $LAB_PORTALS)
write_config() {  # write_config LOG_LEVEL [extra rule TOML]
  cat >"$work/mpio.toml" <<EOF
[engine]
plugin_dirs = ["$MPIO_PLUGIN_DIR"]
no_path_retry = "30s"

[[target]]
portals = [${portal_list%, }]
iqn = "$LAB_TARGET_IQN"

[[claim_rule]]
id = 100
vendor = "$LAB_VENDOR"
satp = "default_aa"
psp = "rr"
psp_options = "policy=iops;iops=1"
description = "first rule"
$2

[fuse]
dir = "$work/fuse"

[control]
socket = "$work/control.sock"

[log]
level = "$1"
EOF
}
write_config info ""
"$MPIO_BIN" serve --config "$work/mpio.toml" >"$work/serve.log" 2>&1 &
serve_pid=$!
if ! wait_ready "$work/serve.log" "$serve_pid"; then
  cat "$work/serve.log"
  echo "0 passed, 1 failed"
  exit 1
fi
export MPIO_CONTROL=$work/control.sock
ok "serve --config: ready"
check "metrics on 127.0.0.1:9580 by default" bash -c "curl -sf --max-time 5 http://127.0.0.1:9580/metrics | grep -q '^mpio_devices 1'"
check "the log says where /metrics is" grep -q 'metrics: http://127.0.0.1:9580/metrics' "$work/serve.log"

# A second daemon (as a second `mpio mount` would start) finds the default
# port taken: it warns and serves anyway.
"$MPIO_BIN" serve --portal "${LAB_PORTAL_1}" --target "$LAB_TARGET_IQN" \
  --plugin-dir "$MPIO_PLUGIN_DIR" --control "$work/control2.sock" >"$work/serve2.log" 2>&1 &
second_pid=$!
check "second daemon: ready although 127.0.0.1:9580 is taken" wait_ready "$work/serve2.log" "$second_pid"
check "second daemon: warns that metrics are off and how to choose a port" \
  grep -q 'WARN.*metrics off: the default 127.0.0.1:9580 is not available.*--metrics HOST:PORT' "$work/serve2.log"
stop "$second_pid"; second_pid=
# An address the administrator gave that cannot be bound is an error.
"$MPIO_BIN" serve --portal "${LAB_PORTAL_1}" --target "$LAB_TARGET_IQN" \
  --plugin-dir "$MPIO_PLUGIN_DIR" --control "$work/control3.sock" \
  --metrics 127.0.0.1:9580 >"$work/serve3.log" 2>&1 &
third_pid=$!
for _ in $(seq 1 100); do kill -0 "$third_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$third_pid" 2>/dev/null; then
  bad "an explicit busy --metrics address is an error"; stop "$third_pid"
else
  wait "$third_pid"; rc=$?
  check "an explicit busy --metrics address is an error (exit $rc)" test "$rc" -ne 0
fi

# ---- SIGHUP under load
file=$(ls "$work/fuse" | head -1)
fio --name=hup --filename="$work/fuse/$file" --rw=randrw --bs=4k --size=16m \
  --iodepth=1 --time_based --runtime=14 --verify=crc32c --verify_fatal=1 \
  --do_verify=1 --output="$work/fio.out" >/dev/null 2>&1 &
fio_pid=$!
sleep 3
write_config debug '
[[claim_rule]]
id = 200
vendor = "Other*"
satp = "default_aa"
psp = "mru"
description = "added by reload"'
kill -HUP "$serve_pid"
for _ in $(seq 1 50); do grep -q 'reloaded: 2 claim rules' "$work/serve.log" && break; sleep 0.1; done
check "SIGHUP: reloaded, the log says what" grep -q 'reloaded: 2 claim rules, log level debug' "$work/serve.log"
check "SIGHUP: the new rule is live" bash -c "'$MPIO_BIN' rule list --json | python3 -c '
import json, sys
ids = [r[\"id\"] for r in json.load(sys.stdin)]
assert ids == [100, 200], ids'"
sleep 2
echo 'this is not toml = = =' >>"$work/mpio.toml"
kill -HUP "$serve_pid"
for _ in $(seq 1 50); do grep -q 'SIGHUP: config not reloaded' "$work/serve.log" && break; sleep 0.1; done
check "SIGHUP with a broken config: refused, file and line named" \
  grep -q 'ERROR.*SIGHUP: config not reloaded: .*mpio.toml:[0-9]' "$work/serve.log"
check "... and the rules in force stay" bash -c "'$MPIO_BIN' rule list --json | python3 -c '
import json, sys
assert [r[\"id\"] for r in json.load(sys.stdin)] == [100, 200]'"
check "... and the daemon is still up" kill -0 "$serve_pid"
wait "$fio_pid"; rc=$?; fio_pid=
check "fio verify through FUSE across both reloads: exit 0" test "$rc" -eq 0
check "... no I/O error, no verify failure" bash -c "grep -q 'err= 0' '$work/fio.out' && ! grep -qi 'verify.*fail\|bad magic' '$work/fio.out'"

# ---- metrics: op and kind labels, the failover counter
check "/metrics: per-path I/Os by op" bash -c "metrics() { curl -sf --max-time 5 http://127.0.0.1:9580/metrics; }; [ \$(metrics | grep -c '^mpio_path_ios_total{.*op=\"write\"} [1-9]') -ge 1 ]"
check "/metrics: latency histogram by op" bash -c "curl -sf --max-time 5 http://127.0.0.1:9580/metrics | grep -q '^mpio_path_latency_seconds_count{.*op=\"read\"} [1-9]'"
check "/metrics: errors by kind" bash -c "curl -sf --max-time 5 http://127.0.0.1:9580/metrics | grep -q '^mpio_path_errors_total{.*kind=\"scsi\"} '"
before=$(metrics | awk '/^mpio_device_failovers_total/ {print $2}')
path1=$(first_path)
"$MPIO_BIN" path fail --path "$path1" >/dev/null 2>&1
after=$before
for _ in $(seq 1 50); do
  after=$(metrics | awk '/^mpio_device_failovers_total/ {print $2}')
  [ "${after:-0}" != "${before:-0}" ] && break
  sleep 0.1
done
check "/metrics: mpio_device_failovers_total counts a failed path ($before -> $after)" \
  test "${after:-0}" -gt "${before:-0}"
check "/metrics: promtool check metrics" bash -c "curl -sf --max-time 5 http://127.0.0.1:9580/metrics | promtool check metrics"

# ---- SIGTERM
kill -TERM "$serve_pid"; wait "$serve_pid"; rc=$?; serve_pid=
check "SIGTERM: exit 0" test "$rc" -eq 0
check "SIGTERM: FUSE unmounted" bash -c "! mountpoint -q '$work/fuse'"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
