/**
 * Picking the active set and replacements: pure functions over a SelectionSnapshot.
 *
 * Rules:
 *  - only eligible candidates (HEALTHY or DEGRADED, not held down, weight > 0);
 *  - actives sit in distinct failure domains; with allowSharedFailureDomain a second pass may fill
 *    the remaining places from already-used domains (with a warning);
 *  - with fewer domains than the target, fewer actives are returned with a warning;
 *  - stability: current actives get a hysteresis bonus (their policy value x (1 + 10 %)) so that
 *    near-equal scores do not churn the active set; round_robin keeps eligible current actives and
 *    fills places in rotation from the cursor.
 */
import type { SelectionConfig } from '../config/types.js';
import { domainOf } from './domain.js';
import { isEligible } from './eligibility.js';
import { policyValue, rankCandidates, type RankedCandidate } from './policies.js';
import { scoreTotal } from './scoring.js';
import type { CandidateView, SelectionSnapshot } from './types.js';

/** Relative bonus of a current active over a challenger (10 %). */
export const DEFAULT_HYSTERESIS = 0.1;

export interface SelectOptions {
  target: number;
  current?: readonly string[];
  /** round_robin rotation cursor (advance it with the returned nextCursor). */
  cursor?: number;
  hysteresis?: number;
}

export interface SelectResult {
  selected: string[];
  /** target - selected.length, at least 0. */
  shortfall: number;
  warnings: string[];
  nextCursor: number;
}

function pick(
  ranked: RankedCandidate[],
  cfg: SelectionConfig,
  want: number,
  taken: string[],
  usedDomains: Set<string>,
  warnings: string[],
): void {
  for (const r of ranked) {
    if (taken.length >= want) break;
    const d = domainOf(r.view, cfg.failureDomain);
    if (usedDomains.has(d) || taken.includes(r.view.endpointId)) continue;
    taken.push(r.view.endpointId);
    usedDomains.add(d);
  }
  if (taken.length < want && cfg.allowSharedFailureDomain) {
    for (const r of ranked) {
      if (taken.length >= want) break;
      if (taken.includes(r.view.endpointId)) continue;
      taken.push(r.view.endpointId);
      warnings.push(`${r.view.endpointId} shares failure domain ${domainOf(r.view, cfg.failureDomain)} with another active`);
    }
  }
}

/** Scratch buffers reused across calls (selection is synchronous, so never shared mid-call). */
let bufValue = new Float64Array(0);
let bufScore = new Float64Array(0);
let bufIndex = new Int32Array(0);
const domainSlot = new Map<string, number>();

function ensureCapacity(n: number): void {
  if (bufValue.length >= n) return;
  const cap = Math.max(n, bufValue.length * 2, 16);
  bufValue = new Float64Array(cap);
  bufScore = new Float64Array(cap);
  bufIndex = new Int32Array(cap);
}

/** compareRanked(a, b) < 0, with the same expression: a ranks strictly before b. */
function before(va: number, sa: number, ida: string, vb: number, sb: number, idb: string): boolean {
  return (vb - va || sb - sa || (ida < idb ? -1 : ida > idb ? 1 : 0)) < 0;
}

/**
 * Inserts (value, score, candidate index) into a best-first list of at most k entries held in
 * parallel arrays; returns the new length.
 */
function insertTop(
  k: number, len: number, vals: number[], scores: number[], idx: number[], cands: readonly CandidateView[],
  v: number, s: number, i: number,
): number {
  const id = cands[i]!.endpointId;
  let pos = len;
  while (pos > 0 && before(v, s, id, vals[pos - 1]!, scores[pos - 1]!, cands[idx[pos - 1]!]!.endpointId)) pos--;
  if (pos >= k) return len;
  const newLen = len < k ? len + 1 : k;
  for (let j = newLen - 1; j > pos; j--) { vals[j] = vals[j - 1]!; scores[j] = scores[j - 1]!; idx[j] = idx[j - 1]!; }
  vals[pos] = v; scores[pos] = s; idx[pos] = i;
  return newLen;
}

/**
 * The scored policies without a full sort, with the same result as rankCandidates + pick: one pass
 * keeps the best candidate of each failure domain (the first pass of pick takes exactly the best
 * `want` domain bests in rank order) and, with allowSharedFailureDomain, the overall best `want`
 * candidates (the second pass takes from those, skipping the ones already taken).
 */
function pickScored(
  snapshot: SelectionSnapshot,
  cfg: SelectionConfig,
  want: number,
  preferred: ReadonlySet<string>,
  h: number,
  taken: string[],
  warnings: string[],
): { eligible: number; domains: number } {
  const cands = snapshot.candidates;
  const nowMs = snapshot.nowMs;
  const fd = cfg.failureDomain;
  const weights = cfg.weights;
  const policy = cfg.algorithm;
  const bonus = 1 + h;
  const shared = cfg.allowSharedFailureDomain;
  ensureCapacity(cands.length);
  const values = bufValue, scores = bufScore, index = bufIndex;
  const slots = domainSlot;
  slots.clear();
  let nSlots = 0;
  let eligible = 0;
  const k = Math.max(0, want);
  const topV: number[] = [], topS: number[] = [], topI: number[] = [];
  let topLen = 0;

  for (let i = 0; i < cands.length; i++) {
    const c = cands[i]!;
    if (!isEligible(c, nowMs)) continue;
    eligible++;
    const score = scoreTotal(c, weights);
    let value = policyValue(policy, c, score);
    if (preferred.size !== 0 && preferred.has(c.endpointId)) value *= bonus;
    const d = domainOf(c, fd);
    const slot = slots.get(d);
    if (slot === undefined) {
      slots.set(d, nSlots);
      values[nSlots] = value; scores[nSlots] = score; index[nSlots] = i;
      nSlots++;
    } else if (before(value, score, c.endpointId, values[slot]!, scores[slot]!, cands[index[slot]!]!.endpointId)) {
      values[slot] = value; scores[slot] = score; index[slot] = i;
    }
    if (shared && k > 0) topLen = insertTop(k, topLen, topV, topS, topI, cands, value, score, i);
  }

  // First pass: the best `want` domain bests, best first.
  const bestV: number[] = [], bestS: number[] = [], bestI: number[] = [];
  let bestLen = 0;
  if (k > 0) for (let j = 0; j < nSlots; j++) bestLen = insertTop(k, bestLen, bestV, bestS, bestI, cands, values[j]!, scores[j]!, index[j]!);
  for (let j = 0; j < bestLen && taken.length < want; j++) {
    const id = cands[bestI[j]!]!.endpointId;
    if (taken.includes(id)) continue;
    taken.push(id);
  }
  if (taken.length < want && shared) {
    for (let j = 0; j < topLen && taken.length < want; j++) {
      const c = cands[topI[j]!]!;
      if (taken.includes(c.endpointId)) continue;
      taken.push(c.endpointId);
      warnings.push(`${c.endpointId} shares failure domain ${domainOf(c, fd)} with another active`);
    }
  }
  return { eligible, domains: nSlots };
}

export function selectActive(snapshot: SelectionSnapshot, cfg: SelectionConfig, opts: SelectOptions): SelectResult {
  const current = new Set(opts.current ?? []);
  const hysteresis = opts.hysteresis ?? DEFAULT_HYSTERESIS;
  const warnings: string[] = [];
  const selected: string[] = [];
  let eligibleCount: number;
  let domainCount: () => number;
  if (cfg.algorithm === 'round_robin') {
    const eligible = snapshot.candidates.filter((c) => isEligible(c, snapshot.nowMs));
    const ranked = rankCandidates(eligible, cfg, { cursor: opts.cursor, preferred: current, hysteresis });
    pick(ranked, cfg, opts.target, selected, new Set(), warnings);
    eligibleCount = eligible.length;
    domainCount = () => new Set(eligible.map((c) => domainOf(c, cfg.failureDomain))).size;
  } else {
    const r = pickScored(snapshot, cfg, opts.target, current, hysteresis, selected, warnings);
    eligibleCount = r.eligible;
    domainCount = () => r.domains;
  }

  // Keep current actives in their old order first, new ones after: callers see a stable list.
  const ordered = [...(opts.current ?? []).filter((id) => selected.includes(id)), ...selected.filter((id) => !current.has(id))];
  const shortfall = Math.max(0, opts.target - ordered.length);
  if (shortfall > 0) {
    warnings.push(
      `only ${ordered.length} of ${opts.target} actives: ${eligibleCount} eligible candidates in ${domainCount()} failure domains (${cfg.failureDomain})`,
    );
  }
  const added = ordered.filter((id) => !current.has(id)).length;
  return { selected: ordered, shortfall, warnings, nextCursor: (opts.cursor ?? 0) + (cfg.algorithm === 'round_robin' ? added : 0) };
}

/**
 * Eligible replacements for failedId, best first: not active, not failedId, and in a failure domain
 * none of the remaining actives uses (shared domains follow only when allowSharedFailureDomain).
 */
export function rankReplacements(
  snapshot: SelectionSnapshot,
  failedId: string,
  currentActives: readonly string[],
  cfg: SelectionConfig,
  cursor = 0,
): string[] {
  const remaining = currentActives.filter((id) => id !== failedId);
  const byId = new Map(snapshot.candidates.map((c) => [c.endpointId, c]));
  const used = new Set(
    remaining.map((id) => byId.get(id)).filter((c) => c !== undefined).map((c) => domainOf(c, cfg.failureDomain)),
  );
  const pool = snapshot.candidates.filter(
    (c) => c.endpointId !== failedId && !remaining.includes(c.endpointId) && isEligible(c, snapshot.nowMs),
  );
  const ranked = rankCandidates(pool, cfg, { cursor });
  const free = ranked.filter((r) => !used.has(domainOf(r.view, cfg.failureDomain))).map((r) => r.view.endpointId);
  if (!cfg.allowSharedFailureDomain) return free;
  return free.concat(ranked.map((r) => r.view.endpointId).filter((id) => !free.includes(id)));
}

/** Best eligible replacement in a domain the remaining actives do not use, or null. */
export function selectReplacement(
  snapshot: SelectionSnapshot,
  failedId: string,
  currentActives: readonly string[],
  cfg: SelectionConfig,
): string | null {
  return rankReplacements(snapshot, failedId, currentActives, cfg)[0] ?? null;
}
