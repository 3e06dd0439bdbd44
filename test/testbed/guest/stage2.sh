#!/bin/bash
# PID 1 in the guest after switch_root (the host's bash, from the read-only 9p root + tmpfs overlay).
# Mounts the pseudo file systems, runs /xdbm-results/cmd.sh, writes its exit code to /xdbm-results/rc
# and powers off. Output goes to /xdbm-results/output.log and the serial console.
set -uo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
R=/xdbm-results

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
# /tmp stays the overlay's (host /tmp below, writes to the guest's tmpfs upper layer): the project may
# itself live under /tmp (CI clones), and a fresh tmpfs here would hide it from the guest.
modprobe configfs 2>/dev/null || true
mount -t configfs configfs /sys/kernel/config
mkdir -p /run/netns /var/lib/nfs
ip link set lo up
hostname xdbm-guest 2>/dev/null || true

printf '%s\n' "$(cut -d' ' -f1 /proc/uptime)" > "$R/uptime-at-stage2"

rc=0
if [ -f "$R/cmd.sh" ]; then
  cd /work/main 2>/dev/null || cd /
  # The command's own output goes to the results share and the console.
  bash "$R/cmd.sh" > >(tee "$R/output.log" > /dev/console) 2>&1 || rc=$?
  sleep 0.2 # let tee drain
else
  echo "stage2: no $R/cmd.sh" > /dev/console
  rc=127
fi
printf '%s\n' "$(cut -d' ' -f1 /proc/uptime)" > "$R/uptime-at-end"
printf '%s\n' "$rc" > "$R/rc"
sync
echo o > /proc/sysrq-trigger
sleep 5
busybox poweroff -f
