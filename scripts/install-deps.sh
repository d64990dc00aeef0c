#!/usr/bin/env bash
# Installs every Debian package that the build, the tests and the demo need.
# Idempotent: packages already present are skipped; apt-get update runs once,
# and only when something is missing.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang clang-format
  libclang-rt-14-dev libfuzzer-14-dev
  # libraries
  libiscsi-dev liburing-dev libabsl-dev prometheus-cpp-dev doctest-dev
  libfuse3-dev libtomlplusplus-dev libcli11-dev nlohmann-json3-dev
  # test lab: targets, network, faults
  tgt istgt iproute2 nftables libiscsi-bin kmod
  # real clients
  libnbd-bin nbdkit qemu-utils qemu-block-extra fio fuse3 e2fsprogs util-linux
  prometheus curl procps psmisc
  # test scripts read JSON and drive pipes with it
  python3
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${missing[*]}; run as root (sudo bash $0)" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# tgt and prometheus ship services; this machine may have no init system to
# start them, and the tests start their own instances, so never start them.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}"
