/** Builders for pure-logic tests (plain data, no I/O). */
import type { SelectionConfig } from '../../src/config/types.js';
import type { CandidateView, SelectionSnapshot } from '../../src/selection/types.js';
import { EMPTY_METRICS, type EndpointMetrics } from '../../src/types.js';

export const NOW_MS = 1_000_000;

export function view(id: string, nodeId: string, over: Partial<Omit<CandidateView, 'metrics'>> & { metrics?: Partial<EndpointMetrics> } = {}): CandidateView {
  const { metrics, ...rest } = over;
  return {
    endpointId: id,
    nodeId,
    type: 'local',
    labels: {},
    weight: 1,
    state: 'HEALTHY',
    consecutiveFailures: 0,
    holdDownUntilMs: 0,
    ...rest,
    metrics: { ...EMPTY_METRICS, avgLatencyUs: 200, bandwidthMBps: 100, lastUpdateMs: NOW_MS, ...metrics },
  };
}

export function snap(candidates: CandidateView[], nowMs = NOW_MS): SelectionSnapshot {
  return { nowMs, candidates };
}

export function selCfg(over: Partial<SelectionConfig> = {}): SelectionConfig {
  return {
    algorithm: 'weighted_score',
    weights: { latency: 0.4, bandwidth: 0.3, reliability: 0.2, load: 0.1 },
    failureDomain: 'node',
    allowSharedFailureDomain: false,
    ...over,
  };
}
