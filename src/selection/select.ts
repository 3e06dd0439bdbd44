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
import { rankCandidates, type RankedCandidate } from './policies.js';
import type { SelectionSnapshot } from './types.js';

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

export function selectActive(snapshot: SelectionSnapshot, cfg: SelectionConfig, opts: SelectOptions): SelectResult {
  const eligible = snapshot.candidates.filter((c) => isEligible(c, snapshot.nowMs));
  const current = new Set(opts.current ?? []);
  const ranked = rankCandidates(eligible, cfg, {
    cursor: opts.cursor,
    preferred: current,
    hysteresis: opts.hysteresis ?? DEFAULT_HYSTERESIS,
  });
  const warnings: string[] = [];
  const selected: string[] = [];
  pick(ranked, cfg, opts.target, selected, new Set(), warnings);

  // Keep current actives in their old order first, new ones after: callers see a stable list.
  const ordered = [...(opts.current ?? []).filter((id) => selected.includes(id)), ...selected.filter((id) => !current.has(id))];
  const shortfall = Math.max(0, opts.target - ordered.length);
  if (shortfall > 0) {
    const domains = new Set(eligible.map((c) => domainOf(c, cfg.failureDomain)));
    warnings.push(
      `only ${ordered.length} of ${opts.target} actives: ${eligible.length} eligible candidates in ${domains.size} failure domains (${cfg.failureDomain})`,
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
