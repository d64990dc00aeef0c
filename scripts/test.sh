#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine, as root:
#   1. installs every package (scripts/install-deps.sh),
#   2. builds the release preset (gcc, what users run) and runs the unit
#      tests,
#   3. builds the ASan+UBSan preset (clang) and runs, under the sanitizers,
#      the unit tests, every libFuzzer target for a bounded time over its
#      committed seed corpus, and the integration tests against real
#      tgtd/istgt targets in network namespaces with real clients (nbdinfo,
#      nbdcopy, qemu-img, fio, losetup+mkfs+mount+fsck, promtool, a real
#      prometheus server),
#   4. builds the concurrency tests (reactor, NBD server, control socket,
#      FUSE export, logger) with ThreadSanitizer and runs them; any race
#      fails them.
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

# Release (gcc, the build users run): build everything, unit tests. Debug
# info as line tables only (backtraces keep file:line; a quarter less build
# time).
stamp "building release"
bash scripts/build.sh release -DMPIO_LINE_TABLES=ON
stamp "unit tests (release)"
ctest --preset release -LE integration -j2 --timeout 600

# ASan+UBSan (clang): unit tests, every libFuzzer target and the whole
# integration suite under the sanitizers (LeakSanitizer reads
# tests/lsan.supp). Unit tests run two at a time; integration tests share
# the machine's two cores with their targets and run one at a time.
stamp "building asan"
bash scripts/build.sh asan
stamp "unit and fuzz tests (asan)"
ctest --preset asan -LE integration -j2 --timeout 600
stamp "integration tests (asan)"
ctest --preset asan -L integration -j1 --timeout 900

# ThreadSanitizer (clang): the tests whose threads meet (reactor hand-offs,
# NBD and FUSE workers, control socket, log writer). The engine synchronises
# through engine/base/sync.h (pthread-based, which TSan sees) rather than
# absl::Mutex, whose Debian build TSan cannot see into.
tsan_tests=(reactor_test nbd_server_test control_server_test fuse_export_test log_test)
stamp "building tsan (${tsan_tests[*]})"
cmake --preset tsan >/dev/null
cmake --build --preset tsan -j"$(nproc)" --target "${tsan_tests[@]}"
stamp "concurrency tests (tsan)"
ctest --preset tsan -R "^($(IFS='|'; echo "${tsan_tests[*]}"))\$" -j2 --timeout 600
stamp "all tests passed"
