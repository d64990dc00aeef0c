#!/usr/bin/env bash
# soak.sh: the resource-bounds soak (issue #8) end to end: brings up a
# two-path lab, runs mpio_soak against it (default 10 minutes, random
# single-path flaps, RSS/fd/thread samples every 10 s), tears the lab down
# (also on failure or Ctrl-C). Run as root from anywhere:
#   bench/soak/soak.sh [--build DIR] [--lab NAME] [mpio_soak options...]
# e.g. bench/soak/soak.sh --build /tmp/build --duration 10m
# Build first: cmake --build DIR --target mpio_soak (builds the plugins too).
# Exit status is mpio_soak's: 0 PASS, 1 FAIL, 2 setup error.
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${src}/build"
lab="soak-lab"
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --lab) lab="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
bin="${build}/bench/soak/mpio_soak"
[[ -x "$bin" ]] || { echo "soak.sh: no $bin (cmake --build $build --target mpio_soak)" >&2; exit 2; }
labsh="${src}/tests/lab/lab.sh"
trap 'bash "$labsh" down --name "$lab" >/dev/null 2>&1 || true' EXIT
bash "$labsh" up --name "$lab" --paths 2 >/dev/null
rc=0
"$bin" --lab "$lab" --lab-script "$labsh" --plugin-dir "${build}/plugins" "${args[@]}" || rc=$?
exit "$rc"
