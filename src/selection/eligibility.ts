/** Which candidates may be selected as actives: HEALTHY or DEGRADED, not held down, weight > 0. */
import type { CandidateView } from './types.js';

export function isEligible(c: CandidateView, nowMs: number): boolean {
  return (c.state === 'HEALTHY' || c.state === 'DEGRADED') && c.holdDownUntilMs <= nowMs && c.weight > 0;
}
