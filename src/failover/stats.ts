/** Failover statistics (seed 2.2 stats and 8.1 failover metrics). */
import type { FailoverRecord, ManagerStats } from '../manager-api.js';

export const HOUR_MS = 3_600_000;
/** Durations kept for the average and p99 (the most recent ones). */
export const DURATION_WINDOW = 1024;

/** The failover part of ManagerStats. */
export type FailoverStatsSnapshot = Pick<ManagerStats,
  'failoverCount' | 'failedFailovers' | 'backendSwitches' | 'avgFailoverTimeMs' | 'p99FailoverTimeMs' | 'failoversLastHour'>;

export class FailoverStats {
  failoverCount = 0;
  failedFailovers = 0;
  backendSwitches = 0;
  readonly #durationsMs: number[] = [];
  readonly #startedAtMs: number[] = [];

  /** One processed failover task (successful or not). */
  record(r: FailoverRecord): void {
    this.failoverCount++;
    this.#startedAtMs.push(r.startedAtMs);
    if (!r.ok) {
      this.failedFailovers++;
      return;
    }
    this.backendSwitches++;
    this.#durationsMs.push(r.durationMs);
    if (this.#durationsMs.length > DURATION_WINDOW) this.#durationsMs.shift();
  }

  /** An active-set change outside a failover (reselection, reload). */
  recordSwitch(): void {
    this.backendSwitches++;
  }

  snapshot(nowMs: number): FailoverStatsSnapshot {
    while (this.#startedAtMs.length > 0 && this.#startedAtMs[0]! < nowMs - HOUR_MS) this.#startedAtMs.shift();
    const d = this.#durationsMs;
    const sorted = [...d].sort((a, b) => a - b);
    const p99 = sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)]!;
    return {
      failoverCount: this.failoverCount,
      failedFailovers: this.failedFailovers,
      backendSwitches: this.backendSwitches,
      avgFailoverTimeMs: d.length === 0 ? 0 : d.reduce((a, b) => a + b, 0) / d.length,
      p99FailoverTimeMs: p99,
      failoversLastHour: this.#startedAtMs.length,
    };
  }
}
