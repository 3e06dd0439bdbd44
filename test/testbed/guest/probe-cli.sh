#!/bin/bash
# `xdbm probe` (performance) against real backends of node 1 inside the guest: the raw NVMe/TCP
# namespace (block:// after an nvme-cli connect, then nvme:// through the project's libnvme path),
# the node's NFS export and a local directory. Results in $R/probe/*.json.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TB="$HERE/tb.sh"
R="${XDBM_TB_RESULTS:-/xdbm-results}"
CLI=/work/main/dist/src/cli/main.js
mkdir -p "$R/probe"
now_ms() { date +%s%3N; }
failed=0

probe() { # NAME ARGS...
  local name="$1" t0 rc
  shift
  t0="$(now_ms)"
  timeout -k 5 120 node "$CLI" probe "$@" --type performance --timeout-ms 60000 --json > "$R/probe/$name.json" 2> "$R/probe/$name.err"
  rc=$?
  printf '[probe-cli] %-10s rc=%s %s ms\n' "$name" "$rc" "$(( $(now_ms) - t0 ))" >&2
  [ "$rc" -eq 0 ] || { failed=1; tail -n 5 "$R/probe/$name.err" >&2; }
}

# block:// on the namespace connected with nvme-cli
bash "$TB" nvme-connect 1
dev=""
for _ in $(seq 1 100); do
  for d in /sys/block/nvme*n1; do case "$d" in *nvme*c*n1) continue ;; esac; [ -e "$d" ] && dev="/dev/$(basename "$d")"; done
  [ -n "$dev" ] && [ -b "$dev" ] && break
  sleep 0.05
done
if [ -b "$dev" ]; then probe block "block://$dev"; else echo "no namespace device for block probe" >&2; failed=1; fi
bash "$TB" nvme-disconnect 1 || true

probe nvme "nvme://$(bash "$TB" addr 1):4420/$(bash "$TB" nqn 1)/1"
probe nfs "nfs://$(bash "$TB" addr 1):/export" --mount-point "$(bash "$TB" mnt 1)"
mkdir -p /var/lib/xdbm-tb/probe-local
probe local "file:///var/lib/xdbm-tb/probe-local"
exit "$failed"
