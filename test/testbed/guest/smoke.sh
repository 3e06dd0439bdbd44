#!/bin/bash
# Single-node smoke inside the guest: nvmet target + NVMe/TCP initiator (nvme-cli), kernel nfsd +
# soft NFS mount, node reading and writing both. Writes $R/smoke.json. (The project's own code runs
# in suite.sh: nvmeof-target.test.ts, probe-cli.sh, faults/*.mjs.)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TB="$HERE/tb.sh"
R="${XDBM_TB_RESULTS:-/xdbm-results}"
now_ms() { date +%s%3N; }
up() { cut -d' ' -f1 /proc/uptime; }
declare -A T
step() { printf '[smoke %s] %s\n' "$(up)" "$*" >&2; }

t0="$(now_ms)"
bash "$TB" up 1
T[cluster_up_ms]=$(( $(now_ms) - t0 ))

# --- NVMe/TCP through nvme-cli ---------------------------------------------------------------
t0="$(now_ms)"
bash "$TB" nvme-connect 1
ctrl=""
for _ in $(seq 1 100); do ctrl="$(bash "$TB" ctrl 1 2>/dev/null || true)"; [ -n "$ctrl" ] && break; sleep 0.05; done
[ -n "$ctrl" ] || { echo "no controller for node 1" >&2; exit 1; }
dev=""
for _ in $(seq 1 100); do
  for d in /sys/block/nvme*n1; do case "$d" in *nvme*c*n1) continue ;; esac; [ -e "$d" ] && dev="/dev/$(basename "$d")"; done
  [ -n "$dev" ] && [ -b "$dev" ] && break
  # devtmpfs creates the node; there is no udev in the guest.
  sleep 0.05
done
[ -b "$dev" ] || { echo "no nvme namespace block device" >&2; exit 1; }
T[nvme_connect_ms]=$(( $(now_ms) - t0 ))
step "connected $ctrl -> $dev (state $(cat "/sys/class/nvme/$ctrl/state"), uptime $(up) s)"
nvme list >&2 || true
node -e '
const fs = require("fs");
const dev = process.argv[1];
const fd = fs.openSync(dev, fs.constants.O_RDWR | fs.constants.O_DIRECT);
const buf = Buffer.alloc(4096 * 4, 0);
buf.write("xdbm-testbed-smoke", 0);
// O_DIRECT needs an aligned buffer: a 16 KiB Buffer.alloc is page aligned in practice; fall back to
// a buffered descriptor if not.
try { fs.writeSync(fd, buf, 0, buf.length, 1 << 20); } catch (e) { console.error("direct write failed", e.code); process.exit(2); }
const back = Buffer.alloc(buf.length);
fs.readSync(fd, back, 0, back.length, 1 << 20);
if (!back.equals(buf)) { console.error("nvme readback mismatch"); process.exit(3); }
console.log("node O_DIRECT write/read on", dev, "ok");
' "$dev"
T[dd_write_ms]=$( { t1="$(now_ms)"; dd if=/dev/zero of="$dev" bs=1M count=16 oflag=direct status=none; echo $(( $(now_ms) - t1 )); } )

# --- NFS ----------------------------------------------------------------------------------------
m="$(bash "$TB" mnt 1)"
node -e '
const fs = require("fs"), path = require("path");
const f = path.join(process.argv[1], "smoke.txt");
fs.writeFileSync(f, "hello over nfs\n"); const fd = fs.openSync(f, "r+"); fs.fsyncSync(fd); fs.closeSync(fd);
if (fs.readFileSync(f, "utf8") !== "hello over nfs\n") process.exit(3);
fs.unlinkSync(f); console.log("node write/fsync/read over NFS at", process.argv[1], "ok");
' "$m"
grep " $m " /proc/self/mountinfo >&2

{
  printf '{"kernel":"%s","uptime_s":%s,"nvme_device":"%s"' "$(uname -r)" "$(up)" "$dev"
  for k in "${!T[@]}"; do printf ',"%s":%s' "$k" "${T[$k]}"; done
  printf '}\n'
} > "$R/smoke.json"
cat "$R/smoke.json"
