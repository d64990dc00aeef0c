#!/usr/bin/env bash
# lab.sh: the mpio real-target test lab.
#
# Brings up an iSCSI target (tgtd or istgt) inside its own network namespace,
# reachable from the host over N veth "paths" in 198.18.0.0/15, and injects
# bounded, reversible path faults. Used by the integration tests and by
# humans; run as root. `lab.sh help` prints the usage. tests/lab/README.md
# has the address plan and what each target does and doesn't support.
#
# State: /run/mpio-lab/ (index allocation, lost on reboot) and
# /var/tmp/mpio-lab/NAME/ (config, PID, logs, LUN file). Every object the
# lab creates is named after its index or name, so `down` removes exactly
# what `up` made and nothing else.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SCRIPT_PATH="${SCRIPT_DIR}/$(basename "${BASH_SOURCE[0]}")"
readonly SCRIPT_DIR SCRIPT_PATH
readonly RUN_DIR="/run/mpio-lab"
readonly LAB_ROOT="/var/tmp/mpio-lab"
readonly MAX_LABS=128          # 128 labs x 4 paths = 512 /24s = 198.18.0.0/15
readonly MAX_PATHS=4
readonly ISCSI_PORT=3261
readonly TGTD_CTL_BASE=14600   # tgtd control "port" (unix socket suffix)
readonly SAFETY_METRIC=4242    # metric of the per-lab unreachable route
readonly GUARD_NET=198.18.0.0/15
readonly GUARD_METRIC=4243     # lab-wide unreachable route, kept after down
readonly TBF_BURST=524288      # bytes; small buckets wedge on veth GSO
readonly TBF_LATENCY=100ms

log() { printf 'lab: %s\n' "$*" >&2; }
die() {
  printf 'lab: error: %s\n' "$*" >&2
  exit 1
}

usage() {
  cat <<'EOF'
usage: lab.sh COMMAND [OPTIONS]   (run as root)

  up --name NAME --paths N [--rate MBIT] [--target tgtd|istgt] [--size MiB]
     [--vendor V] [--model M] [--lun-file PATH]
        Create netns mpio-NAME with N (1..4) veth paths and start the target.
        Prints the same variables as `env` on stdout (eval-able).
        Defaults: --target tgtd, --size 256, --vendor TrueNAS,
        --model "iSCSI Disk", LUN file /var/tmp/mpio-lab/NAME/lun.img
        (a given --lun-file is created if missing and never deleted).
  down --name NAME      Stop the target, delete netns/veths/routes/state.
                        Idempotent; `down --all` downs every registered lab.
  env --name NAME       Print shell-sourceable LAB_* variables.
  status --name NAME    Human-readable state of the lab and each path.
  list                  Registered labs: index and name.
  fault --name NAME [--path I] FAULT
        link-down | link-up        host-side veth of path I down/up
        blackhole | unblackhole    silently drop path I both ways (no RST)
        slow --rate MBIT | fast    change path I's rate limit / restore the
                                   up-time rate (none if up had no --rate)
        hold | release             SIGSTOP / SIGCONT the target (TCP still
                                   accepts, iSCSI stops answering)
        kill-target                SIGKILL the target (all paths)
        restart-target             (re)start it with the same config and LUN
        lun-remove | lun-add       tgtd only: delete the LUN on every portal /
                                   add it back with the same identity and data
        twin-add --mib N | twin-remove
                                   tgtd only: a second target, IQN+"-twin",
                                   on every portal, whose LUN claims the lab
                                   LUN's identity (same scsi_id/scsi_sn) but
                                   is N MiB of its own file: paths that
                                   disagree about the LUN's size
        resize --mib N             tgtd only: truncate the lab's own LUN file
                                   to N MiB (data past it is gone; growing
                                   adds zeros) and have tgtd reopen it: the
                                   LUN changes size under running sessions,
                                   with no UNIT ATTENTION (tgtd raises none)
        digest-crc32c | digest-none  tgtd only: offer CRC32C header digests on
                                   new logins / offer None only (the default)
        chap-on --user U --secret S [--mutual-user MU --mutual-secret MS]
                                   tgtd only: new logins to the target must
                                   pass CHAP as U/S (replaces any earlier
                                   chap-on); with --mutual-*, the target
                                   answers the initiator's challenge as MU/MS
                                   (mutual CHAP). Sessions already logged in
                                   stay. Discovery sessions need no CHAP
                                   (tgtd has no discovery auth). Kept across
                                   restart-target. Secrets: 1..255 chars of
                                   [A-Za-z0-9_.:@+=-]; this is a test lab,
                                   they show in `ps` while tgtadm runs.
        chap-off                   tgtd only: delete every account (logins
                                   need no CHAP again)
        alua-ao | alua-an          istgt only: SET TARGET PORT GROUPS to move
                                   path I's port group to active/optimized or
                                   active/non-optimized (not persistent)
  scsi --name NAME --path I CDB_HEX [ALLOC_LEN | -w DATA_HEX]
        Send one raw CDB to the lab LUN over path I (lab_probe, libiscsi).
  self-test             Bring up a tgtd and an istgt lab, check them and the
                        faults, tear down, check nothing is left.
  help                  This text.
EOF
}

need_root() { [[ ${EUID} -eq 0 ]] || die "must run as root"; }

need_cmd() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || die "missing command: $c"
  done
}

valid_name() {
  [[ $1 =~ ^[a-z0-9][a-z0-9_-]{0,31}$ ]] ||
    die "bad --name '$1': use 1..32 of [a-z0-9_-], starting alnum"
}

# ---------------------------------------------------------------- addresses

# Path I of lab IDX uses 198.<18+K/256>.<K%256>.0/30 with K = IDX*4 + I-1;
# the host side is .1, the target side .2.
path_net() {
  local idx=$1 i=$2 k
  k=$((idx * 4 + i - 1))
  printf '198.%d.%d' $((18 + k / 256)) $((k % 256))
}
host_ip() { printf '%s.1' "$(path_net "$1" "$2")"; }
target_ip() { printf '%s.2' "$(path_net "$1" "$2")"; }
# The four paths of a lab sit in one /22; an unreachable route for it with a
# high metric keeps traffic for a downed path from following the default
# route off the machine.
lab_net22() { printf '%s.0/22' "$(path_net "$1" 1)"; }
host_if() { printf 'mpl%dp%d' "$1" "$2"; }
target_if() { printf 'mpl%dt%d' "$1" "$2"; }

# ------------------------------------------------------------ index and lock

with_lock() {
  mkdir -p "${RUN_DIR}/index" "${RUN_DIR}/names"
  local rc=0
  {
    flock -w 30 9 || die "could not take ${RUN_DIR}/lock"
    "$@" || rc=$?
  } 9>"${RUN_DIR}/lock"
  return "$rc"
}

alloc_index_locked() {
  local name=$1 idx
  if [[ -e "${RUN_DIR}/names/${name}" ]]; then
    echo "lab '${name}' is already up (index $(cat "${RUN_DIR}/names/${name}")); run down first" >&2
    return 1
  fi
  for ((idx = 0; idx < MAX_LABS; idx++)); do
    if (set -o noclobber; echo "${name}" >"${RUN_DIR}/index/${idx}") 2>/dev/null; then
      echo "${idx}" >"${RUN_DIR}/names/${name}"
      echo "${idx}"
      return 0
    fi
  done
  echo "all ${MAX_LABS} lab indexes are in use" >&2
  return 1
}

free_index_locked() {
  local name=$1 idx
  [[ -e "${RUN_DIR}/names/${name}" ]] || return 0
  idx=$(cat "${RUN_DIR}/names/${name}")
  if [[ -n ${idx} && "$(cat "${RUN_DIR}/index/${idx}" 2>/dev/null)" == "${name}" ]]; then
    rm -f "${RUN_DIR}/index/${idx}"
  fi
  rm -f "${RUN_DIR}/names/${name}"
}

# ---------------------------------------------------------------- lab config

lab_dir() { printf '%s/%s' "${LAB_ROOT}" "$1"; }

# Loads lab.conf of NAME into LAB_CONF_* shell variables.
load_conf() {
  local name=$1 f
  f="$(lab_dir "$name")/lab.conf"
  [[ -r $f ]] || die "lab '${name}' is not up (no ${f})"
  # shellcheck disable=SC1090
  source "$f"
}

write_conf() {
  local f
  f="$(lab_dir "${C_NAME}")/lab.conf"
  {
    local v
    for v in C_NAME C_IDX C_PATHS C_RATE C_KIND C_SIZE_MIB C_VENDOR C_MODEL \
      C_LUN_FILE C_LUN_OWNED C_IQN C_TID C_LUN C_CTL_PORT C_SERIAL C_SCSI_ID; do
      printf '%s=%q\n' "$v" "${!v}"
    done
  } >"${f}.tmp"
  mv -f "${f}.tmp" "$f"
}

netns_of() { printf 'mpio-%s' "$1"; }

# ------------------------------------------------------------------- network

setup_paths() {
  local ns i hif tif
  ns=$(netns_of "${C_NAME}")
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip route add unreachable "$(lab_net22 "${C_IDX}")" metric "${SAFETY_METRIC}"
  # Kept after `down` (until `down --all`): an initiator still retrying a
  # torn-down lab's portal gets EHOSTUNREACH instead of using the default
  # route.
  ip route replace unreachable "${GUARD_NET}" metric "${GUARD_METRIC}"
  for ((i = 1; i <= C_PATHS; i++)); do
    hif=$(host_if "${C_IDX}" "$i")
    tif=$(target_if "${C_IDX}" "$i")
    ip link add "$hif" type veth peer name "$tif" netns "$ns"
    # No IPv6 chatter (DAD, router solicitations) on the lab links.
    sysctl -qw "net.ipv6.conf.${hif}.disable_ipv6=1" 2>/dev/null || true
    ip netns exec "$ns" sysctl -qw "net.ipv6.conf.${tif}.disable_ipv6=1" 2>/dev/null || true
    ip addr add "$(host_ip "${C_IDX}" "$i")/30" dev "$hif"
    ip -n "$ns" addr add "$(target_ip "${C_IDX}" "$i")/30" dev "$tif"
    ip link set "$hif" up
    ip -n "$ns" link set "$tif" up
    if [[ -n ${C_RATE} ]]; then
      set_rate "$i" "${C_RATE}"
    fi
  done
}

# Rate limit path I in both directions: egress of the host end (writes) and
# of the target end (reads).
set_rate() {
  local i=$1 rate=$2 ns
  ns=$(netns_of "${C_NAME}")
  tc qdisc replace dev "$(host_if "${C_IDX}" "$i")" root tbf rate "${rate}mbit" \
    burst "${TBF_BURST}" latency "${TBF_LATENCY}"
  tc -n "$ns" qdisc replace dev "$(target_if "${C_IDX}" "$i")" root tbf \
    rate "${rate}mbit" burst "${TBF_BURST}" latency "${TBF_LATENCY}"
}

clear_rate() {
  local i=$1 ns
  ns=$(netns_of "${C_NAME}")
  tc qdisc del dev "$(host_if "${C_IDX}" "$i")" root 2>/dev/null || true
  tc -n "$ns" qdisc del dev "$(target_if "${C_IDX}" "$i")" root 2>/dev/null || true
}

# ------------------------------------------------------------------- targets

# True if PID exists and is not a zombie (our targets are reparented to
# PID 1, which may take a while to reap them).
pid_alive() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z && $st != X ]]
}

target_pid_file() { printf '%s/target.pid' "$(lab_dir "${C_NAME}")"; }

# Prints the recorded target PID if that process is still our target.
live_target_pid() {
  local pf pid comm
  pf=$(target_pid_file)
  [[ -r $pf ]] || return 1
  pid=$(cat "$pf")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  pid_alive "$pid" || return 1
  comm=$(cat "/proc/${pid}/comm" 2>/dev/null) || return 1
  [[ $comm == "${C_KIND}" ]] || return 1
  # Same binary could be someone else's after PID reuse: check our args.
  tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null |
    grep -qF -- "$(target_marker_arg)" || return 1
  echo "$pid"
}

target_marker_arg() {
  if [[ ${C_KIND} == tgtd ]]; then
    printf -- '-C %d' "${C_CTL_PORT}"
  else
    printf '%s/istgt.conf' "$(lab_dir "${C_NAME}")"
  fi
}

portals_csv() {
  local i out=""
  for ((i = 1; i <= C_PATHS; i++)); do
    out+="${out:+,}portal=$(target_ip "${C_IDX}" "$i"):${ISCSI_PORT}"
  done
  printf '%s' "$out"
}

write_istgt_conf() {
  local dir i
  dir=$(lab_dir "${C_NAME}")
  cat >"${dir}/auth.conf" <<'EOF'
# mpio lab: no CHAP; istgt wants an AuthFile all the same.
[AuthGroup1]
  Comment "unused"
EOF
  {
    cat <<EOF
# Generated by tests/lab/lab.sh for lab ${C_NAME}; do not edit.
[Global]
  NodeBase "iqn.2026-12.test.mpio"
  PidFile ${dir}/istgt.pid
  AuthFile ${dir}/auth.conf
  MediaDirectory ${dir}
  LogFacility "local7"
  Timeout 30
  NopInInterval 20
  DiscoveryAuthMethod None
  MaxSessions 16
  MaxConnections 4
  MaxR2T 32
  MaxOutstandingR2T 16
  DefaultTime2Wait 2
  DefaultTime2Retain 60
  FirstBurstLength 262144
  MaxBurstLength 1048576
  MaxRecvDataSegmentLength 262144
  InitialR2T Yes
  ImmediateData Yes
  DataPDUInOrder Yes
  DataSequenceInOrder Yes
  ErrorRecoveryLevel 0

[UnitControl]
  AuthMethod None
  Netmask 127.0.0.1

EOF
    # One portal group per path, so REPORT TARGET PORT GROUPS has one
    # target port group (and relative port) per path.
    for ((i = 1; i <= C_PATHS; i++)); do
      printf '[PortalGroup%d]\n  Portal P%d %s:%d\n\n' "$i" "$i" \
        "$(target_ip "${C_IDX}" "$i")" "${ISCSI_PORT}"
    done
    cat <<EOF
[InitiatorGroup1]
  InitiatorName "ALL"
  Netmask 198.18.0.0/15

[LogicalUnit1]
  TargetName ${C_IQN}
EOF
    for ((i = 1; i <= C_PATHS; i++)); do
      printf '  Mapping PortalGroup%d InitiatorGroup1\n' "$i"
    done
    cat <<EOF
  AuthMethod None
  UseDigest Auto
  UnitType Disk
  UnitInquiry "${C_VENDOR}" "${C_MODEL}" "0001" "${C_SERIAL}"
  QueueDepth 32
  LUN0 Storage ${C_LUN_FILE} ${C_SIZE_MIB}MB
  LUN0 Option Serial "${C_SERIAL}"
EOF
  } >"${dir}/istgt.conf"
}

# Starts the target process in the netns, detached (own session, no
# inherited fds) so it outlives this script and never holds a test's pipes.
launch_target() {
  local ns dir pid
  ns=$(netns_of "${C_NAME}")
  dir=$(lab_dir "${C_NAME}")
  if [[ ${C_KIND} == tgtd ]]; then
    mkdir -p /run/tgtd
    if [[ -e /run/tgtd/socket.${C_CTL_PORT} ]]; then
      if tgtadm -C "${C_CTL_PORT}" --op show --mode sys >/dev/null 2>&1; then
        die "a tgtd we did not start answers on control port ${C_CTL_PORT}"
      fi
      rm -f "/run/tgtd/socket.${C_CTL_PORT}" "/run/tgtd/socket.${C_CTL_PORT}.lock"
    fi
    setsid ip netns exec "$ns" tgtd -f -C "${C_CTL_PORT}" \
      --iscsi "$(portals_csv)" </dev/null >>"${dir}/target.log" 2>&1 9>&- &
  else
    rm -f "${dir}/istgt.pid"
    setsid ip netns exec "$ns" istgt -c "${dir}/istgt.conf" -D \
      </dev/null >>"${dir}/target.log" 2>&1 9>&- &
  fi
  pid=$!
  echo "$pid" >"$(target_pid_file)"
  # setsid does not fork here (a background job is no group leader) and
  # `ip netns exec` execs, so $! becomes the target itself.
  local n
  for ((n = 0; n < 100; n++)); do
    [[ "$(cat "/proc/${pid}/comm" 2>/dev/null)" == "${C_KIND}" ]] && return 0
    pid_alive "$pid" || break
    sleep 0.02
  done
  tail -n 5 "${dir}/target.log" >&2 || true
  die "${C_KIND} did not start (see ${dir}/target.log)"
}

configure_tgtd() {
  local t=(tgtadm -C "${C_CTL_PORT}" --lld iscsi) n kv
  for ((n = 0; n < 100; n++)); do
    "${t[@]}" --op show --mode sys >/dev/null 2>&1 && break
    live_target_pid >/dev/null || die "tgtd exited (see $(lab_dir "${C_NAME}")/target.log)"
    sleep 0.05
  done
  "${t[@]}" --op new --mode target --tid "${C_TID}" -T "${C_IQN}"
  "${t[@]}" --op new --mode logicalunit --tid "${C_TID}" --lun "${C_LUN}" \
    -b "${C_LUN_FILE}"
  "${t[@]}" --op update --mode logicalunit --tid "${C_TID}" --lun "${C_LUN}" \
    --params "vendor_id=${C_VENDOR},product_id=${C_MODEL},scsi_id=${C_SCSI_ID},scsi_sn=${C_SERIAL},thin_provisioning=1"
  # Negotiation limits of a typical array rather than tgtd's small defaults.
  for kv in MaxRecvDataSegmentLength=262144 FirstBurstLength=262144 \
    MaxBurstLength=1048576 InitialR2T=No ImmediateData=Yes; do
    "${t[@]}" --op update --mode target --tid "${C_TID}" \
      --name "${kv%%=*}" --value "${kv#*=}"
  done
  "${t[@]}" --op bind --mode target --tid "${C_TID}" -I ALL
  apply_chap
}

# CHAP accounts (tgtd): chap.conf in the lab dir (mode 0600) holds what the
# last chap-on asked for, so restart-target brings the same accounts back.
chap_conf() { printf '%s/chap.conf' "$(lab_dir "${C_NAME}")"; }

# Binds the accounts of chap.conf, if any, to the lab's target: the
# initiator's (incoming) and, for mutual CHAP, the target's own (outgoing).
apply_chap() {
  local f t=(tgtadm -C "${C_CTL_PORT}" --lld iscsi)
  f=$(chap_conf)
  [[ -r $f ]] || return 0
  local CHAP_USER="" CHAP_SECRET="" CHAP_MUTUAL_USER="" CHAP_MUTUAL_SECRET=""
  # shellcheck disable=SC1090
  source "$f"
  "${t[@]}" --op new --mode account --user "${CHAP_USER}" --password "${CHAP_SECRET}"
  "${t[@]}" --op bind --mode account --tid "${C_TID}" --user "${CHAP_USER}"
  if [[ -n ${CHAP_MUTUAL_USER} ]]; then
    "${t[@]}" --op new --mode account --user "${CHAP_MUTUAL_USER}" \
      --password "${CHAP_MUTUAL_SECRET}"
    "${t[@]}" --op bind --mode account --tid "${C_TID}" --user "${CHAP_MUTUAL_USER}" \
      --outgoing
  fi
}

# Deletes every account of the lab's tgtd (each lab has its own tgtd, so
# all of them are ours); tgtd unbinds a deleted account from the target.
clear_chap() {
  local t=(tgtadm -C "${C_CTL_PORT}" --lld iscsi) user
  while read -r user; do
    [[ -n $user ]] && "${t[@]}" --op delete --mode account --user "$user"
  done < <("${t[@]}" --op show --mode account | sed -n 's/^    \([^ ].*\)$/\1/p')
}

# Waits (bounded) until every portal listens. Looks at the sockets inside
# the netns, so it sends no traffic.
wait_portals() {
  local ns n i missing listening
  ns=$(netns_of "${C_NAME}")
  for ((n = 0; n < 100; n++)); do
    missing=0
    listening=$(ip netns exec "$ns" ss -Htln 2>/dev/null || true)
    for ((i = 1; i <= C_PATHS; i++)); do
      grep -qF " $(target_ip "${C_IDX}" "$i"):${ISCSI_PORT} " <<<"${listening} " ||
        missing=1
    done
    [[ $missing -eq 0 ]] && return 0
    live_target_pid >/dev/null || break
    sleep 0.05
  done
  tail -n 5 "$(lab_dir "${C_NAME}")/target.log" >&2 || true
  die "${C_KIND} portals did not come up (see $(lab_dir "${C_NAME}")/target.log)"
}

start_target() {
  launch_target
  if [[ ${C_KIND} == tgtd ]]; then
    configure_tgtd
  fi
  wait_portals
}

# Stops the recorded target, bounded. istgt gets a TERM and 1 s; tgtd
# ignores TERM while it has targets, so it gets KILL at once. Neither keeps
# data in user space (writes are pwrite()s to the LUN file), so KILL loses
# nothing that was acknowledged.
stop_target() {
  local pid n
  pid=$(live_target_pid) || { rm -f "$(target_pid_file)"; return 0; }
  kill -CONT "$pid" 2>/dev/null || true
  if [[ ${C_KIND} == istgt ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((n = 0; n < 20; n++)); do
      pid_alive "$pid" || break
      sleep 0.05
    done
  fi
  if pid_alive "$pid"; then
    kill -KILL "$pid" 2>/dev/null || true
    for ((n = 0; n < 100; n++)); do
      pid_alive "$pid" || break
      sleep 0.02
    done
  fi
  pid_alive "$pid" && die "target PID ${pid} does not die"
  rm -f "$(target_pid_file)"
  cleanup_tgtd_socket
}

cleanup_tgtd_socket() {
  if [[ ${C_KIND} == tgtd && -n ${C_CTL_PORT} ]]; then
    rm -f "/run/tgtd/socket.${C_CTL_PORT}" "/run/tgtd/socket.${C_CTL_PORT}.lock"
  fi
}

kill_target() {
  local pid n
  pid=$(live_target_pid) || die "target of lab '${C_NAME}' is not running"
  kill -KILL "$pid"
  for ((n = 0; n < 100; n++)); do
    pid_alive "$pid" || break
    sleep 0.02
  done
  rm -f "$(target_pid_file)"
}

# ------------------------------------------------------------------ commands

cmd_up() {
  local name="" paths="" rate="" kind=tgtd size=256 vendor=TrueNAS
  local model="iSCSI Disk" lun_file=""
  while [[ $# -gt 0 ]]; do
    case $1 in
      --name) name=${2:?}; shift 2 ;;
      --paths) paths=${2:?}; shift 2 ;;
      --rate) rate=${2:?}; shift 2 ;;
      --target) kind=${2:?}; shift 2 ;;
      --size) size=${2:?}; shift 2 ;;
      --vendor) vendor=${2:?}; shift 2 ;;
      --model) model=${2:?}; shift 2 ;;
      --lun-file) lun_file=${2:?}; shift 2 ;;
      *) die "up: unknown option $1" ;;
    esac
  done
  [[ -n $name ]] || die "up: --name is required"
  valid_name "$name"
  [[ $paths =~ ^[1-4]$ ]] || die "up: --paths must be 1..${MAX_PATHS}"
  [[ -z $rate || $rate =~ ^[1-9][0-9]{0,5}$ ]] || die "up: --rate is whole Mbit/s"
  [[ $kind == tgtd || $kind == istgt ]] || die "up: --target is tgtd or istgt"
  [[ $size =~ ^[1-9][0-9]{0,6}$ ]] || die "up: --size is MiB"
  [[ ${#vendor} -le 8 && $vendor =~ ^[A-Za-z0-9_.\ -]+$ ]] ||
    die "up: --vendor is 1..8 chars of [A-Za-z0-9_. -]"
  [[ ${#model} -le 16 && $model =~ ^[A-Za-z0-9_.\ -]+$ ]] ||
    die "up: --model is 1..16 chars of [A-Za-z0-9_. -]"
  need_root
  need_cmd ip tc ss flock setsid sha256sum truncate
  if [[ $kind == tgtd ]]; then need_cmd tgtd tgtadm; else need_cmd istgt; fi

  local idx
  idx=$(with_lock alloc_index_locked "$name") || die "up: no index for '${name}'"
  C_NAME=$name
  C_IDX=$idx
  C_PATHS=$paths
  C_RATE=$rate
  C_KIND=$kind
  C_VENDOR=$vendor
  C_MODEL=$model
  C_IQN="iqn.2026-12.test.mpio:${name}"
  C_CTL_PORT=$((TGTD_CTL_BASE + idx))
  # tgtd puts tid<<32|lun in an NAA designator: a per-index tid keeps
  # concurrent labs' identities apart.
  C_TID=$((idx + 1))
  if [[ $kind == tgtd ]]; then C_LUN=1; else C_LUN=0; fi
  local h
  h=$(printf 'mpio-lab:%s' "$name" | sha256sum)
  C_SERIAL="MPIO${h:0:12}"
  C_SCSI_ID="${h:12:24}"
  local dir
  dir=$(lab_dir "$name")
  # A lab dir left over from before a reboot (index files are in /run).
  if [[ -d $dir ]]; then
    [[ -e ${dir}/.mpio-lab ]] || die "up: ${dir} exists and is not a lab dir"
    rm -rf -- "$dir"
  fi
  mkdir -p "$dir"
  touch "${dir}/.mpio-lab"
  if [[ -z $lun_file ]]; then
    C_LUN_FILE="${dir}/lun.img"
    C_LUN_OWNED=1
  else
    C_LUN_FILE=$(realpath -m -- "$lun_file")
    C_LUN_OWNED=0
  fi
  C_SIZE_MIB=$size
  write_conf
  # From here on a failure undoes everything made so far.
  trap 'log "up failed; cleaning up"; do_down "${C_NAME}" >/dev/null 2>&1 || true' EXIT
  if [[ ! -e ${C_LUN_FILE} ]]; then
    mkdir -p "$(dirname "${C_LUN_FILE}")"
    truncate -s "${size}M" "${C_LUN_FILE}"
  else
    local bytes
    bytes=$(stat -c %s "${C_LUN_FILE}")
    [[ $((bytes % 1048576)) -eq 0 && $bytes -gt 0 ]] ||
      die "up: ${C_LUN_FILE} size ${bytes} is not a whole number of MiB"
    C_SIZE_MIB=$((bytes / 1048576))
    write_conf
  fi
  setup_paths
  if [[ $kind == istgt ]]; then write_istgt_conf; fi
  start_target
  trap - EXIT
  log "lab '${name}' up: index ${idx}, ${paths} path(s), ${kind}"
  print_env
}

print_env() {
  local i portals=""
  for ((i = 1; i <= C_PATHS; i++)); do
    portals+="${portals:+ }$(target_ip "${C_IDX}" "$i"):${ISCSI_PORT}"
  done
  printf 'LAB_NAME=%q\n' "${C_NAME}"
  printf 'LAB_INDEX=%q\n' "${C_IDX}"
  printf 'LAB_TARGET_KIND=%q\n' "${C_KIND}"
  printf 'LAB_TARGET_IQN=%q\n' "${C_IQN}"
  printf 'LAB_LUN=%q\n' "${C_LUN}"
  printf 'LAB_NETNS=%q\n' "$(netns_of "${C_NAME}")"
  printf 'LAB_PATHS=%q\n' "${C_PATHS}"
  printf 'LAB_PORTALS=%q\n' "$portals"
  printf 'LAB_LUN_SIZE_BYTES=%q\n' "$((C_SIZE_MIB * 1048576))"
  printf 'LAB_LUN_FILE=%q\n' "${C_LUN_FILE}"
  printf 'LAB_VENDOR=%q\n' "${C_VENDOR}"
  printf 'LAB_MODEL=%q\n' "${C_MODEL}"
  printf 'LAB_SERIAL=%q\n' "${C_SERIAL}"
  printf 'LAB_RATE_MBIT=%q\n' "${C_RATE:-}"
  for ((i = 1; i <= C_PATHS; i++)); do
    printf 'LAB_PORTAL_%d=%q\n' "$i" "$(target_ip "${C_IDX}" "$i"):${ISCSI_PORT}"
    printf 'LAB_HOST_IP_%d=%q\n' "$i" "$(host_ip "${C_IDX}" "$i")"
    printf 'LAB_HOST_IF_%d=%q\n' "$i" "$(host_if "${C_IDX}" "$i")"
    printf 'LAB_URL_%d=%q\n' "$i" \
      "iscsi://$(target_ip "${C_IDX}" "$i"):${ISCSI_PORT}/${C_IQN}/${C_LUN}"
  done
}

# Removes whatever of lab NAME exists. Safe on a half-made or absent lab.
do_down() {
  local name=$1 dir idx=""
  dir=$(lab_dir "$name")
  if [[ -r ${dir}/lab.conf ]]; then
    # shellcheck disable=SC1091
    source "${dir}/lab.conf"
    idx=${C_IDX}
    stop_target || true
  elif [[ -r "${RUN_DIR}/names/${name}" ]]; then
    idx=$(cat "${RUN_DIR}/names/${name}")
  fi
  local ns
  ns=$(netns_of "$name")
  if ip netns list 2>/dev/null | grep -qE "^${ns}( |$)"; then
    local left pid n
    left=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
    if [[ -n $left ]]; then
      # Only the lab starts processes in its own namespace (a target whose
      # PID file was lost, a probe): they are ours. Deleting the namespace
      # would leave them running, holding the lab index's control port.
      log "warning: processes still in ${ns}: ${left}; killing them"
      for pid in $left; do kill -KILL "$pid" 2>/dev/null || true; done
      for ((n = 0; n < 100; n++)); do
        [[ -z $(ip netns pids "$ns" 2>/dev/null) ]] && break
        sleep 0.02
      done
    fi
    ip netns del "$ns" || true
  fi
  if [[ $idx =~ ^[0-9]+$ ]]; then
    local i
    for ((i = 1; i <= MAX_PATHS; i++)); do
      ip link del "$(host_if "$idx" "$i")" 2>/dev/null || true
    done
    ip route del unreachable "$(lab_net22 "$idx")" metric "${SAFETY_METRIC}" \
      2>/dev/null || true
  fi
  if [[ -e ${dir}/.mpio-lab ]]; then
    rm -rf -- "$dir"
  fi
  with_lock free_index_locked "$name"
}

cmd_down() {
  local name="" all=0
  while [[ $# -gt 0 ]]; do
    case $1 in
      --name) name=${2:?}; shift 2 ;;
      --all) all=1; shift ;;
      *) die "down: unknown option $1" ;;
    esac
  done
  need_root
  if [[ $all -eq 1 ]]; then
    local f
    for f in "${RUN_DIR}"/names/*; do
      [[ -e $f ]] || continue
      (do_down "$(basename "$f")")
    done
    ip route del unreachable "${GUARD_NET}" metric "${GUARD_METRIC}" 2>/dev/null || true
    return 0
  fi
  [[ -n $name ]] || die "down: --name is required"
  valid_name "$name"
  do_down "$name"
}

cmd_env() {
  local name=""
  while [[ $# -gt 0 ]]; do
    case $1 in
      --name) name=${2:?}; shift 2 ;;
      *) die "env: unknown option $1" ;;
    esac
  done
  [[ -n $name ]] || die "env: --name is required"
  valid_name "$name"
  load_conf "$name"
  print_env
}

cmd_list() {
  local f
  for f in "${RUN_DIR}"/names/*; do
    [[ -e $f ]] || continue
    printf '%s\t%s\n' "$(cat "$f")" "$(basename "$f")"
  done
}

path_blackholed() {
  ip netns exec "$(netns_of "${C_NAME}")" nft list table inet "mpio_bh_p$1" \
    >/dev/null 2>&1
}

cmd_status() {
  local name=""
  while [[ $# -gt 0 ]]; do
    case $1 in
      --name) name=${2:?}; shift 2 ;;
      *) die "status: unknown option $1" ;;
    esac
  done
  [[ -n $name ]] || die "status: --name is required"
  valid_name "$name"
  need_root
  load_conf "$name"
  local pid state
  if pid=$(live_target_pid); then
    state=$(awk '/^State:/ {print $2}' "/proc/${pid}/status")
    [[ $state == T ]] && state="running (held)" || state="running"
  else
    pid="-"
    state="not running"
  fi
  printf 'lab %s: index %s, netns %s, target %s pid %s %s\n' "${C_NAME}" \
    "${C_IDX}" "$(netns_of "${C_NAME}")" "${C_KIND}" "$pid" "$state"
  printf '  iqn %s lun %s, %s MiB in %s\n' "${C_IQN}" "${C_LUN}" \
    "${C_SIZE_MIB}" "${C_LUN_FILE}"
  if [[ ${C_KIND} == tgtd ]]; then
    # Names only: the secrets stay in chap.conf.
    local accounts
    accounts=$(tgtadm -C "${C_CTL_PORT}" --lld iscsi --op show --mode target 2>/dev/null |
      sed -n '/Account information:/,/ACL information:/{/:$/d;s/^ *//;p}' | paste -sd, - || true)
    printf '  chap: %s\n' "${accounts:-off}"
  fi
  local i hif link bh q
  for ((i = 1; i <= C_PATHS; i++)); do
    hif=$(host_if "${C_IDX}" "$i")
    link=$(ip -br link show dev "$hif" 2>/dev/null | awk '{print $2}')
    path_blackholed "$i" && bh=yes || bh=no
    q=$(tc qdisc show dev "$hif" root 2>/dev/null |
      grep -o 'rate [^ ]*' || true)
    printf '  path %d: %s %s -> %s link %s blackhole %s %s\n' "$i" "$hif" \
      "$(host_ip "${C_IDX}" "$i")" "$(target_ip "${C_IDX}" "$i"):${ISCSI_PORT}" \
      "${link:-absent}" "$bh" "${q:-unlimited}"
  done
}

# lab_probe is built on first use from lab_probe.c beside this script.
probe_bin() {
  local bin="${LAB_ROOT}/.bin/lab_probe" src="${SCRIPT_DIR}/lab_probe.c"
  if [[ ! -x $bin || $src -nt $bin ]]; then
    need_cmd cc
    mkdir -p "${LAB_ROOT}/.bin"
    cc -O1 -Wall -Wextra -o "${bin}.$$" "$src" -liscsi >&2 ||
      die "cannot build lab_probe (needs libiscsi-dev)"
    mv -f "${bin}.$$" "$bin"
  fi
  printf '%s' "$bin"
}

path_url() {
  printf 'iscsi://%s:%d/%s/%d' "$(target_ip "${C_IDX}" "$1")" "${ISCSI_PORT}" \
    "${C_IQN}" "${C_LUN}"
}

cmd_scsi() {
  local name="" path=""
  while [[ $# -gt 0 ]]; do
    case $1 in
      --name) name=${2:?}; shift 2 ;;
      --path) path=${2:?}; shift 2 ;;
      *) break ;;
    esac
  done
  [[ -n $name && -n $path ]] || die "scsi: --name and --path are required"
  valid_name "$name"
  load_conf "$name"
  [[ $path =~ ^[1-4]$ && $path -le ${C_PATHS} ]] || die "scsi: bad --path"
  [[ $# -ge 1 ]] || die "scsi: CDB_HEX is required"
  local bin
  bin=$(probe_bin)
  timeout 20 "$bin" -T 10 "$(path_url "$path")" "$@"
}

cmd_fault() {
  local name="" path="" rate="" fault="" mib=""
  local chap_user="" chap_secret="" mutual_user="" mutual_secret=""
  while [[ $# -gt 0 ]]; do
    case $1 in
      --name) name=${2:?}; shift 2 ;;
      --path) path=${2:?}; shift 2 ;;
      --rate) rate=${2:?}; shift 2 ;;
      --mib) mib=${2:?}; shift 2 ;;
      --user) chap_user=${2:?}; shift 2 ;;
      --secret) chap_secret=${2:?}; shift 2 ;;
      --mutual-user) mutual_user=${2:?}; shift 2 ;;
      --mutual-secret) mutual_secret=${2:?}; shift 2 ;;
      -*) die "fault: unknown option $1" ;;
      *)
        [[ -z $fault ]] || die "fault: one fault at a time"
        fault=$1
        shift
        ;;
    esac
  done
  [[ -n $name ]] || die "fault: --name is required"
  [[ -n $fault ]] || die "fault: which fault?"
  valid_name "$name"
  need_root
  load_conf "$name"
  [[ $fault == chap-on || -z $chap_user$chap_secret$mutual_user$mutual_secret ]] ||
    die "fault ${fault}: --user/--secret/--mutual-* go with chap-on only"
  local ns
  ns=$(netns_of "${C_NAME}")
  case $fault in
    kill-target | restart-target | hold | release | lun-remove | lun-add | digest-crc32c | \
      digest-none | chap-on | chap-off | resize | twin-add | twin-remove) ;;
    *)
      [[ $path =~ ^[1-4]$ && $path -le ${C_PATHS} ]] ||
        die "fault ${fault}: --path must be 1..${C_PATHS}"
      ;;
  esac
  case $fault in
    link-down) ip link set "$(host_if "${C_IDX}" "$path")" down ;;
    link-up) ip link set "$(host_if "${C_IDX}" "$path")" up ;;
    blackhole)
      path_blackholed "$path" && return 0
      local tif
      tif=$(target_if "${C_IDX}" "$path")
      # Dropped at the target end, both ways: no ICMP, no RST; ARP still
      # works, as with a real black hole in the IP network.
      ip netns exec "$ns" nft -f - <<EOF
table inet mpio_bh_p${path} {
  chain in { type filter hook input priority -300; policy accept; iifname "${tif}" drop; }
  chain out { type filter hook output priority -300; policy accept; oifname "${tif}" drop; }
}
EOF
      ;;
    unblackhole)
      path_blackholed "$path" || return 0
      ip netns exec "$ns" nft delete table inet "mpio_bh_p${path}"
      ;;
    slow)
      [[ $rate =~ ^[1-9][0-9]{0,5}$ ]] || die "fault slow: --rate MBIT is required"
      set_rate "$path" "$rate"
      ;;
    fast)
      if [[ -n ${C_RATE} ]]; then set_rate "$path" "${C_RATE}"; else clear_rate "$path"; fi
      ;;
    hold | release)
      local pid
      pid=$(live_target_pid) || die "target of lab '${C_NAME}' is not running"
      if [[ $fault == hold ]]; then kill -STOP "$pid"; else kill -CONT "$pid"; fi
      ;;
    kill-target) kill_target ;;
    digest-crc32c | digest-none)
      [[ ${C_KIND} == tgtd ]] || die "fault ${fault}: only with tgtd"
      # What the target offers for HeaderDigest on new logins.
      local value=None
      [[ $fault == digest-crc32c ]] && value=CRC32C,None
      tgtadm -C "${C_CTL_PORT}" --lld iscsi --op update --mode target --tid "${C_TID}" \
        --name HeaderDigest --value "$value"
      ;;
    chap-on)
      [[ ${C_KIND} == tgtd ]] || die "fault ${fault}: only with tgtd"
      local re='^[A-Za-z0-9_.:@+=-]{1,255}$'
      [[ $chap_user =~ $re && $chap_secret =~ $re ]] ||
        die "fault chap-on: --user U and --secret S are required (1..255 chars of [A-Za-z0-9_.:@+=-])"
      if [[ -n $mutual_user || -n $mutual_secret ]]; then
        [[ $mutual_user =~ $re && $mutual_secret =~ $re ]] ||
          die "fault chap-on: give both --mutual-user and --mutual-secret (1..255 chars of [A-Za-z0-9_.:@+=-])"
        [[ $mutual_user != "$chap_user" ]] ||
          die "fault chap-on: --mutual-user must differ from --user (tgtd keeps one account per name)"
      fi
      clear_chap
      (
        umask 077
        printf 'CHAP_USER=%q\nCHAP_SECRET=%q\nCHAP_MUTUAL_USER=%q\nCHAP_MUTUAL_SECRET=%q\n' \
          "$chap_user" "$chap_secret" "$mutual_user" "$mutual_secret" >"$(chap_conf)"
      )
      apply_chap
      ;;
    chap-off)
      [[ ${C_KIND} == tgtd ]] || die "fault ${fault}: only with tgtd"
      rm -f "$(chap_conf)"
      clear_chap
      ;;
    lun-remove | lun-add)
      [[ ${C_KIND} == tgtd ]] || die "fault ${fault}: only with tgtd"
      local t=(tgtadm -C "${C_CTL_PORT}" --lld iscsi)
      if [[ $fault == lun-remove ]]; then
        # The LUN vanishes on every portal at once (LOGICAL UNIT NOT
        # SUPPORTED from then on); sessions stay up.
        "${t[@]}" --op delete --mode logicalunit --tid "${C_TID}" --lun "${C_LUN}"
      else
        "${t[@]}" --op new --mode logicalunit --tid "${C_TID}" --lun "${C_LUN}" \
          -b "${C_LUN_FILE}"
        "${t[@]}" --op update --mode logicalunit --tid "${C_TID}" --lun "${C_LUN}" \
          --params "vendor_id=${C_VENDOR},product_id=${C_MODEL},scsi_id=${C_SCSI_ID},scsi_sn=${C_SERIAL},thin_provisioning=1"
      fi
      ;;
    resize)
      [[ ${C_KIND} == tgtd ]] || die "fault ${fault}: only with tgtd"
      [[ $mib =~ ^[1-9][0-9]{0,5}$ ]] || die "fault resize: --mib N is required"
      [[ ${C_LUN_OWNED} == 1 ]] ||
        die "fault resize: the LUN file was given with --lun-file; not truncating it"
      truncate -s "${mib}M" "${C_LUN_FILE}"
      # Offline, new path (the same file: tgtd reopens it and reads its
      # size), online: one request, so I/O sees at most a moment of NOT READY.
      tgtadm -C "${C_CTL_PORT}" --lld iscsi --op update --mode logicalunit \
        --tid "${C_TID}" --lun "${C_LUN}" \
        --params "online=0,path=${C_LUN_FILE},online=1"
      ;;
    twin-add | twin-remove)
      [[ ${C_KIND} == tgtd ]] || die "fault ${fault}: only with tgtd"
      local t=(tgtadm -C "${C_CTL_PORT}" --lld iscsi) twin_tid=$((C_TID + 100))
      local twin_file
      twin_file="$(lab_dir "${C_NAME}")/twin.img"
      if [[ $fault == twin-remove ]]; then
        "${t[@]}" --op delete --mode target --tid "$twin_tid" --force 2>/dev/null || true
        rm -f "$twin_file"
        return 0
      fi
      [[ $mib =~ ^[1-9][0-9]{0,5}$ ]] || die "fault twin-add: --mib N is required"
      truncate -s "${mib}M" "$twin_file"
      "${t[@]}" --op new --mode target --tid "$twin_tid" -T "${C_IQN}-twin"
      "${t[@]}" --op new --mode logicalunit --tid "$twin_tid" --lun "${C_LUN}" -b "$twin_file"
      "${t[@]}" --op update --mode logicalunit --tid "$twin_tid" --lun "${C_LUN}" \
        --params "vendor_id=${C_VENDOR},product_id=${C_MODEL},scsi_id=${C_SCSI_ID},scsi_sn=${C_SERIAL},thin_provisioning=1"
      "${t[@]}" --op bind --mode target --tid "$twin_tid" -I ALL
      ;;
    restart-target)
      stop_target
      start_target
      ;;
    alua-ao | alua-an)
      [[ ${C_KIND} == istgt ]] || die "fault ${fault}: only istgt has ALUA"
      local aas=00 via out
      [[ $fault == alua-an ]] && aas=01
      # Send the STPG over any path that works (the one being changed may be
      # faulted); the state is per logical unit, not per connection.
      local bin
      bin=$(probe_bin)
      for ((via = 1; via <= C_PATHS; via++)); do
        if out=$(timeout 8 "$bin" -T 5 "$(path_url "$via")" \
          a40a00000000000000080000 -w "00000000${aas}00$(printf '%04x' "$path")" \
          2>/dev/null); then
          return 0
        fi
      done
      die "fault ${fault}: SET TARGET PORT GROUPS failed on every path (${out:-no answer})"
      ;;
    *) die "unknown fault '${fault}' (see lab.sh help)" ;;
  esac
}

# ------------------------------------------------------------------ self-test

ST_PASS=0
ST_FAIL=0
st_ok() {
  ST_PASS=$((ST_PASS + 1))
  printf 'ok %d - %s\n' "$((ST_PASS + ST_FAIL))" "$1"
}
st_bad() {
  ST_FAIL=$((ST_FAIL + 1))
  printf 'not ok %d - %s\n' "$((ST_PASS + ST_FAIL))" "$1"
}
st_check() {
  local what=$1
  shift
  if "$@"; then st_ok "$what"; else st_bad "$what"; fi
}

# TCP connect from the host, bounded. Returns 0 connected, 124 timed out,
# other = refused/unreachable.
tcp_try() {
  local ip=$1 secs=$2
  timeout "$secs" bash -c "exec 3<>/dev/tcp/${ip}/${ISCSI_PORT}" 2>/dev/null
}

st_data() { sed -n 's/^data=//p'; }

# Prints the LU-association (association 0) designators of a VPD 0x83 page
# given in hex, one "type:hex" per line. The per-port designators
# (association 1, 2) legitimately differ between portals.
vpd83_lu_ids() {
  local hex=$1 len off b1 dlen
  len=$((16#${hex:4:4}))
  off=4
  while ((off + 4 <= len + 4)); do
    b1=$((16#${hex:(off + 1) * 2:2}))
    dlen=$((16#${hex:(off + 3) * 2:2}))
    if (((b1 >> 4 & 3) == 0)); then
      printf '%d:%s\n' $((b1 & 15)) "${hex:(off + 4) * 2:dlen * 2}"
    fi
    off=$((off + 4 + dlen))
  done
}

# Relative target port (designator type 4, association 1) from VPD 0x83 hex.
vpd83_rtpi() {
  local hex=$1 len off b1 dlen
  len=$((16#${hex:4:4}))
  off=4
  while ((off + 4 <= len + 4)); do
    b1=$((16#${hex:(off + 1) * 2:2}))
    dlen=$((16#${hex:(off + 3) * 2:2}))
    if (((b1 & 15) == 4 && (b1 >> 4 & 3) == 1)); then
      printf '%d\n' $((16#${hex:(off + 6) * 2:4}))
      return 0
    fi
    off=$((off + 4 + dlen))
  done
  return 1
}

# "TPG:STATE" per descriptor of a REPORT TARGET PORT GROUPS answer in hex.
rtpg_states() {
  local hex=$1 len off count
  len=$((16#${hex:0:8}))
  off=4
  while ((off + 8 <= len + 4)); do
    count=$((16#${hex:(off + 7) * 2:2}))
    printf '%d:%d\n' $((16#${hex:(off + 2) * 2:4})) $((16#${hex:off * 2:2} & 15))
    off=$((off + 8 + 4 * count))
  done
}

st_dead() { ! pid_alive "$1"; }

st_elapsed_ms() { echo $(($(date +%s%N) / 1000000 - $1)); }

st_lab_checks() {
  local name=$1 kind=$2 t0
  eval "$(bash "${SCRIPT_PATH}" env --name "$name")"
  local bin
  bin=$(probe_bin)
  local u1="${LAB_URL_1}" u2="${LAB_URL_2}" ip1=${LAB_PORTAL_1%:*} ip2=${LAB_PORTAL_2%:*}
  local tag="${kind}"

  # Standard INQUIRY over both portals, with libiscsi's own tool.
  local inq1 inq2
  inq1=$(timeout 15 iscsi-inq "$u1" 2>&1 || true)
  inq2=$(timeout 15 iscsi-inq "$u2" 2>&1 || true)
  st_check "${tag}: iscsi-inq path 1 sees vendor TrueNAS" grep -q '^Vendor:TrueNAS' <<<"$inq1"
  st_check "${tag}: iscsi-inq path 2 sees product iSCSI Disk" grep -q '^Product:iSCSI Disk' <<<"$inq2"
  # iscsi-inq reads -c with atoi: 0x83 would be page 0, so 131.
  local pg1
  pg1=$(timeout 15 iscsi-inq -e 1 -c 131 "$u1" 2>&1 || true)
  st_check "${tag}: iscsi-inq -e 1 -c 131 decodes page 0x83" \
    grep -q 'DEVICE_IDENTIFICATION' <<<"$pg1"
  if [[ $kind == tgtd ]]; then
    local ls
    ls=$(timeout 15 iscsi-ls -s "iscsi://${LAB_PORTAL_1}" 2>&1 || true)
    st_check "tgtd: iscsi-ls -s lists ${LAB_TARGET_IQN} LUN 1" \
      grep -q "Lun:1 .*DIRECT_ACCESS" <<<"$ls"
  fi

  # Same LU identity (VPD 0x83 association 0) on both portals, and unique.
  local v1 v2 ids1 ids2
  v1=$(timeout 15 "$bin" "$u1" 120183100000 4096 | st_data || true)
  v2=$(timeout 15 "$bin" "$u2" 120183100000 4096 | st_data || true)
  ids1=$(vpd83_lu_ids "$v1" 2>/dev/null || true)
  ids2=$(vpd83_lu_ids "$v2" 2>/dev/null || true)
  st_check "${tag}: VPD 0x83 has an NAA (type 3) LU designator" grep -q '^3:' <<<"$ids1"
  st_check "${tag}: VPD 0x83 LU designators equal on both portals" \
    test -n "$ids1" -a "$ids1" == "$ids2"
  printf '%s\n' "$ids1" >"${ST_DIR}/${kind}.ids"

  if [[ $kind == istgt ]]; then
    # Measured: istgt 0.4 says TPGS=0 (no ALUA) and MULTIP=1 in standard
    # INQUIRY, yet answers REPORT/SET TARGET PORT GROUPS. Fail if that
    # changes, so README.md gets updated.
    local inqhex tpgs multip r1 r2
    inqhex=$(timeout 15 "$bin" "$u1" 120000006000 96 | st_data || true)
    tpgs=$(((16#${inqhex:10:2} >> 4) & 3))
    multip=$(((16#${inqhex:12:2} >> 4) & 1))
    st_check "istgt: INQUIRY TPGS=0 MULTIP=1 (as measured)" test "$tpgs:$multip" == "0:1"
    r1=$(vpd83_rtpi "$v1" || true)
    r2=$(vpd83_rtpi "$v2" || true)
    st_check "istgt: relative target port is 1 on path 1, 2 on path 2" \
      test "$r1:$r2" == "1:2"
    local rt
    rt=$(timeout 15 "$bin" "$u2" a30a00000000000010000000 4096 | st_data || true)
    st_check "istgt: RTPG lists both port groups active/optimized" \
      test "$(rtpg_states "$rt" | tr '\n' ' ')" == "1:0 2:0 "
    bash "${SCRIPT_PATH}" fault --name "$name" --path 2 alua-an
    rt=$(timeout 15 "$bin" "$u1" a30a00000000000010000000 4096 | st_data || true)
    st_check "istgt: alua-an moves port group 2 to active/non-optimized" \
      test "$(rtpg_states "$rt" | tr '\n' ' ')" == "1:0 2:1 "
    bash "${SCRIPT_PATH}" fault --name "$name" --path 2 alua-ao
    rt=$(timeout 15 "$bin" "$u1" a30a00000000000010000000 4096 | st_data || true)
    st_check "istgt: alua-ao moves it back" \
      test "$(rtpg_states "$rt" | tr '\n' ' ')" == "1:0 2:0 "
  fi

  # Data written over path 1 reads back over path 2 and survives a
  # kill/restart of the target.
  local pattern rd
  pattern=$(printf "%s" "$name" | sha256sum | cut -c1-64)
  pattern=$(printf "${pattern}%.0s" $(seq 16))   # 512 bytes
  # WRITE(10) of LBA 7, one block.
  timeout 15 "$bin" "$u1" 2a000000000700000100 -w "$pattern" >/dev/null 2>&1 || true
  rd=$(timeout 15 "$bin" "$u2" 28000000000700000100 512 | st_data || true)
  st_check "${tag}: block written on path 1 reads back on path 2" test "$rd" == "$pattern"

  bash "${SCRIPT_PATH}" fault --name "$name" kill-target
  local rc=0
  tcp_try "$ip1" 3 || rc=$?
  st_check "${tag}: after kill-target the portal refuses" test "$rc" -ne 0 -a "$rc" -ne 124
  t0=$(($(date +%s%N) / 1000000))
  bash "${SCRIPT_PATH}" fault --name "$name" restart-target
  st_check "${tag}: restart-target within 5 s" test "$(st_elapsed_ms "$t0")" -lt 5000
  rd=$(timeout 15 "$bin" "$u1" 28000000000700000100 512 | st_data || true)
  st_check "${tag}: data survives kill/restart" test "$rd" == "$pattern"
  local ids_after
  v1=$(timeout 15 "$bin" "$u2" 120183100000 4096 | st_data || true)
  ids_after=$(vpd83_lu_ids "$v1" 2>/dev/null || true)
  st_check "${tag}: identity unchanged after restart" test "$ids_after" == "$ids1"

  if [[ $kind == tgtd ]]; then
    local inqhex sense
    inqhex=$(timeout 15 "$bin" "$u1" 120000006000 96 | st_data || true)
    st_check "tgtd: INQUIRY TPGS=0 (as measured)" \
      test "$(((16#${inqhex:10:2} >> 4) & 3))" -eq 0
    sense=$(timeout 15 "$bin" "$u1" a30a00000000000010000000 4096 | sed -n 's/^sense=//p' || true)
    st_check "tgtd: RTPG is ILLEGAL REQUEST/INVALID FIELD IN CDB (as measured)" \
      test "$sense" == "0x5/0x24/0x00"
    # UNMAP LBA 0..7 (thin_provisioning=1), then LBA 7 reads zeros (LBPRZ).
    timeout 15 "$bin" "$u1" 42000000000000001800 \
      -w 001600100000000000000000000000000000000800000000 >/dev/null 2>&1 || true
    rd=$(timeout 15 "$bin" "$u2" 28000000000700000100 512 | st_data || true)
    st_check "tgtd: UNMAP deallocates (LBA 7 reads zeros)" \
      test "$rd" == "$(printf '00%.0s' $(seq 512))"
  else
    local sense
    sense=$(timeout 15 "$bin" "$u1" 42000000000000001800 \
      -w 001600100000000000000000000000000000000800000000 | sed -n 's/^sense=//p' || true)
    st_check "istgt: UNMAP is INVALID COMMAND OPCODE (as measured)" \
      test "$sense" == "0x5/0x20/0x00"
  fi

  # Persistent reservations: register + reserve (Write Exclusive) on path 1,
  # in one session; path 2 (another I_T nexus) gets RESERVATION CONFLICT on
  # write but may read.
  local key=1122334455667788 z8=0000000000000000 out
  out=$(timeout 15 "$bin" "$u1" 5f000000000000001800 -w "${z8}${key}${z8}" \
    + 5f010100000000001800 -w "${key}${z8}${z8}" + 5e010000000000010000 256 || true)
  st_check "${tag}: PR register + reserve, READ RESERVATION shows key and type 1" \
    grep -q "^data=00000001000000101122334455667788000000000001" <<<"$out"
  out=$(timeout 15 "$bin" "$u2" 2a000000000700000100 -w "$pattern" || true)
  st_check "${tag}: write from an unregistered nexus is RESERVATION CONFLICT" \
    grep -q '^status=0x18' <<<"$out"
  out=$(timeout 15 "$bin" "$u2" 28000000000700000100 512 || true)
  st_check "${tag}: read from an unregistered nexus is allowed (Write Exclusive)" \
    grep -q '^status=0x00' <<<"$out"
  bash "${SCRIPT_PATH}" fault --name "$name" restart-target
  out=$(timeout 15 "$bin" "$u1" 5e000000000000010000 256 || true)
  st_check "${tag}: PR registrations are lost on restart-target (as measured)" \
    grep -q '^data=0000000[0-9a-f]00000000$' <<<"$out"

  # Black hole on path 1: connect times out (no RST), path 2 still works.
  bash "${SCRIPT_PATH}" fault --name "$name" --path 1 blackhole
  rc=0
  tcp_try "$ip1" 2 || rc=$?
  st_check "${tag}: blackholed path 1 connect times out" test "$rc" -eq 124
  rc=0
  tcp_try "$ip2" 2 || rc=$?
  st_check "${tag}: path 2 connects while path 1 is blackholed" test "$rc" -eq 0
  bash "${SCRIPT_PATH}" fault --name "$name" --path 1 unblackhole
  rc=0
  tcp_try "$ip1" 2 || rc=$?
  st_check "${tag}: path 1 connects after unblackhole" test "$rc" -eq 0

  # Link down on path 1: fails at once (no route; the lab's unreachable
  # route stops it from leaving the machine), path 2 works.
  bash "${SCRIPT_PATH}" fault --name "$name" --path 1 link-down
  rc=0
  tcp_try "$ip1" 2 || rc=$?
  st_check "${tag}: link-down path 1 connect fails fast" test "$rc" -ne 0 -a "$rc" -ne 124
  st_check "${tag}: link-down path 1 routes via the lab unreachable route" \
    bash -c "ip route get ${ip1} 2>&1 | grep -q 'No route to host'"
  rc=0
  tcp_try "$ip2" 2 || rc=$?
  st_check "${tag}: path 2 connects while path 1 link is down" test "$rc" -eq 0
  bash "${SCRIPT_PATH}" fault --name "$name" --path 1 link-up
  local n
  for ((n = 0; n < 20; n++)); do
    rc=0
    tcp_try "$ip1" 1 || rc=$?
    [[ $rc -eq 0 ]] && break
    sleep 0.1
  done
  st_check "${tag}: path 1 connects after link-up" test "$rc" -eq 0

  # hold: TCP still accepts (kernel backlog), SCSI does not answer.
  bash "${SCRIPT_PATH}" fault --name "$name" hold
  rc=0
  tcp_try "$ip1" 2 || rc=$?
  st_check "${tag}: held target still accepts TCP" test "$rc" -eq 0
  rc=0
  timeout 4 "$bin" -T 2 "$u1" 000000000000 >/dev/null 2>&1 || rc=$?
  st_check "${tag}: held target does not answer TEST UNIT READY" test "$rc" -ne 0
  bash "${SCRIPT_PATH}" fault --name "$name" release
  rc=0
  timeout 10 "$bin" -T 5 "$u1" 000000000000 >/dev/null 2>&1 || rc=$?
  st_check "${tag}: released target answers TEST UNIT READY" test "$rc" -eq 0

  # Rate limit: 2 MiB read at 8 Mbit/s needs >= ~1.5 s (0.5 MiB burst).
  if [[ $kind == tgtd ]]; then
    bash "${SCRIPT_PATH}" fault --name "$name" --path 2 slow --rate 8
    t0=$(($(date +%s%N) / 1000000))
    timeout 20 "$bin" -T 15 "$u2" 28000000000000080000 1048576 >/dev/null 2>&1 || true
    timeout 20 "$bin" -T 15 "$u2" 28000000080000080000 1048576 >/dev/null 2>&1 || true
    local slow_ms fast_ms
    slow_ms=$(st_elapsed_ms "$t0")
    bash "${SCRIPT_PATH}" fault --name "$name" --path 2 fast
    t0=$(($(date +%s%N) / 1000000))
    timeout 20 "$bin" -T 15 "$u2" 28000000000000080000 1048576 >/dev/null 2>&1 || true
    timeout 20 "$bin" -T 15 "$u2" 28000000080000080000 1048576 >/dev/null 2>&1 || true
    fast_ms=$(st_elapsed_ms "$t0")
    st_check "tgtd: 8 Mbit/s slows a 2 MiB read (${slow_ms} ms vs ${fast_ms} ms)" \
      test "$slow_ms" -ge 1000 -a "$fast_ms" -lt "$slow_ms"
  fi
}

st_leftovers() {
  local idx=$1 name=$2 left=""
  ip netns list | grep -qE "^mpio-${name}( |$)" && left+=" netns"
  ip -o link show | grep -qE ": mpl${idx}p[1-4][@:]" && left+=" veth"
  ip route show | grep -q "^unreachable $(lab_net22 "$idx") .*metric ${SAFETY_METRIC}" &&
    left+=" route"
  [[ -e "${LAB_ROOT}/${name}" ]] && left+=" labdir"
  [[ -e "${RUN_DIR}/names/${name}" || -e "${RUN_DIR}/index/${idx}" ]] && left+=" index"
  [[ -e "/run/tgtd/socket.$((TGTD_CTL_BASE + idx))" ]] && left+=" tgtd-socket"
  printf '%s' "$left"
}

cmd_self_test() {
  if [[ ${EUID} -ne 0 ]]; then
    echo "lab self-test: skipped (needs root)"
    exit 77  # ctest SKIP_RETURN_CODE
  fi
  need_cmd iscsi-inq iscsi-ls nft timeout
  local tname="st-tgt-$$" iname="st-ist-$$"
  ST_DIR=$(mktemp -d /tmp/mpio-lab-selftest.XXXXXX)
  trap 'bash "${SCRIPT_PATH}" down --name "'"$tname"'" >/dev/null 2>&1 || true;
        bash "${SCRIPT_PATH}" down --name "'"$iname"'" >/dev/null 2>&1 || true;
        rm -rf "${ST_DIR}"' EXIT
  probe_bin >/dev/null

  local t0 up_ms tidx iidx tpid ipid
  t0=$(($(date +%s%N) / 1000000))
  bash "${SCRIPT_PATH}" up --name "$tname" --paths 2 --target tgtd >"${ST_DIR}/t.env"
  up_ms=$(st_elapsed_ms "$t0")
  st_check "tgtd: 2-path lab up in ${up_ms} ms (< 10 s)" test "$up_ms" -lt 10000
  t0=$(($(date +%s%N) / 1000000))
  bash "${SCRIPT_PATH}" up --name "$iname" --paths 2 --target istgt >"${ST_DIR}/i.env"
  up_ms=$(st_elapsed_ms "$t0")
  st_check "istgt: 2-path lab up in ${up_ms} ms (< 10 s)" test "$up_ms" -lt 10000
  ST_IP1=$(sed -n 's/^LAB_PORTAL_1=//p' "${ST_DIR}/t.env")
  ST_IP1=${ST_IP1%:*}
  tidx=$(sed -n 's/^LAB_INDEX=//p' "${ST_DIR}/t.env")
  iidx=$(sed -n 's/^LAB_INDEX=//p' "${ST_DIR}/i.env")
  st_check "two labs get distinct indexes (${tidx}, ${iidx})" test "$tidx" != "$iidx"
  local rc=0
  bash "${SCRIPT_PATH}" up --name "$tname" --paths 1 >/dev/null 2>&1 || rc=$?
  st_check "a second up of the same name is refused" test "$rc" -ne 0
  st_check "the refused up left the first lab working" \
    bash -c "bash '${SCRIPT_PATH}' status --name '$tname' | grep -q 'pid [0-9]* running'"

  st_lab_checks "$tname" tgtd
  st_lab_checks "$iname" istgt
  st_check "tgtd and istgt labs have different LU identities" \
    bash -c "! cmp -s '${ST_DIR}/tgtd.ids' '${ST_DIR}/istgt.ids'"

  tpid=$(cat "${LAB_ROOT}/${tname}/target.pid")
  ipid=$(cat "${LAB_ROOT}/${iname}/target.pid")
  bash "${SCRIPT_PATH}" fault --name "$tname" hold
  bash "${SCRIPT_PATH}" down --name "$tname"
  bash "${SCRIPT_PATH}" down --name "$iname"
  st_check "down stops a held tgtd" st_dead "$tpid"
  st_check "down stops istgt" st_dead "$ipid"
  local left
  left=$(st_leftovers "$tidx" "$tname")
  st_check "nothing left of the tgtd lab${left:+:$left}" test -z "$left"
  left=$(st_leftovers "$iidx" "$iname")
  st_check "nothing left of the istgt lab${left:+:$left}" test -z "$left"
  rc=0
  bash "${SCRIPT_PATH}" down --name "$tname" || rc=$?
  st_check "down is idempotent" test "$rc" -eq 0
  rc=0
  tcp_try "${ST_IP1}" 2 || rc=$?
  st_check "a torn-down lab's portal is unreachable at once (guard route)" \
    test "$rc" -ne 0 -a "$rc" -ne 124

  printf '%d passed, %d failed\n' "$ST_PASS" "$ST_FAIL"
  [[ $ST_FAIL -eq 0 ]]
}

# ---------------------------------------------------------------------- main

main() {
  # Turn signals into exits so the EXIT traps (cleanup) run.
  trap 'exit 130' INT
  trap 'exit 143' TERM
  local cmd=${1:-help}
  [[ $# -gt 0 ]] && shift
  case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    env) cmd_env "$@" ;;
    status) cmd_status "$@" ;;
    list) cmd_list "$@" ;;
    fault) cmd_fault "$@" ;;
    scsi) cmd_scsi "$@" ;;
    self-test) cmd_self_test "$@" ;;
    help | -h | --help) usage ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
