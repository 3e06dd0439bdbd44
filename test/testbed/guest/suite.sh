#!/bin/bash
# The whole testbed suite in ONE guest boot: 10-node cluster, protocol smoke, the project's real-target
# tests, then one process per fault test (test/testbed/faults/*.mjs). Results under /xdbm-results.
#   XDBM_TB_NODES (10), XDBM_TB_FAULTS ("all" or a space-separated list of fault names)
# Exit 0 only if every step passed.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TBDIR="$(cd "$HERE/.." && pwd)"
TB="$HERE/tb.sh"
R="${XDBM_TB_RESULTS:-/xdbm-results}"
N="${XDBM_TB_NODES:-10}"
FAULTS="${XDBM_TB_FAULTS:-all}"
ORDER="wal-baseline ns-disable subsys-unlink listener-close node-down fail-slow packet-loss nfsd-stop target-restore active-churn"
[ "$FAULTS" = all ] && FAULTS="$ORDER"
now_ms() { date +%s%3N; }
mkdir -p "$R/faults" "$R/steps"
rm -f "$R"/faults/*.json "$R"/steps/*.json
failed=0
# As the daemon does (src/cli/main.ts): fs, the addon's async I/O and koffi's libnvme calls share
# libuv's thread pool, and a hung NVMe or NFS call must not starve the healthy members.
export UV_THREADPOOL_SIZE=16

# step NAME CMD...: runs one step, records rc and time in $R/steps/NAME.json.
step() {
  local name="$1" t0 rc
  shift
  echo "=== step $name ($(cut -d' ' -f1 /proc/uptime) s uptime)" >&2
  t0="$(now_ms)"
  "$@"
  rc=$?
  printf '{"step":"%s","rc":%s,"ms":%s,"startedAtMs":%s}\n' "$name" "$rc" "$(( $(now_ms) - t0 ))" "$t0" > "$R/steps/$name.json"
  echo "=== step $name rc=$rc in $(( $(now_ms) - t0 )) ms" >&2
  [ "$rc" -eq 0 ] || failed=1
  return "$rc"
}

# A failing cluster bring-up makes everything after it meaningless.
step cluster-smoke bash "$HERE/cluster-smoke.sh" "$N" || { echo "cluster bring-up failed" >&2; exit 1; }

# The project's own real-target NVMe test (NVME engineer), when it exists.
PROJECT_TESTS="${XDBM_TB_PROJECT_TESTS:-1}"
if [ "$PROJECT_TESTS" = 1 ] && [ -f /work/main/test/nvme/nvmeof-target.test.ts ]; then
  target="$(bash "$TB" addr 1):4420/$(bash "$TB" nqn 1)"
  step nvmeof-target-test env XDBM_NVME_TARGET="$target" npx vitest run test/nvme/nvmeof-target.test.ts
fi

# `xdbm probe` against real backends, when the CLI has it.
if [ "$PROJECT_TESTS" = 1 ] && [ -f /work/main/dist/src/cli/commands/probe.js ]; then
  step probe-cli bash "$HERE/probe-cli.sh"
fi

for f in $FAULTS; do
  file="$TBDIR/faults/$f.mjs"
  [ -f "$file" ] || { echo "no fault test $f" >&2; failed=1; continue; }
  # A stuck test must not eat the CI budget.
  step "fault-$f" timeout -k 10 240 node "$file"
done

node "$TBDIR/lib/report.mjs" "$R" || failed=1
exit "$failed"
