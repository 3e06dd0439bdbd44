#!/usr/bin/env bash
# Runs `npm run bench -- ARGS...` inside the testbed guest against a real NVMe/TCP target and a real
# NFS export (one node), e.g.
#   bash test/testbed/bench.sh -- --type nvmeof --type nfs --quick
#   bash test/testbed/bench.sh --out bench/results/testbed -- --type nvmeof
# Results are copied to --out (default $XDBM_TESTBED_CACHE/bench-run/bench).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib/common.sh"
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
bash "$HERE/setup.sh"
(cd "$PROJECT_ROOT" && npx tsc -p tsconfig.json) >/dev/null 2>&1 || log "tsc reported errors; using what it emitted"
RUN="$TB_CACHE/bench-run"
rm -rf "$RUN"; mkdir -p "$RUN"
set +e
bash "$HERE/boot.sh" --mem 3072 --timeout "${XDBM_TB_TIMEOUT_S:-3600}" --results "$RUN" -- bash "$HERE/guest/bench.sh" "$@"
rc=$?
set -e
if [ -n "$OUT" ] && [ -d "$RUN/bench" ]; then mkdir -p "$OUT"; cp -r "$RUN/bench/." "$OUT/"; fi
log "bench results: ${OUT:-$RUN/bench} (rc $rc)"
exit "$rc"
