/**
 * Property-style check: selectActive (single pass, no full sort) gives exactly the result of the
 * straightforward sort-based ranking it replaced, kept here as the reference, on many seeded random
 * snapshots (states, weights, latencies, domains, current actives, hysteresis, cursor, all policies).
 */
import { describe, expect, it } from 'vitest';
import type { SelectionConfig } from '../../src/config/types.js';
import { domainOf } from '../../src/selection/domain.js';
import { isEligible } from '../../src/selection/eligibility.js';
import { policyValue } from '../../src/selection/policies.js';
import { scoreCandidate } from '../../src/selection/scoring.js';
import { DEFAULT_HYSTERESIS, selectActive, type SelectOptions, type SelectResult } from '../../src/selection/select.js';
import type { CandidateView, SelectionSnapshot } from '../../src/selection/types.js';
import type { HealthState, SelectionPolicy } from '../../src/types.js';
import { NOW_MS, selCfg, snap, view } from './fixtures.js';

// --- reference: the sort-based implementation as it was
interface Ranked { view: CandidateView; value: number; score: number }

function refCompare(a: Ranked, b: Ranked): number {
  return b.value - a.value || b.score - a.score || (a.view.endpointId < b.view.endpointId ? -1 : a.view.endpointId > b.view.endpointId ? 1 : 0);
}

function refRank(candidates: CandidateView[], cfg: SelectionConfig, opts: { cursor?: number; preferred?: ReadonlySet<string>; hysteresis?: number }): Ranked[] {
  const preferred = opts.preferred ?? new Set<string>();
  const h = opts.hysteresis ?? 0;
  const ranked = candidates.map((v) => {
    const score = scoreCandidate(v, cfg.weights).total;
    let value = policyValue(cfg.algorithm, v, score);
    if (preferred.has(v.endpointId)) value *= 1 + h;
    return { view: v, value, score };
  });
  if (cfg.algorithm !== 'round_robin') return ranked.sort(refCompare);
  const byId = ranked.sort((a, b) => (a.view.endpointId < b.view.endpointId ? -1 : a.view.endpointId > b.view.endpointId ? 1 : 0));
  const kept = byId.filter((r) => preferred.has(r.view.endpointId));
  const rest = byId.filter((r) => !preferred.has(r.view.endpointId));
  const n = rest.length;
  const start = n === 0 ? 0 : (((opts.cursor ?? 0) % n) + n) % n;
  const out = kept.concat(rest.slice(start).concat(rest.slice(0, start)));
  out.forEach((r, i) => { r.value = out.length - i; });
  return out;
}

function refSelect(snapshot: SelectionSnapshot, cfg: SelectionConfig, opts: SelectOptions): SelectResult {
  const eligible = snapshot.candidates.filter((c) => isEligible(c, snapshot.nowMs));
  const current = new Set(opts.current ?? []);
  const ranked = refRank(eligible, cfg, { cursor: opts.cursor, preferred: current, hysteresis: opts.hysteresis ?? DEFAULT_HYSTERESIS });
  const warnings: string[] = [];
  const taken: string[] = [];
  const used = new Set<string>();
  for (const r of ranked) {
    if (taken.length >= opts.target) break;
    const d = domainOf(r.view, cfg.failureDomain);
    if (used.has(d) || taken.includes(r.view.endpointId)) continue;
    taken.push(r.view.endpointId);
    used.add(d);
  }
  if (taken.length < opts.target && cfg.allowSharedFailureDomain) {
    for (const r of ranked) {
      if (taken.length >= opts.target) break;
      if (taken.includes(r.view.endpointId)) continue;
      taken.push(r.view.endpointId);
      warnings.push(`${r.view.endpointId} shares failure domain ${domainOf(r.view, cfg.failureDomain)} with another active`);
    }
  }
  const ordered = [...(opts.current ?? []).filter((id) => taken.includes(id)), ...taken.filter((id) => !current.has(id))];
  const shortfall = Math.max(0, opts.target - ordered.length);
  if (shortfall > 0) {
    const domains = new Set(eligible.map((c) => domainOf(c, cfg.failureDomain)));
    warnings.push(`only ${ordered.length} of ${opts.target} actives: ${eligible.length} eligible candidates in ${domains.size} failure domains (${cfg.failureDomain})`);
  }
  const added = ordered.filter((id) => !current.has(id)).length;
  return { selected: ordered, shortfall, warnings, nextCursor: (opts.cursor ?? 0) + (cfg.algorithm === 'round_robin' ? added : 0) };
}

// --- random snapshots
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 2 ** 32;
  };
}

const POLICIES: SelectionPolicy[] = ['weighted_score', 'latency_first', 'bandwidth_first', 'load_balanced', 'round_robin'];
const STATES: HealthState[] = ['HEALTHY', 'HEALTHY', 'HEALTHY', 'DEGRADED', 'DEGRADED', 'UNHEALTHY', 'FAILED', 'UNKNOWN'];

function randomCase(seed: number): { s: SelectionSnapshot; cfg: SelectionConfig; opts: SelectOptions } {
  const r = rng(seed * 2654435761);
  const int = (n: number): number => Math.floor(r() * n);
  const pickOf = <T,>(xs: readonly T[]): T => xs[int(xs.length)]!;
  // Coarse values on some cases so that ties (value, then score, then id) really happen.
  const coarse = r() < 0.4;
  const num = (lo: number, hi: number, steps: number): number => (coarse ? lo + ((hi - lo) * int(steps)) / steps : lo + r() * (hi - lo));
  const n = int(r() < 0.1 ? 4 : 60);
  const nodes = 1 + int(12);
  const racks = 1 + int(5);
  const candidates: CandidateView[] = [];
  const ids = new Set<string>();
  for (let i = 0; i < n; i++) {
    let id = `ep-${int(1000)}`;
    while (ids.has(id)) id = `ep-${int(1000)}`;
    ids.add(id);
    const labels: Record<string, string> = {};
    const lr = r();
    if (lr < 0.8) labels.rack = `rack-${int(racks)}`;
    else if (lr < 0.9) labels.rack = '';
    candidates.push(view(id, `node-${int(nodes)}`, {
      labels,
      weight: r() < 0.1 ? 0 : coarse ? [0.5, 1][int(2)]! : r(),
      state: pickOf(STATES),
      consecutiveFailures: int(4),
      holdDownUntilMs: r() < 0.1 ? NOW_MS + 1000 : r() < 0.1 ? NOW_MS : 0,
      metrics: {
        avgLatencyUs: num(0, 12_000, 4),
        bandwidthMBps: num(0, 2_000, 4),
        errorRate: r() < 0.7 ? 0 : num(0, 0.2, 2),
        load: num(-0.1, 1.1, 4),
      },
    }));
  }
  const cfg = selCfg({
    algorithm: pickOf(POLICIES),
    weights: { latency: r(), bandwidth: r(), reliability: r(), load: r() },
    failureDomain: r() < 0.5 ? 'node' : 'rack',
    allowSharedFailureDomain: r() < 0.5,
  });
  const current: string[] = [];
  const nCur = int(5);
  for (let j = 0; j < nCur; j++) {
    const id = r() < 0.85 && n > 0 ? candidates[int(n)]!.endpointId : `gone-${int(3)}`;
    if (!current.includes(id)) current.push(id);
  }
  const opts: SelectOptions = { target: int(6) };
  if (r() < 0.8) opts.current = current;
  if (r() < 0.7) opts.cursor = int(40) - 10;
  if (r() < 0.5) opts.hysteresis = pickOf([0, 0.05, 0.1, 0.5, 2]);
  return { s: snap(candidates), cfg, opts };
}

describe('selectActive matches the sort-based reference', () => {
  it('on 5,000 random snapshots over all five policies', () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 5000; seed++) {
      const { s, cfg, opts } = randomCase(seed);
      seen.add(`${cfg.algorithm}/${cfg.allowSharedFailureDomain}`);
      const got = selectActive(s, cfg, opts);
      const want = refSelect(s, cfg, opts);
      if (JSON.stringify(got) !== JSON.stringify(want)) expect({ seed, got }).toEqual({ seed, got: want });
    }
    expect(seen.size).toBe(10);
  });

  it('on large snapshots (rotated buffers, many domains)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = rng(seed);
      const { cfg, opts } = randomCase(seed + 10_000);
      const candidates = Array.from({ length: 2000 + Math.floor(r() * 2000) }, (_, i) =>
        view(`ep-${i}`, `node-${Math.floor(r() * 700)}`, {
          labels: { rack: `rack-${Math.floor(r() * 30)}` },
          weight: r(), state: STATES[Math.floor(r() * STATES.length)]!,
          metrics: { avgLatencyUs: r() * 8000, bandwidthMBps: r() * 3000, load: r() },
        }));
      const s = snap(candidates);
      const o = { ...opts, current: [`ep-${Math.floor(r() * 100)}`, `ep-${Math.floor(r() * 100)}`] };
      expect(selectActive(s, cfg, o)).toEqual(refSelect(s, cfg, o));
    }
  });
});
