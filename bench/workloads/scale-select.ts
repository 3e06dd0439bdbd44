/**
 * Scoring and selection time over a synthetic snapshot of n candidates (pure functions, no I/O):
 * selectActive (score, rank, place 3 actives in distinct failure domains) and scoreCandidate over
 * every candidate, with tinybench, at each size given.
 */
import { Bench } from 'tinybench';
import { configFromObject } from '../../src/config/index.js';
import { scoreCandidate } from '../../src/selection/scoring.js';
import { rankReplacements, selectActive } from '../../src/selection/select.js';
import type { CandidateView, SelectionSnapshot } from '../../src/selection/types.js';
import type { BackendType, HealthState } from '../../src/types.js';
import { atMost } from '../lib/goals.js';
import type { BenchRow } from '../lib/results.js';
import { runWorkload, type WorkloadOutput } from '../lib/workload.js';

interface Args {
  sizes: number[];
  timeMs: number;
}

/** Deterministic pseudo-random numbers (xorshift32), so every run scores the same snapshot. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 2 ** 32;
  };
}

export function syntheticSnapshot(n: number, nowMs = 1_700_000_000_000): SelectionSnapshot {
  const r = rng(n);
  const types: BackendType[] = ['nvmeof', 'nfs', 'local', 'block'];
  const states: HealthState[] = ['HEALTHY', 'HEALTHY', 'HEALTHY', 'HEALTHY', 'DEGRADED', 'UNHEALTHY', 'FAILED', 'UNKNOWN'];
  const candidates: CandidateView[] = [];
  for (let i = 0; i < n; i++) {
    const node = Math.floor(i / 3);
    candidates.push({
      endpointId: `ep-${i}`,
      nodeId: `node-${node}`,
      type: types[i % types.length]!,
      labels: { rack: `rack-${node % 40}`, zone: `zone-${node % 4}` },
      weight: 0.5 + r() / 2,
      state: states[Math.floor(r() * states.length)]!,
      consecutiveFailures: Math.floor(r() * 3),
      metrics: {
        avgLatencyUs: 50 + r() * 5000, p50LatencyUs: 40 + r() * 4000, p99LatencyUs: 100 + r() * 20000,
        bandwidthMBps: 50 + r() * 3000, iops: 1000 + r() * 200000, errorRate: r() < 0.9 ? 0 : r() * 0.05,
        load: r(), lastUpdateMs: nowMs - Math.floor(r() * 5000),
      },
      holdDownUntilMs: r() < 0.02 ? nowMs + 10_000 : 0,
    });
  }
  return { nowMs, candidates };
}

async function main(a: Args): Promise<WorkloadOutput> {
  const cfg = configFromObject({
    target_active_backends: 1,
    candidate_nodes: [{ node_id: 'n', address: '127.0.0.1', endpoints: [{ endpoint_id: 'e', type: 'local', connection_string: 'file:///tmp/x' }] }],
  }).selection;
  const rows: BenchRow[] = [];
  for (const n of a.sizes) {
    const snap = syntheticSnapshot(n);
    const current = selectActive(snap, cfg, { target: 3 }).selected;
    let sink = 0;
    const bench = new Bench({ time: a.timeMs, warmup: true });
    bench.add('selectActive', () => { sink += selectActive(snap, cfg, { target: 3, current }).selected.length; });
    bench.add('rankReplacements', () => { sink += rankReplacements(snap, current[0]!, current, cfg).length; });
    bench.add('scoreCandidate x n', () => { for (const c of snap.candidates) sink += scoreCandidate(c, cfg.weights).total; });
    await bench.run();
    const stat = (name: string): { p50: number; p99: number; mean: number; samples: number } => {
      const r = bench.tasks.find((t) => t.name === name)?.result;
      if (!r || !('latency' in r)) return { p50: Number.NaN, p99: Number.NaN, mean: Number.NaN, samples: 0 };
      return { p50: r.latency.p50 * 1000, p99: r.latency.p99 * 1000, mean: r.latency.mean * 1000, samples: r.latency.samplesCount };
    };
    const sel = stat('selectActive');
    const rep = stat('rankReplacements');
    const sc = stat('scoreCandidate x n');
    rows.push({
      suite: 'scale', backendType: 'synthetic', workload: `selection over ${n.toLocaleString('en')} candidates (weighted_score, 3 actives, distinct nodes; tinybench)`,
      values: {
        selectP50Us: sel.p50, selectP99Us: sel.p99, replacementP50Us: rep.p50, scoreAllP50Us: sc.p50, samples: sel.samples,
      },
      goal: atMost(`selection under 1 ms (goal set at 10,000 candidates; tinybench median)`, sel.p50 / 1000, 1, ' ms'),
    });
    if (sink === -1) console.error('unreachable');
  }
  return { rows };
}

void runWorkload('scale-select', main);
