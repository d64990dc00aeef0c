#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine, as root:
#   1. installs every package (scripts/install-deps.sh),
#   2. builds the release preset and runs every test: unit tests, then the
#      integration tests against real tgtd/istgt targets in network
#      namespaces with real clients (nbdinfo, nbdcopy, qemu-img, fio,
#      losetup+mkfs+mount+fsck, promtool, prometheus),
#   3. builds the ASan+UBSan preset (clang) and runs the same suite under
#      the sanitizers, plus every libFuzzer target for a bounded time over
#      its committed seed corpus.
# Exit status 0 only if everything passed. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
stamp() { echo "== $(( $(date +%s) - start ))s: $*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/test.sh: run as root (the lab creates network namespaces, mounts, loop devices)" >&2
  exit 1
fi
stamp "installing packages"
bash scripts/install-deps.sh

# Labs left behind by a crashed earlier run would hold addresses; each lab
# name is ours (ci-*), so only those are taken down.
for lab in $(bash tests/lab/lab.sh list 2>/dev/null | awk '{print $2}' | grep '^ci-' || true); do
  bash tests/lab/lab.sh down --name "$lab" || true
done

presets=${MPIO_TEST_PRESETS:-"release asan"}
for preset in $presets; do
  stamp "building $preset"
  bash scripts/build.sh "$preset"
  stamp "testing $preset"
  # Unit and fuzz tests run two at a time; integration tests share the
  # machine's two cores with their targets and run one at a time.
  ctest --preset "$preset" -LE integration -j2 --timeout 600
  ctest --preset "$preset" -L integration -j1 --timeout 900
done
stamp "all tests passed"
