/**
 * The health state machine (seed 3.1 update_endpoint_health_state), pure.
 *
 * On a failed probe: consecutiveFailures++;
 *   >= failureThreshold            -> FAILED (entering FAILED fires failover when the backend is active);
 *   >  degradedThreshold           -> UNHEALTHY (failing again, still below the failure threshold);
 *   == degradedThreshold, HEALTHY  -> DEGRADED (seed: first sign of trouble);
 *   UNKNOWN                        -> UNHEALTHY (failing before it ever passed);
 *   otherwise the state stays (HEALTHY below degradedThreshold, DEGRADED at it).
 * With degradedThreshold 1 and failureThreshold 3: HEALTHY -> DEGRADED -> UNHEALTHY -> FAILED.
 * On a passed probe: consecutiveFailures = 0, consecutiveSuccesses++;
 *   FAILED / UNHEALTHY -> DEGRADED (seed: "recovering");
 *   DEGRADED -> HEALTHY, except after a FAILED: then recoveryThreshold consecutive successes are needed
 *     (seed 6.1: "5 consecutive successes to count as recovered");
 *   UNKNOWN -> HEALTHY (first probe passed).
 * While held down by anti-flap a backend whose probes pass is UNHEALTHY (not selectable).
 * A fail-slow backend (much slower than its peers) is DEGRADED instead of HEALTHY.
 * A worker crash gives no opinion: UNKNOWN, counters unchanged.
 * A data-path error makes the backend FAILED at once.
 */
import type { FailoverConfig } from '../config/types.js';
import type { HealthState } from '../types.js';

export interface HealthRecord {
  state: HealthState;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  /** True from entering FAILED until recoveryThreshold successes bring it back to HEALTHY. */
  recoveringFromFailure: boolean;
  /** Last fail-slow verdict. */
  failSlow: boolean;
  lastCheckMs: number;
}

export type Thresholds = Pick<FailoverConfig, 'failureThreshold' | 'degradedThreshold' | 'recoveryThreshold'>;

export interface Transition {
  record: HealthRecord;
  from: HealthState;
  to: HealthState;
  changed: boolean;
  /** The backend entered FAILED with this update. */
  becameFailed: boolean;
  /** The backend left FAILED with this update. */
  leftFailed: boolean;
}

export function initialHealth(): HealthRecord {
  return { state: 'UNKNOWN', consecutiveFailures: 0, consecutiveSuccesses: 0, recoveringFromFailure: false, failSlow: false, lastCheckMs: 0 };
}

function finish(prev: HealthRecord, record: HealthRecord): Transition {
  return {
    record,
    from: prev.state,
    to: record.state,
    changed: prev.state !== record.state,
    becameFailed: prev.state !== 'FAILED' && record.state === 'FAILED',
    leftFailed: prev.state === 'FAILED' && record.state !== 'FAILED',
  };
}

export interface ProbeOutcome {
  ok: boolean;
  nowMs: number;
  /** Anti-flap hold-down in force. */
  heldDown?: boolean;
  /** Fail-slow verdict for this round (undefined: keep the last one). */
  failSlow?: boolean;
}

export function applyProbe(prev: HealthRecord, outcome: ProbeOutcome, t: Thresholds): Transition {
  const r: HealthRecord = { ...prev, lastCheckMs: outcome.nowMs };
  if (outcome.failSlow !== undefined) r.failSlow = outcome.failSlow;
  if (!outcome.ok) {
    r.consecutiveFailures += 1;
    r.consecutiveSuccesses = 0;
    if (r.consecutiveFailures >= t.failureThreshold) {
      r.state = 'FAILED';
      r.recoveringFromFailure = true;
    } else if (r.state === 'FAILED') {
      // FAILED stays FAILED until a probe passes (cf can sit below a failureThreshold raised by a reload)
    } else if (r.state === 'UNKNOWN' || r.consecutiveFailures > t.degradedThreshold) {
      r.state = 'UNHEALTHY';
    } else if (r.consecutiveFailures >= t.degradedThreshold && r.state === 'HEALTHY') {
      r.state = 'DEGRADED';
    }
    return finish(prev, r);
  }

  r.consecutiveFailures = 0;
  r.consecutiveSuccesses += 1;
  let next: HealthState = r.state;
  if (r.state === 'FAILED' || r.state === 'UNHEALTHY') {
    next = 'DEGRADED';
  } else if (r.state === 'DEGRADED' || r.state === 'UNKNOWN' || r.state === 'HEALTHY') {
    const recovered = !r.recoveringFromFailure || r.consecutiveSuccesses >= t.recoveryThreshold;
    next = recovered ? 'HEALTHY' : 'DEGRADED';
  }
  if (next === 'HEALTHY') r.recoveringFromFailure = false;
  if (next === 'HEALTHY' && r.failSlow) next = 'DEGRADED';
  if (outcome.heldDown && (next === 'HEALTHY' || next === 'DEGRADED')) next = 'UNHEALTHY';
  r.state = next;
  return finish(prev, r);
}

/** Fail-slow verdict between probes: HEALTHY -> DEGRADED when slow, DEGRADED -> HEALTHY when no longer. */
export function applyFailSlow(prev: HealthRecord, slow: boolean): Transition {
  const r: HealthRecord = { ...prev, failSlow: slow };
  if (slow && r.state === 'HEALTHY') r.state = 'DEGRADED';
  else if (!slow && prev.failSlow && r.state === 'DEGRADED' && !r.recoveringFromFailure && r.consecutiveFailures === 0) {
    r.state = 'HEALTHY';
  }
  return finish(prev, r);
}

/** Hard data-path error (I/O error or timeout seen by the WAL): FAILED at once. */
export function applyDataPathError(prev: HealthRecord, nowMs: number, t: Thresholds): Transition {
  const r: HealthRecord = {
    ...prev,
    state: 'FAILED',
    consecutiveFailures: Math.max(prev.consecutiveFailures, t.failureThreshold),
    consecutiveSuccesses: 0,
    recoveringFromFailure: true,
    lastCheckMs: nowMs,
  };
  return finish(prev, r);
}

/** The probe worker crashed: no opinion about the backend. */
export function applyWorkerCrash(prev: HealthRecord, nowMs: number): Transition {
  return finish(prev, { ...prev, state: 'UNKNOWN', lastCheckMs: nowMs });
}
