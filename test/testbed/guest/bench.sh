#!/bin/bash
# Inside the guest: one storage node (nvmet + nfsd in netns n1), then `npm run bench -- ARGS...` with
# XDBM_BENCH_NVMEOF / XDBM_BENCH_NFS / XDBM_BENCH_NFS_MOUNT pointing at it. Results land in
# /xdbm-results/bench unless ARGS give --out.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TB="$HERE/tb.sh"
R="${XDBM_TB_RESULTS:-/xdbm-results}"
bash "$TB" up 1
export XDBM_BENCH_NVMEOF="nvme://$(bash "$TB" addr 1):4420/$(bash "$TB" nqn 1)/1"
export XDBM_BENCH_NFS="nfs://$(bash "$TB" addr 1):/export"
export XDBM_BENCH_NFS_MOUNT="$(bash "$TB" mnt 1)"
echo "bench targets: $XDBM_BENCH_NVMEOF, $XDBM_BENCH_NFS at $XDBM_BENCH_NFS_MOUNT" >&2
out=()
case " $* " in *" --out "*) ;; *) out=(--out "$R/bench") ;; esac
cd /work/main
npm run bench -- "${out[@]}" "$@"
