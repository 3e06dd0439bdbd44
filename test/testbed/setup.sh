#!/usr/bin/env bash
# Prepares the real-protocol testbed: host packages, a Debian 6.1 kernel (unpacked, never installed),
# its modules (depmod'ed) and a busybox initramfs that mounts the host root over 9p.
# Idempotent: a second run only checks what is cached and prints the timings.
#
# Cache: $XDBM_TESTBED_CACHE (default /var/cache/xdbm-testbed), kept across clones of the repo.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"

t_all="$(now_ms)"
mkdir -p "$TB_CACHE"

# --- 1. host packages -------------------------------------------------------------------------
# qemu-system-x86: the guest; busybox-static: initramfs; kmod: depmod/modprobe; cpio: initramfs;
# nfs-kernel-server: rpc.nfsd/rpc.mountd/exportfs run inside the guest from the shared root;
# nvme-cli + libnvme1: initiator tools and the library the project binds with koffi; fio: bench;
# iproute2: netns/veth/tc netem; xz-utils: vmlinux extraction.
PACKAGES=(qemu-system-x86 busybox-static kmod cpio nfs-kernel-server nvme-cli libnvme1 fio iproute2 xz-utils util-linux)
t0="$(now_ms)"
missing=()
for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt_retry update -qq
  apt_retry install -y -qq --no-install-recommends "${missing[@]}"
fi
timing packages "$t0"

# --- 2. kernel ----------------------------------------------------------------------------------
t0="$(now_ms)"
if [ ! -s "$TB_CACHE/kernel-version" ]; then
  # Newest linux-image-6.1.0-N-amd64 apt knows of (signed image; only vmlinuz and modules are used).
  pkg="$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' | sort -V | tail -n 1 || true)"
  if [ -z "$pkg" ]; then
    apt_retry update -qq
    pkg="$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' | sort -V | tail -n 1)"
  fi
  [ -n "$pkg" ] || die "no linux-image-6.1.0-N-amd64 package known to apt"
  kver="${pkg#linux-image-}"
  log "kernel package $pkg"
  rm -rf "$TB_CACHE/deb" "$TB_CACHE/kernel"
  mkdir -p "$TB_CACHE/deb" "$TB_CACHE/kernel"
  # apt's download sandbox user must be able to write there (else a harmless but noisy warning).
  chown _apt "$TB_CACHE/deb" 2>/dev/null || true
  (cd "$TB_CACHE/deb" && apt_retry download "$pkg")
  deb="$(ls "$TB_CACHE/deb/"*.deb | head -n 1)"
  dpkg -x "$deb" "$TB_CACHE/kernel"
  # The .deb ships lib/modules/VER (bookworm); depmod -b wants BASE/lib/modules/VER.
  [ -d "$TB_CACHE/kernel/lib/modules/$kver" ] || die "modules for $kver missing in $deb"
  depmod -b "$TB_CACHE/kernel" "$kver"
  # Only vmlinuz and modules are needed: drop the .deb to save 70 MB.
  rm -rf "$TB_CACHE/deb"
  printf '%s\n' "$kver" > "$TB_CACHE/kernel-version"
fi
KVER="$(cat "$TB_CACHE/kernel-version")"
timing kernel "$t0"

# --- 3. vmlinux (PVH entry, boots ~3 s faster than the bzImage) -------------------------------
t0="$(now_ms)"
if [ ! -s "$TB_CACHE/vmlinux" ]; then
  vmlinuz="$TB_CACHE/kernel/boot/vmlinuz-$KVER"
  [ -f "$vmlinuz" ] || die "missing $vmlinuz"
  # Byte offset of the xz magic FD 37 7A 58 5A 00 inside the bzImage.
  off="$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -n 1 | cut -d: -f1)"
  [ -n "$off" ] || die "no xz stream in $vmlinuz"
  tail -c +"$((off + 1))" "$vmlinuz" | xz -dc --single-stream > "$TB_CACHE/vmlinux.tmp" 2>/dev/null || true
  head -c 4 "$TB_CACHE/vmlinux.tmp" | grep -q 'ELF' || die "decompressed kernel is not an ELF"
  mv "$TB_CACHE/vmlinux.tmp" "$TB_CACHE/vmlinux"
fi
timing vmlinux "$t0"

# --- 4. initramfs -------------------------------------------------------------------------------
t0="$(now_ms)"
INITRD="$TB_CACHE/initramfs.cpio.gz"
stamp="$(cat "$HERE/guest/init" | sha256sum | cut -c1-16)-$KVER"
if [ ! -s "$INITRD" ] || [ "$(cat "$TB_CACHE/initramfs.stamp" 2>/dev/null)" != "$stamp" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work"/{bin,dev,proc,sys,lower,rw,newroot,modules}
  cp /bin/busybox "$work/bin/busybox"
  file "$work/bin/busybox" 2>/dev/null | grep -q 'dynamically' && die "/bin/busybox is not static (busybox-static)"
  for m in $INITRAMFS_MODULES; do
    f="$(modinfo -b "$TB_CACHE/kernel" -k "$KVER" -n "$m")"
    case "$f" in
      *.ko) cp "$f" "$work/modules/$m.ko" ;;
      *.ko.xz) xz -dc "$f" > "$work/modules/$m.ko" ;;
      *) die "module $m not found ($f)" ;;
    esac
  done
  printf '%s\n' $INITRAMFS_MODULES > "$work/modules/order"
  install -m 0755 "$HERE/guest/init" "$work/init"
  (cd "$work" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1 > "$INITRD.tmp")
  mv "$INITRD.tmp" "$INITRD"
  printf '%s\n' "$stamp" > "$TB_CACHE/initramfs.stamp"
  rm -rf "$work"
  trap - EXIT
fi
timing initramfs "$t0"

# --- 5. what the guest needs from the host ----------------------------------------------------
# The guest runs node and the project straight from the host root: check they are there.
command -v node >/dev/null || die "node not found on the host"
[ -c /dev/kvm ] && log "note: /dev/kvm exists but is a nested PVM device; the guest uses TCG (testbed-facts.md)"

timing setup-total "$t_all"
log "kernel $KVER; vmlinux $(du -h "$TB_CACHE/vmlinux" | cut -f1); initramfs $(du -h "$INITRD" | cut -f1); cache $TB_CACHE"
