#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine, as root:
#   1. installs every package (scripts/install-deps.sh),
#   2. builds the release preset and runs the unit tests,
#   3. builds the ASan+UBSan preset (clang) and runs every test under the
#      sanitizers: unit tests, every libFuzzer target for a bounded time over
#      its committed seed corpus, and the integration tests against real
#      tgtd/istgt targets in network namespaces with real clients (nbdinfo,
#      nbdcopy, qemu-img, fio, losetup+mkfs+mount+fsck, promtool, prometheus).
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

# Release: build and unit tests (the demo and benchmarks use this build).
stamp "building release"
bash scripts/build.sh release
stamp "unit tests (release)"
ctest --preset release -LE integration -j2 --timeout 600

# ASan+UBSan: the whole suite, unit, fuzz and integration, under the
# sanitizers. Unit and fuzz tests run two at a time; integration tests share
# the machine's two cores with their targets and run one at a time.
stamp "building asan"
bash scripts/build.sh asan
stamp "unit and fuzz tests (asan)"
ctest --preset asan -LE integration -j2 --timeout 600
stamp "integration tests (asan)"
ctest --preset asan -L integration -j1 --timeout 900
stamp "all tests passed"
