#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine, as root: install, build, start a
# two-portal iSCSI target on this machine (tgtd in a network namespace, one
# veth link per path, each link rate-limited like a real NIC), mount a
# multipathed LUN with `mpio mount`, run a short workload on the filesystem,
# and show what each path carried. Cleans up after itself.
# Environment: DEMO_RATE_MBIT (per path, default 400), DEMO_SECONDS (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
rate=${DEMO_RATE_MBIT:-400}
seconds=${DEMO_SECONDS:-10}
mnt=/mnt/mpio-demo
lab=demo

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/demo.sh: run as root (network namespaces, loop devices, mount)" >&2
  exit 1
fi
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Installing packages and building (release)"
bash scripts/install-deps.sh
bash scripts/build.sh release
mpio=$repo/build/release/mpio/mpio

cleanup() {
  set +e
  if mountpoint -q "$mnt"; then "$mpio" umount "$mnt"; fi
  bash tests/lab/lab.sh down --name "$lab" >/dev/null 2>&1
}
trap cleanup EXIT

say "Starting a two-portal target: tgtd in netns mpio-$lab, 2 links of $rate Mbit/s"
bash tests/lab/lab.sh down --name "$lab" >/dev/null 2>&1 || true
eval "$(bash tests/lab/lab.sh up --name "$lab" --paths 2 --rate "$rate" --size 1024)"
portals=()
for p in $LAB_PORTALS; do portals+=(--portal "$p"); done

say "mpio discover ${portals[*]}"
"$mpio" discover "${portals[@]}" --target "$LAB_TARGET_IQN"

say "mpio mount: FUSE file + loop device + ext4 on $mnt"
"$mpio" mount "${portals[@]}" --target "$LAB_TARGET_IQN" --mkfs ext4 "$mnt"
control=$(find /run/mpio/mounts -name control.sock -path "*mnt_mpio-demo*" | head -n1)

say "mpio device list"
"$mpio" device list --control "$control"

say "Workload: 256 MiB of files written, flushed and read back; then fio randrw for ${seconds}s"
dd if=/dev/urandom of="$mnt/data.bin" bs=1M count=256 status=none
sum_before=$(sha256sum "$mnt/data.bin" | cut -d' ' -f1)
sync
echo 3 > /proc/sys/vm/drop_caches
sum_after=$(sha256sum "$mnt/data.bin" | cut -d' ' -f1)
[ "$sum_before" = "$sum_after" ] && echo "checksum after re-read from the LUN: OK ($sum_after)" \
  || { echo "CHECKSUM MISMATCH" >&2; exit 1; }
fio --name=demo --directory="$mnt" --size=128M --rw=randrw --bs=64k --iodepth=16 \
    --ioengine=libaio --direct=1 --time_based --runtime="$seconds" --group_reporting \
    --output-format=terse --terse-version=3 | awk -F';' '{printf "fio: read %.1f MiB/s, write %.1f MiB/s\n", $7/1024, $48/1024}'

say "Per-path numbers (mpio path list)"
"$mpio" path list --control "$control"

say "mpio umount $mnt"
"$mpio" umount "$mnt"
echo "Done. Each path carried its share of the I/O; see the table above."
