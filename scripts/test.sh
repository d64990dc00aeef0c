#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine, as root:
#   1. installs every package (scripts/install-deps.sh),
#   2. builds the release preset and runs every test: unit tests, then the
#      integration tests against real tgtd/istgt targets in network
#      namespaces with real clients (nbdinfo, nbdcopy, qemu-img, fio,
#      losetup+mkfs+mount+fsck, promtool, a real prometheus server),
#   3. builds the ASan+UBSan preset (clang) and runs the unit tests and every
#      libFuzzer target for a bounded time over its committed seed corpus.
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

# Release: build, unit tests, then the integration tests (real targets and
# clients). Unit tests run two at a time; integration tests share the
# machine's two cores with their targets and run one at a time.
stamp "building release"
bash scripts/build.sh release
stamp "unit tests (release)"
ctest --preset release -LE integration -j2 --timeout 600
stamp "integration tests (release)"
ctest --preset release -L integration -j1 --timeout 900

# ASan+UBSan (clang): unit tests and every libFuzzer target under the
# sanitizers. The integration suite under ASan is not in CI yet: its first
# by-hand run found a use-after-free and the target-restart hang (both
# fixed since) and a leak report not yet re-checked. There is a "tsan"
# preset, but Debian's Abseil is not built with -fsanitize=thread, so TSan
# cannot see absl::Mutex/Notification and reports false races: not in CI.
stamp "building asan"
bash scripts/build.sh asan
stamp "unit and fuzz tests (asan)"
ctest --preset asan -LE integration -j2 --timeout 600
stamp "all tests passed"
