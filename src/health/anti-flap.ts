/**
 * Anti-flap (multipath-tools san_path_err_* / Ceph flap fencing / Envoy ejection x times), pure with
 * time passed in.
 *  - decayedErrors: every probe error adds 1; the count halves every errorDecayHalfLifeMs.
 *  - flaps: a backend that goes FAILED again within flapWindowMs of leaving FAILED has flapped. Each
 *    flap doubles the hold-down, from holdDownBaseMs, capped at holdDownMaxMs; while held down the
 *    backend is not eligible for selection even when its probes pass. A FAILED that comes later than
 *    the window after the last recovery resets the flap count.
 *  - a fail-slow flag that comes back within flapWindowMs of clearing is a flap too (a backend going
 *    slow, fine, slow again moves preference each time just as a FAILED one does), with the same
 *    doubling hold-down.
 */
import type { FailoverConfig } from '../config/types.js';

/** Default flap window when the config has none: Ceph's 600 s. */
export const DEFAULT_FLAP_WINDOW_MS = 600_000;

export interface FlapRecord {
  decayedErrors: number;
  /** When decayedErrors was last brought up to date. */
  decayedAtMs: number;
  flapCount: number;
  holdDownUntilMs: number;
  /** When the backend last left FAILED, 0 never. */
  lastRecoveredMs: number;
  /** When its fail-slow flag last cleared, 0 never. */
  lastSlowClearedMs: number;
}

export type FlapConfig = Pick<FailoverConfig, 'errorDecayHalfLifeMs' | 'holdDownBaseMs' | 'holdDownMaxMs'> & {
  flapWindowMs?: number;
};

export function initialFlap(): FlapRecord {
  return { decayedErrors: 0, decayedAtMs: 0, flapCount: 0, holdDownUntilMs: 0, lastRecoveredMs: 0, lastSlowClearedMs: 0 };
}

export function decayedErrorsAt(rec: FlapRecord, nowMs: number, halfLifeMs: number): number {
  if (rec.decayedErrors === 0 || halfLifeMs <= 0) return rec.decayedErrors;
  const dt = Math.max(0, nowMs - rec.decayedAtMs);
  return rec.decayedErrors * Math.pow(0.5, dt / halfLifeMs);
}

export function recordError(rec: FlapRecord, nowMs: number, cfg: FlapConfig): FlapRecord {
  return { ...rec, decayedErrors: decayedErrorsAt(rec, nowMs, cfg.errorDecayHalfLifeMs) + 1, decayedAtMs: nowMs };
}

/** Hold-down length for the n-th flap (n >= 1): base x 2^(n-1), capped. */
export function holdDownMs(flapCount: number, cfg: FlapConfig): number {
  if (flapCount <= 0) return 0;
  return Math.min(cfg.holdDownMaxMs, cfg.holdDownBaseMs * Math.pow(2, flapCount - 1));
}

/** The backend entered FAILED. */
export function onFailed(rec: FlapRecord, nowMs: number, cfg: FlapConfig): FlapRecord {
  const window = cfg.flapWindowMs ?? DEFAULT_FLAP_WINDOW_MS;
  if (rec.lastRecoveredMs > 0 && nowMs - rec.lastRecoveredMs <= window) {
    const flapCount = rec.flapCount + 1;
    return { ...rec, flapCount, holdDownUntilMs: Math.max(rec.holdDownUntilMs, nowMs + holdDownMs(flapCount, cfg)) };
  }
  return { ...rec, flapCount: rec.lastRecoveredMs > 0 ? 0 : rec.flapCount };
}

/** The backend was flagged fail-slow: a flap when its last flag cleared within the window. */
export function onFailSlowFlagged(rec: FlapRecord, nowMs: number, cfg: FlapConfig): FlapRecord {
  const window = cfg.flapWindowMs ?? DEFAULT_FLAP_WINDOW_MS;
  if (rec.lastSlowClearedMs > 0 && nowMs - rec.lastSlowClearedMs <= window) {
    const flapCount = rec.flapCount + 1;
    return { ...rec, flapCount, holdDownUntilMs: Math.max(rec.holdDownUntilMs, nowMs + holdDownMs(flapCount, cfg)) };
  }
  return rec;
}

/** The backend's fail-slow flag cleared. */
export function onFailSlowCleared(rec: FlapRecord, nowMs: number): FlapRecord {
  return { ...rec, lastSlowClearedMs: nowMs };
}

/** The backend left FAILED. */
export function onRecovered(rec: FlapRecord, nowMs: number): FlapRecord {
  return { ...rec, lastRecoveredMs: nowMs };
}

export function isHeldDown(rec: FlapRecord, nowMs: number): boolean {
  return rec.holdDownUntilMs > nowMs;
}
