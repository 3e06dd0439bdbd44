#!/bin/bash
# N-node cluster smoke inside the guest (default 10): bring the nodes up, connect every node's NVMe/TCP
# controller with nvme-cli and do one O_DIRECT write/read on each, write through each NFS mount,
# disconnect, and write the xdbm config. Writes $R/cluster-smoke.json.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TB="$HERE/tb.sh"
R="${XDBM_TB_RESULTS:-/xdbm-results}"
N="${1:-10}"
now_ms() { date +%s%3N; }

t0="$(now_ms)"
bash "$TB" up "$N"
up_ms=$(( $(now_ms) - t0 ))

t0="$(now_ms)"
for i in $(seq 1 "$N"); do bash "$TB" nvme-connect "$i"; done
for _ in $(seq 1 200); do
  c=0; for d in /sys/block/nvme*n1; do case "$d" in *nvme*c*n1) continue ;; esac; [ -e "$d" ] && c=$((c + 1)); done
  [ "$c" -ge "$N" ] && break
  sleep 0.05
done
connect_ms=$(( $(now_ms) - t0 ))
[ "$c" -ge "$N" ] || { echo "only $c of $N namespaces appeared" >&2; exit 1; }

t0="$(now_ms)"
for d in /sys/block/nvme*n1; do
  case "$d" in *nvme*c*n1) continue ;; esac
  dd if=/dev/urandom of=/tmp/blk bs=4k count=1 status=none
  dd if=/tmp/blk of="/dev/$(basename "$d")" bs=4k count=1 seek=100 oflag=direct status=none
  dd if="/dev/$(basename "$d")" of=/tmp/blk2 bs=4k count=1 skip=100 iflag=direct status=none
  cmp -s /tmp/blk /tmp/blk2 || { echo "readback mismatch on $d" >&2; exit 1; }
done
for i in $(seq 1 "$N"); do
  m="$(bash "$TB" mnt "$i")"
  printf 'node %s\n' "$i" > "$m/hello"
  [ "$(cat "$m/hello")" = "node $i" ] || { echo "nfs readback mismatch on node $i" >&2; exit 1; }
  rm -f "$m/hello"
done
io_ms=$(( $(now_ms) - t0 ))

t0="$(now_ms)"
for i in $(seq 1 "$N"); do bash "$TB" nvme-disconnect "$i"; done
disconnect_ms=$(( $(now_ms) - t0 ))

mkdir -p /var/lib/xdbm-tb
node "$HERE/../lib/make-config.mjs" "$N" /var/lib/xdbm-tb/xdbm.yaml >/dev/null
cp /var/lib/xdbm-tb/xdbm.yaml "$R/xdbm-testbed.yaml"

printf '{"nodes":%s,"cluster_up_ms":%s,"nvme_connect_all_ms":%s,"io_check_ms":%s,"nvme_disconnect_all_ms":%s,"uptime_s":%s}\n' \
  "$N" "$up_ms" "$connect_ms" "$io_ms" "$disconnect_ms" "$(cut -d' ' -f1 /proc/uptime)" | tee "$R/cluster-smoke.json"
