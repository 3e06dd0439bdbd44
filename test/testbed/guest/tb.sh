#!/bin/bash
# Storage-cluster controller that runs INSIDE the testbed guest (needs the guest kernel's nvmet,
# nvme-tcp, nfsd and netns). Every node I (1..N) is one network namespace nI with a veth pair
#   hI 10.99.I.1 (guest root ns, where the manager runs)  <->  gI 10.99.I.2 (inside nI)
# and its own nvmet TCP port (10.99.I.2:4420) and its own kernel nfsd exporting /export (a tmpfs
# private to the node's mount namespace).
#
#   tb.sh up N                       bring up nodes 1..N, mount every node's NFS export (soft)
#   tb.sh fault KIND I [ARG]         inject a fault on node I
#   tb.sh restore KIND I             undo it
#   tb.sh nqn I | addr I | mnt I | local I   names used by the generated config
#   tb.sh nvme-connect I / nvme-disconnect I   initiator through nvme-cli (smoke only)
#
# KIND: ns-disable | subsys-unlink | listener-close | node-down | delay [MS] | loss [PCT] | nfsd-stop
# Arguments are node numbers and numbers only; they are checked before use.
set -euo pipefail

CFG=/sys/kernel/config/nvmet
STATE=/var/lib/xdbm-tb/state
NQN_PREFIX=nqn.2026-11.io.xdbm.testbed
NVME_SIZE_MB="${XDBM_TB_NVME_MB:-256}"
# v3: NFSv4 pseudo-root lookups fail for an nfsd whose exports live in a private mount namespace.
NFS_OPTS="${XDBM_TB_NFS_OPTS:-vers=3,nolock,proto=tcp,soft,timeo=10,retrans=1,actimeo=1}"
SELF="$(readlink -f "${BASH_SOURCE[0]}")"

log() { printf '[tb %s] %s\n' "$(cut -d' ' -f1 /proc/uptime)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
now_ms() { date +%s%3N; }
timing() { printf '[tb] timing %-22s %6d ms\n' "$1" "$(( $(now_ms) - $2 ))" >&2; }
num() { [[ "$1" =~ ^[0-9]+$ ]] || die "not a number: $1"; }
node_ok() { num "$1"; [ "$1" -ge 1 ] && [ "$1" -le 99 ] || die "bad node $1"; }

nqn() { printf '%s:node%s\n' "$NQN_PREFIX" "$1"; }
spare_nqn() { printf '%s:node%s-spare\n' "$NQN_PREFIX" "$1"; }
addr() { printf '10.99.%s.2\n' "$1"; }
mnt() { printf '/mnt/xdbm/node%s\n' "$1"; }
localdir() { printf '/var/lib/xdbm-tb/node%s/local\n' "$1"; }
holder() { cat "$STATE/n$1/holder.pid"; }
# Runs a command inside node I's network + private mount namespace (its nfsd lives there).
in_node() { local i="$1"; shift; nsenter -t "$(holder "$i")" -m -n -- "$@"; }

load_modules() {
  local t0; t0="$(now_ms)"
  modprobe -a nvmet nvmet-tcp nvme-tcp nvme-fabrics sch_netem veth nfsd nfs nfsv4 \
    || die "modprobe failed"
  timing modules "$t0"
}

make_brd() {
  local n="$1"
  [ -b /dev/ram0 ] && return 0
  modprobe -r brd 2>/dev/null || true
  modprobe brd rd_nr="$n" rd_size="$((NVME_SIZE_MB * 1024))" max_part=0
  udev_wait /dev/ram$((n - 1))
}

udev_wait() { local i; for i in $(seq 1 100); do [ -e "$1" ] && return 0; sleep 0.05; done; die "$1 did not appear"; }

net_up() {
  local i="$1" ns="n$1"
  ip netns add "$ns"
  ip link add "h$i" type veth peer name "g$i"
  ip link set "g$i" netns "$ns"
  ip addr add "10.99.$i.1/24" dev "h$i"
  ip link set "h$i" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$(addr "$i")/24" dev "g$i"
  ip -n "$ns" link set "g$i" up
}

subsys_make() {
  local nqn="$1" dev="$2" buffered="${3:-0}" s
  s="$CFG/subsystems/$nqn"
  mkdir "$s"
  echo 1 > "$s/attr_allow_any_host"
  mkdir "$s/namespaces/1"
  printf '%s' "$dev" > "$s/namespaces/1/device_path"
  [ "$buffered" = 1 ] && echo 1 > "$s/namespaces/1/buffered_io"
  echo 1 > "$s/namespaces/1/enable"
}

# The listening socket is created in the netns of the process that makes the link (nsenter, not
# `ip netns exec`, which remounts /sys without configfs).
port_link() {
  local i="$1" nqn="$2"
  [ -e "$CFG/ports/$i/subsystems/$nqn" ] && return 0
  nsenter --net="/run/netns/n$i" -- ln -s "$CFG/subsystems/$nqn" "$CFG/ports/$i/subsystems/$nqn"
}
port_unlink() { rm -f "$CFG/ports/$1/subsystems/$2"; }

nvmet_up() {
  local i="$1" p
  subsys_make "$(nqn "$i")" "/dev/ram$((i - 1))"
  # A second, tiny subsystem on the same port, so "unlink one subsystem" leaves the listener open.
  truncate -s 8M "$STATE/n$i/spare.img"
  subsys_make "$(spare_nqn "$i")" "$STATE/n$i/spare.img" 1
  p="$CFG/ports/$i"
  mkdir "$p"
  echo ipv4 > "$p/addr_adrfam"
  echo tcp > "$p/addr_trtype"
  addr "$i" > "$p/addr_traddr"
  echo 4420 > "$p/addr_trsvcid"
  port_link "$i" "$(nqn "$i")"
  port_link "$i" "$(spare_nqn "$i")"
}

# Runs as the node's holder process: `ip netns exec nI unshare -m --propagation private tb.sh _node I`.
node_ns_main() {
  local i="$1"
  mount -t tmpfs -o size=64m tmpfs /run
  mount -t tmpfs -o size=16m tmpfs /var/lib/nfs
  mkdir -p /run/rpcbind /var/lib/nfs/v4recovery /var/lib/nfs/rpc_pipefs
  chown _rpc /run/rpcbind 2>/dev/null || true
  : > /var/lib/nfs/etab; : > /var/lib/nfs/rmtab
  mount -t tmpfs -o size=512m tmpfs /export
  chmod 0777 /export
  printf '/export %s/24(rw,sync,no_root_squash,no_subtree_check,insecure,fsid=%s)\n' "10.99.$i.0" "$i" > "$STATE/n$i/exports"
  mount --bind "$STATE/n$i/exports" /etc/exports
  mount -t nfsd nfsd /proc/fs/nfsd
  rpcbind -w
  exportfs -ra
  rpc.mountd --no-udp
  rpc.nfsd --no-udp -H "$(addr "$i")" -G 10 -L 10 4
  echo Y > /proc/fs/nfsd/v4_end_grace 2>/dev/null || true
  echo ready > "$STATE/n$i/nfsd.ready"
  exec sleep infinity
}

nfsd_start() {
  local i="$1"
  rm -f "$STATE/n$i/nfsd.ready"
  setsid ip netns exec "n$i" unshare -m --propagation private -- bash "$SELF" _node "$i" \
    > "$STATE/n$i/nfsd.log" 2>&1 < /dev/null &
  echo $! > "$STATE/n$i/holder.pid"
}

nfsd_wait() {
  local i="$1" k
  for k in $(seq 1 400); do
    [ -f "$STATE/n$i/nfsd.ready" ] && return 0
    kill -0 "$(holder "$i")" 2>/dev/null || { cat "$STATE/n$i/nfsd.log" >&2; die "node $i nfsd setup died"; }
    sleep 0.05
  done
  cat "$STATE/n$i/nfsd.log" >&2
  die "node $i nfsd not ready"
}

nfs_mount() {
  local i="$1" m
  m="$(mnt "$i")"
  mkdir -p "$m"
  mountpoint -q "$m" && return 0
  mount -t nfs -o "$NFS_OPTS" "$(addr "$i"):/export" "$m"
}

cmd_up() {
  local n="$1" i t0 t1
  num "$n"
  t0="$(now_ms)"
  mkdir -p "$STATE" /export /mnt/xdbm
  load_modules
  make_brd "$n"
  t1="$(now_ms)"
  for i in $(seq 1 "$n"); do
    mkdir -p "$STATE/n$i" "$(localdir "$i")"
    net_up "$i"
    nvmet_up "$i"
    nfsd_start "$i"
  done
  for i in $(seq 1 "$n"); do nfsd_wait "$i"; done
  timing "nodes-up($n)" "$t1"
  t1="$(now_ms)"
  for i in $(seq 1 "$n"); do nfs_mount "$i"; done
  timing "nfs-mounts($n)" "$t1"
  timing "cluster-up($n)" "$t0"
  printf '%s\n' "$n" > "$STATE/nodes"
}

cmd_nvme_connect() {
  local i="$1"
  # nvme-cli 2.3 has no --fast_io_fail_tmo: write the options string to /dev/nvme-fabrics.
  local hostnqn
  hostnqn="$(cat /etc/nvme/hostnqn 2>/dev/null || nvme gen-hostnqn)"
  printf 'transport=tcp,traddr=%s,trsvcid=4420,nqn=%s,hostnqn=%s,ctrl_loss_tmo=6,reconnect_delay=1,fast_io_fail_tmo=2' \
    "$(addr "$i")" "$(nqn "$i")" "$hostnqn" > /dev/nvme-fabrics
}

cmd_nvme_disconnect() { nvme disconnect -n "$(nqn "$1")" >/dev/null; }

# Controller device (nvmeX) connected to node I's data subsystem, if any.
cmd_ctrl() {
  local c
  for c in /sys/class/nvme/nvme*; do
    [ -e "$c/subsysnqn" ] || continue
    if [ "$(cat "$c/subsysnqn")" = "$(nqn "$1")" ]; then basename "$c"; return 0; fi
  done
  return 1
}

cmd_fault() {
  local kind="$1" i="$2" arg="${3:-}"
  node_ok "$i"
  case "$kind" in
    ns-disable) echo 0 > "$CFG/subsystems/$(nqn "$i")/namespaces/1/enable" ;;
    subsys-unlink) port_unlink "$i" "$(nqn "$i")" ;;
    listener-close) port_unlink "$i" "$(nqn "$i")"; port_unlink "$i" "$(spare_nqn "$i")" ;;
    node-down) ip link set "h$i" down ;;
    delay) num "${arg:-50}"; tc qdisc replace dev "h$i" root netem delay "${arg:-50}ms" ;;
    loss) num "${arg:-100}"; tc qdisc replace dev "h$i" root netem loss "${arg:-100}%" ;;
    nfsd-stop) in_node "$i" rpc.nfsd 0 ;;
    *) die "unknown fault $kind" ;;
  esac
}

cmd_restore() {
  local kind="$1" i="$2"
  node_ok "$i"
  case "$kind" in
    ns-disable) echo 1 > "$CFG/subsystems/$(nqn "$i")/namespaces/1/enable" ;;
    subsys-unlink) port_link "$i" "$(nqn "$i")" ;;
    listener-close) port_link "$i" "$(nqn "$i")"; port_link "$i" "$(spare_nqn "$i")" ;;
    node-down) ip link set "h$i" up ;;
    delay|loss) tc qdisc del dev "h$i" root 2>/dev/null || true ;;
    nfsd-stop)
      in_node "$i" rpc.nfsd --no-udp -H "$(addr "$i")" -G 10 -L 10 4
      in_node "$i" sh -c 'echo Y > /proc/fs/nfsd/v4_end_grace' 2>/dev/null || true
      ;;
    *) die "unknown fault $kind" ;;
  esac
}

main() {
  local cmd="${1:-}"
  shift || true
  case "$cmd" in
    up) cmd_up "$@" ;;
    _node) node_ok "$1"; node_ns_main "$1" ;;
    fault) cmd_fault "$@" ;;
    restore) cmd_restore "$@" ;;
    nqn) node_ok "$1"; nqn "$1" ;;
    spare-nqn) node_ok "$1"; spare_nqn "$1" ;;
    addr) node_ok "$1"; addr "$1" ;;
    mnt) node_ok "$1"; mnt "$1" ;;
    local) node_ok "$1"; localdir "$1" ;;
    ctrl) node_ok "$1"; cmd_ctrl "$1" ;;
    nvme-connect) node_ok "$1"; cmd_nvme_connect "$1" ;;
    nvme-disconnect) node_ok "$1"; cmd_nvme_disconnect "$1" ;;
    *) die "usage: tb.sh up N | fault KIND I [ARG] | restore KIND I | nqn|addr|mnt|local|ctrl I" ;;
  esac
}
main "$@"
