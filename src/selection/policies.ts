/**
 * Selection policies (seed 2.2 backend_selection_policy_t) as orderings of eligible candidates.
 * Scored policies give each candidate a positive value (higher is better) and break ties by the
 * weighted score, then by endpoint id, so the order is deterministic:
 *  - weighted_score: the seed 4.1 total score (already times the endpoint weight);
 *  - latency_first: 1e6 / (1 + avgLatencyUs), times the endpoint weight;
 *  - bandwidth_first: bandwidthMBps, times the endpoint weight;
 *  - load_balanced: 1 - load, times the endpoint weight.
 * round_robin has no value: candidates sorted by id and rotated by a cursor.
 */
import type { SelectionConfig } from '../config/types.js';
import type { SelectionPolicy } from '../types.js';
import { scoreTotal } from './scoring.js';
import type { CandidateView } from './types.js';

export interface RankedCandidate {
  view: CandidateView;
  /** Policy value, higher is better (round_robin: position value, higher first). */
  value: number;
  /** Seed 4.1 total score, the tie-breaker. */
  score: number;
}

export function policyValue(policy: SelectionPolicy, c: CandidateView, score: number): number {
  switch (policy) {
    case 'weighted_score':
      return score;
    case 'latency_first':
      return (1e6 / (1 + Math.max(0, c.metrics.avgLatencyUs))) * c.weight;
    case 'bandwidth_first':
      return Math.max(0, c.metrics.bandwidthMBps) * c.weight;
    case 'load_balanced':
      return Math.min(1, Math.max(0, 1 - c.metrics.load)) * c.weight;
    case 'round_robin':
      return 0;
  }
}

function compareRanked(a: RankedCandidate, b: RankedCandidate): number {
  return b.value - a.value || b.score - a.score || (a.view.endpointId < b.view.endpointId ? -1 : a.view.endpointId > b.view.endpointId ? 1 : 0);
}

/**
 * Orders candidates best first. `preferred` ids get their value multiplied by (1 + hysteresis) so a
 * current active is displaced only by a clearly better candidate. For round_robin the preferred ids
 * come first (they are kept), then the rest rotated by `cursor`.
 */
export function rankCandidates(
  candidates: CandidateView[],
  cfg: SelectionConfig,
  opts: { cursor?: number; preferred?: ReadonlySet<string>; hysteresis?: number } = {},
): RankedCandidate[] {
  const preferred = opts.preferred ?? new Set<string>();
  const h = opts.hysteresis ?? 0;
  const ranked = candidates.map((view) => {
    const score = scoreTotal(view, cfg.weights);
    let value = policyValue(cfg.algorithm, view, score);
    if (preferred.has(view.endpointId)) value *= 1 + h;
    return { view, value, score };
  });
  if (cfg.algorithm !== 'round_robin') return ranked.sort(compareRanked);

  const byId = ranked.sort((a, b) => (a.view.endpointId < b.view.endpointId ? -1 : a.view.endpointId > b.view.endpointId ? 1 : 0));
  const kept = byId.filter((r) => preferred.has(r.view.endpointId));
  const rest = byId.filter((r) => !preferred.has(r.view.endpointId));
  const n = rest.length;
  const start = n === 0 ? 0 : (((opts.cursor ?? 0) % n) + n) % n;
  const rotated = rest.slice(start).concat(rest.slice(0, start));
  const out = kept.concat(rotated);
  out.forEach((r, i) => { r.value = out.length - i; });
  return out;
}
