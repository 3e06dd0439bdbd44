#!/usr/bin/env bash
# `npm run test:testbed`: real NVMe/TCP + NFS testbed in one QEMU guest (see test/testbed/README.md).
#   XDBM_TESTBED=skip      skip on purpose (prints why, exit 0). Any other reason not to run FAILS.
#   XDBM_TB_NODES=10       storage nodes (network namespaces) in the guest
#   XDBM_TB_FAULTS=all     or e.g. "ns-disable node-down"
#   XDBM_TESTBED_CACHE     download/unpack cache (default /var/cache/xdbm-testbed)
# Results: test/testbed/results/{results.json,results.md,faults/*.json}. Exit non-zero on any failure.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/common.sh"

if [ "${XDBM_TESTBED:-}" = skip ]; then
  log "SKIPPED on purpose (XDBM_TESTBED=skip): the real-protocol testbed needs qemu-system-x86 (TCG), about 3 GB RAM and ~15 min of 2 CPUs; nothing was tested"
  exit 0
fi

t_all="$(now_ms)"
NODES="${XDBM_TB_NODES:-10}"
FAULTS="${XDBM_TB_FAULTS:-all}"
[[ "$NODES" =~ ^[0-9]+$ ]] && [ "$NODES" -ge 3 ] && [ "$NODES" -le 20 ] || die "XDBM_TB_NODES must be 3..20"
[[ "$FAULTS" =~ ^[a-z0-9\ -]+$ ]] || die "XDBM_TB_FAULTS: fault names are [a-z0-9-], space separated"

[ "$(id -u)" -eq 0 ] || die "must run as root (apt-get, qemu 9p with security_model=none)"
bash "$HERE/setup.sh" || die "setup failed (packages/kernel/initramfs): the testbed cannot run here"

# Preflight: can this machine run the guest at all? Give the reason and fail.
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not installed"
mem_mb="$(awk '/MemAvailable/ {print int($2/1024)}' /proc/meminfo)"
[ "$mem_mb" -ge 3500 ] || die "only ${mem_mb} MB RAM available; the guest needs 3072 MB"

# The guest runs the project from the host's dist/: build it (type errors elsewhere still emit).
t0="$(now_ms)"
(cd "$PROJECT_ROOT" && npx tsc -p tsconfig.json) >/dev/null 2>&1 || log "tsc reported errors; using what it emitted"
[ -f "$PROJECT_ROOT/dist/src/config/load.js" ] || die "dist/ not built (npx tsc -p tsconfig.json)"
timing build "$t0"

# Trivial guest first: fails fast, with the reason, where QEMU cannot boot the kernel.
t0="$(now_ms)"
bash "$HERE/boot.sh" --timeout 120 -- node -e 'console.log("guest node", process.version)' \
  || die "the QEMU guest does not boot or cannot run node here (see output above)"
timing guest-smoke "$t0"

RUN="$TB_CACHE/suite-run"
rm -rf "$RUN"
mkdir -p "$RUN"
t0="$(now_ms)"
set +e
# Parameters go into the guest as quoted arguments (boot.sh quotes each with printf %q).
bash "$HERE/boot.sh" --mem 3072 --timeout "${XDBM_TB_TIMEOUT_S:-1800}" --results "$RUN" -- \
  env "XDBM_TB_NODES=$NODES" "XDBM_TB_FAULTS=$FAULTS" bash "$HERE/guest/suite.sh"
rc=$?
set -e
timing suite "$t0"

# Keep the results in the tree (JSON + markdown).
OUT="$HERE/results"
mkdir -p "$OUT/faults"
rm -f "$OUT"/faults/*.json
cp "$RUN"/faults/*.json "$OUT/faults/" 2>/dev/null || true
for f in results.json results.md cluster-smoke.json xdbm-testbed.yaml; do
  [ -f "$RUN/$f" ] && cp "$RUN/$f" "$OUT/$f"
done
cp "$RUN/output.log" "$OUT/guest-output.log" 2>/dev/null || true
timing testbed-total "$t_all"
[ "$rc" -eq 0 ] || die "testbed suite failed (rc $rc): see $OUT/results.md and $OUT/guest-output.log"
log "testbed suite passed: $OUT/results.md"
