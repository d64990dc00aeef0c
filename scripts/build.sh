#!/usr/bin/env bash
# Configures and builds one CMake preset: release (default), debug, asan or
# tsan. Further arguments go to the configure step (e.g. -DMPIO_LINE_TABLES=ON).
# Usage: scripts/build.sh [PRESET [CMAKE-ARGS...]]
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
shift || true
cmake --preset "$preset" "$@" >/dev/null
cmake --build --preset "$preset" -j"$(nproc)"
