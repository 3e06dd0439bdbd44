#!/usr/bin/env bash
# Boots the testbed guest, runs one command in it and exits with the command's exit code.
#
#   boot.sh [--mem MB] [--smp N] [--timeout S] [--results DIR] [--script FILE | -- CMD ARGS...]
#
# The guest sees the host root read-only (9p + tmpfs overlay), so node, npm and /work/main run there
# unchanged; DIR (default $XDBM_TESTBED_CACHE/guest-run) is shared writable at /xdbm-results.
# The command runs in /work/main under bash. Its output is streamed to stdout (serial console) and
# kept in DIR/output.log.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/common.sh"

MEM=2048
SMP=2
TIMEOUT_S=600
RESULTS="$TB_CACHE/guest-run"
SCRIPT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --mem) MEM="$2"; shift 2 ;;
    --smp) SMP="$2"; shift 2 ;;
    --timeout) TIMEOUT_S="$2"; shift 2 ;;
    --results) RESULTS="$2"; shift 2 ;;
    --script) SCRIPT="$2"; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done

[ -s "$TB_CACHE/vmlinux" ] && [ -s "$TB_CACHE/initramfs.cpio.gz" ] || die "run test/testbed/setup.sh first"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (setup.sh installs qemu-system-x86)"
KVER="$(cat "$TB_CACHE/kernel-version")"

mkdir -p "$RESULTS"
rm -f "$RESULTS/rc" "$RESULTS/output.log" "$RESULTS/cmd.sh" "$RESULTS/uptime-at-stage2" "$RESULTS/uptime-at-end"
if [ -n "$SCRIPT" ]; then
  cp "$SCRIPT" "$RESULTS/cmd.sh"
elif [ $# -gt 0 ]; then
  # Each argument quoted on its own: nothing is re-parsed by a shell.
  { printf 'set -euo pipefail\n'; printf '%q ' "$@"; printf '\n'; } > "$RESULTS/cmd.sh"
else
  die "nothing to run (give --script FILE or -- CMD ...)"
fi

# KVM: /dev/kvm on these machines is a nested PVM device that hangs Debian's kernel or aborts qemu
# (failed to set MSR 0x10a): TCG unless XDBM_TESTBED_ACCEL=kvm is set on purpose.
ACCEL="${XDBM_TESTBED_ACCEL:-tcg,thread=multi}"
CPU="max"
[ "${ACCEL%%,*}" = kvm ] && CPU="host"

t0="$(now_ms)"
set +e
timeout --foreground -k 10 "$TIMEOUT_S" qemu-system-x86_64 \
  -nodefaults -no-user-config \
  -accel "$ACCEL" -cpu "$CPU" -m "$MEM" -smp "$SMP" \
  -display none -serial stdio -monitor none -no-reboot \
  -kernel "$TB_CACHE/vmlinux" -initrd "$TB_CACHE/initramfs.cpio.gz" \
  -append "console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init xdbm.stage2=$HERE/guest/stage2.sh" \
  -fsdev local,id=r,path=/,security_model=none,readonly=on,multidevs=remap \
  -device virtio-9p-pci,fsdev=r,mount_tag=hostroot \
  -fsdev "local,id=m,path=$TB_CACHE/kernel/lib/modules,security_model=none,readonly=on" \
  -device virtio-9p-pci,fsdev=m,mount_tag=modules \
  -fsdev "local,id=w,path=$RESULTS,security_model=none" \
  -device virtio-9p-pci,fsdev=w,mount_tag=results \
  < /dev/null
qrc=$?
set -e
elapsed=$(( $(now_ms) - t0 ))

if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
  die "guest timed out after ${TIMEOUT_S}s (kernel $KVER)"
fi
[ -s "$RESULTS/rc" ] || die "guest exited (qemu rc $qrc) without writing an exit code: boot failed? (kernel $KVER)"
rc="$(cat "$RESULTS/rc")"
log "guest run: ${elapsed} ms wall, stage2 at $(cat "$RESULTS/uptime-at-stage2" 2>/dev/null || echo '?') s uptime, command rc $rc"
printf '%s\n' "$elapsed" > "$RESULTS/wall-ms"
exit "$rc"
