# Shared by the testbed's host-side scripts. Sourced, never executed.
# shellcheck shell=bash

TB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROJECT_ROOT="$(cd "$TB_ROOT/../.." && pwd)"
TB_CACHE="${XDBM_TESTBED_CACHE:-/var/cache/xdbm-testbed}"

# Loaded in exactly this order (another order fails with unknown symbol).
INITRAMFS_MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci 9pnet 9pnet_virtio netfs fscache 9p overlay"

log() { printf '[testbed %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
now_ms() { date +%s%3N; }
# timing NAME START_MS: prints "timing NAME 1234 ms".
timing() { printf '[testbed] timing %-14s %6d ms\n' "$1" "$(( $(now_ms) - $2 ))" >&2; }

# apt-get with retries while another engineer or unattended job holds the dpkg lock.
apt_retry() {
  local i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    if apt-get -o DPkg::Lock::Timeout=60 "$@"; then return 0; fi
    log "apt-get $1 failed (try $i), retrying in 10 s"
    sleep 10
  done
  return 1
}
