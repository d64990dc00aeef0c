# shellcheck shell=bash
# Shared by the bench scenarios (sourced, not run): finds mpio and the
# plugins, brings a lab up under a unique name, and tears everything down on
# exit (the lab, and any process the scenario registered with `own_pid`).
# Needs root (the lab makes network namespaces).
#
# Environment: MPIO_BIN (default: build/mpio/mpio under the source tree or
# `mpio` on PATH), MPIO_PLUGIN_DIR (default: the build's plugin dir),
# OUT (default /tmp/mpio-bench-<scenario>-<time>).

scenario_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "$scenario_dir/../.." && pwd)
lab_sh="$source_dir/tests/lab/lab.sh"

find_build() {
  local b
  for b in "${MPIO_BUILD_DIR:-}" "$source_dir/build" /tmp/build-*; do
    [ -n "$b" ] && [ -x "$b/mpio/mpio" ] && { echo "$b"; return; }
  done
}
build=$(find_build)
MPIO_BIN=${MPIO_BIN:-${build:+$build/mpio/mpio}}
MPIO_BIN=${MPIO_BIN:-$(command -v mpio || true)}
[ -x "$MPIO_BIN" ] || { echo "mpio not found: set MPIO_BIN" >&2; exit 1; }
# The build puts plugins in <build>/plugins, beside <build>/mpio/mpio.
MPIO_PLUGIN_DIR=${MPIO_PLUGIN_DIR:-$(dirname "$(dirname "$MPIO_BIN")")/plugins}
export MPIO_PLUGIN_DIR
[ -f "$MPIO_PLUGIN_DIR/psp_rr.so" ] || { echo "plugins not found: set MPIO_PLUGIN_DIR" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "run as root (the lab makes network namespaces)" >&2; exit 1; }

lab_name=
owned_pids=()
own_pid() { owned_pids+=("$1"); }
cleanup() {
  set +e
  local p
  for p in "${owned_pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${owned_pids[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$p" 2>/dev/null
  done
  [ -n "$lab_name" ] && bash "$lab_sh" down --name "$lab_name" >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# lab_up NAME-PREFIX [lab.sh up args...]: sets LAB_* and lab_name.
lab_up() {
  local prefix=$1; shift
  lab_name="$prefix$$"
  local vars
  vars=$(bash "$lab_sh" up --name "$lab_name" "$@") || { echo "lab up failed" >&2; exit 1; }
  eval "$vars"
}
lab_fault() { bash "$lab_sh" fault --name "$lab_name" "$@" >/dev/null; }

portal_args() {  # all lab portals as --portal flags
  local p; for p in $LAB_PORTALS; do printf -- '--portal %s ' "$p"; done
}

# bench OUTDIR ARGS...: one `mpio bench` run, bounded in time, with its
# stdout in OUTDIR/stdout.txt and stderr (engine log) in OUTDIR/stderr.txt.
bench() {
  local dir=$1; shift
  mkdir -p "$dir"
  echo "  mpio bench $* --out $dir" >&2
  timeout "${BENCH_TIMEOUT:-600}" "$MPIO_BIN" bench "$@" --out "$dir" >"$dir/stdout.txt" \
    2>"$dir/stderr.txt"
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "  mpio bench failed (exit $rc); see $dir/stderr.txt:" >&2
    tail -5 "$dir/stderr.txt" >&2
  fi
  return $rc
}

machine_line() {
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(hostname), $(nproc) CPUs ($(grep -m1 'model name' \
    /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
}
