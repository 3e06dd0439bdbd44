/**
 * The daemon's built-in alert xdbm_self_overloaded: raised while the health monitor finds this process
 * overloaded (src/health/self-overload.ts), so that an operator sees "the daemon is starved" instead of
 * backends flapping. Built in rather than a configured rule: it must work with an empty alert_rules.
 */
import type { AlertTransition } from '../alerts/evaluator.js';

export const SELF_OVERLOADED_ALERT = 'xdbm_self_overloaded';

/** The transition to log when the overload verdict changed, else undefined. */
export function selfOverloadTransition(wasOverloaded: boolean, isOverloaded: boolean, nowMs: number): AlertTransition | undefined {
  if (wasOverloaded === isOverloaded) return undefined;
  return {
    ruleName: SELF_OVERLOADED_ALERT, severity: 'warning', condition: 'self_overloaded > 0',
    kind: isOverloaded ? 'firing' : 'resolved', atMs: nowMs, values: { self_overloaded: isOverloaded ? 1 : 0 },
  };
}
