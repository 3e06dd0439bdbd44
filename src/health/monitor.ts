/**
 * Health monitor (seed 3.1 health_monitor_thread): every healthCheckIntervalMs it probes every
 * candidate through an injected ProbeRunner and feeds the results into the state machine, the
 * anti-flap record, the metrics store and fail-slow detection.
 *
 * Rules:
 *  - at most one probe per backend in flight: a backend whose last probe has not finished is skipped
 *    this round (a hung probe ends as XDBM_PROBE_TIMEOUT after monitoring.probeTimeoutMs);
 *  - probe kind of round n (n = 0, 1, ...): the most thorough kind listed in
 *    monitoring.healthCheckTypes that is due, where basic is due every round, performance every 10th,
 *    full every 30th and stress every 60th round (round 0 runs them all due, so the first scores have
 *    bandwidth figures). With only ['basic'] listed every round is basic;
 *  - a backend that is not open (init failed at start, or closed after a failover) is initialised
 *    before its probe; an init failure counts as a failed probe; a FAILED backend that is not active
 *    is closed and reopened before its probe (at most once per max(interval, 1 s)), so a repaired
 *    fault is noticed;
 *  - after a round's probes have all finished, fail-slow (src/health/fail-slow.ts, peer comparison)
 *    turns HEALTHY backends much slower than their peers DEGRADED and back;
 *  - counts: totalChecks, failedChecks, lastFullScanMs (round start to its last probe's end).
 */
import type { StorageBackend } from '../backends/backend.js';
import { withIoTimeout } from '../backends/io-timeout.js';
import type { ManagerConfig } from '../config/types.js';
import { ErrorCode, fromSystemError, isProcessResourceFault } from '../errors.js';
import type { MetricsStore } from '../metrics/types.js';
import type { ProbeResult, ProbeRunner } from '../probes/types.js';
import { EMPTY_METRICS, PROBE_KINDS, type BackendType, type EndpointMetrics, type ProbeKind } from '../types.js';
import { FailSlowTracker } from './fail-slow.js';
import { decayedErrorsAt, initialFlap, isHeldDown, onFailed, onRecovered, recordError, type FlapRecord } from './anti-flap.js';
import {
  applyDataPathError, applyFailSlow, applyProbe, applyWorkerCrash, initialHealth, type HealthRecord, type Transition,
} from './state-machine.js';

/** Every how many rounds a kind is due (basic: every round). */
export const KIND_EVERY_ROUNDS: Readonly<Record<ProbeKind, number>> = { basic: 1, performance: 10, full: 30, stress: 60 };
const KIND_RANK: Readonly<Record<ProbeKind, number>> = { basic: 0, performance: 1, full: 2, stress: 3 };
/** A FAILED backend is closed and reopened at most this often (reconnecting NVMe is not free). */
export const REOPEN_MIN_INTERVAL_MS = 1000;
/** EWMA weight of one probe's error rate in the endpoint's errorRate. */
export const ERROR_RATE_EWMA_ALPHA = 0.2;

export function probeKindForRound(round: number, kinds: readonly ProbeKind[]): ProbeKind {
  const listed = kinds.length > 0 ? kinds : (['basic'] as ProbeKind[]);
  let best: ProbeKind | undefined;
  for (const k of listed) {
    if (round % KIND_EVERY_ROUNDS[k] !== 0) continue;
    if (best === undefined || KIND_RANK[k] > KIND_RANK[best]) best = k;
  }
  return best ?? listed[0]!;
}

export interface EndpointHealth {
  endpointId: string;
  health: HealthRecord;
  flap: FlapRecord;
  metrics: EndpointMetrics;
  lastError?: { code: string; message: string; atMs: number };
  healthInfo?: Record<string, unknown>;
}

export interface MonitoredEndpoint {
  endpointId: string;
  type: BackendType;
}

export interface MonitorHost {
  config(): ManagerConfig;
  endpoints(): MonitoredEndpoint[];
  backend(endpointId: string): StorageBackend | undefined;
  /** A state change (the manager emits state-changed and queues failover of an active that FAILED). */
  onTransition(endpointId: string, t: Transition, reason: string): void;
  /** A round's probes all finished. */
  onRoundComplete?(round: number): void;
  /** A probe failed on the daemon's own resources (EMFILE, ENFILE, ENOMEM); no backend state changed. */
  onProcessFault?(endpointId: string, code: string, message: string): void;
  /** The backend is in the active set (its handles are in use by the data path). */
  isActive?(endpointId: string): boolean;
}

export interface MonitorOptions {
  store?: MetricsStore;
  /** Also publish probe results into the store (false when the runner's workers already do). */
  publishToStore?: boolean;
  now?: () => number;
}

export class HealthMonitor {
  totalChecks = 0;
  failedChecks = 0;
  /** Probes that failed on the daemon's own resource exhaustion (EMFILE, ENFILE, ENOMEM): not counted against backends. */
  processFaults = 0;
  lastFullScanMs = 0;
  round = 0;
  readonly #host: MonitorHost;
  readonly #runner: ProbeRunner;
  readonly #opts: MonitorOptions;
  readonly #now: () => number;
  readonly #records = new Map<string, EndpointHealth>();
  readonly #inFlight = new Set<string>();
  readonly #failSlow = new FailSlowTracker();
  readonly #reopenedAtMs = new Map<string, number>();
  #timer?: NodeJS.Timeout;
  #running = false;

  constructor(host: MonitorHost, runner: ProbeRunner, opts: MonitorOptions = {}) {
    this.#host = host;
    this.#runner = runner;
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  record(endpointId: string): EndpointHealth {
    let r = this.#records.get(endpointId);
    if (!r) {
      r = { endpointId, health: initialHealth(), flap: initialFlap(), metrics: { ...EMPTY_METRICS } };
      this.#records.set(endpointId, r);
      try { this.#opts.store?.register(endpointId); } catch { /* a full store only loses metrics export */ }
    }
    return r;
  }

  forget(endpointId: string): void {
    this.#records.delete(endpointId);
    this.#failSlow.forget(endpointId);
    this.#reopenedAtMs.delete(endpointId);
    this.#opts.store?.release(endpointId);
  }

  /** Decayed error count now. */
  decayedErrors(endpointId: string): number {
    const r = this.record(endpointId);
    return decayedErrorsAt(r.flap, this.#now(), this.#host.config().failover.errorDecayHalfLifeMs);
  }

  isHeldDown(endpointId: string): boolean {
    return isHeldDown(this.record(endpointId).flap, this.#now());
  }

  isFailSlow(endpointId: string): boolean {
    return this.#failSlow.isFailSlow(endpointId);
  }

  /** Metrics for scoring: the probe figures, with load from the store when it has one. */
  metricsOf(endpointId: string): EndpointMetrics {
    const r = this.record(endpointId);
    const store = this.#opts.store;
    if (store?.slotOf(endpointId) !== undefined) {
      try {
        return { ...r.metrics, load: store.snapshot(endpointId).load };
      } catch { /* fall through to our own copy */ }
    }
    return r.metrics;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule();
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Ends when every probe launched has finished. */
  async runRound(): Promise<void> {
    const round = this.round++;
    const cfg = this.#host.config();
    const kind = probeKindForRound(round, cfg.monitoring.healthCheckTypes);
    const started = this.#now();
    const launched = this.#host.endpoints()
      .filter((e) => !this.#inFlight.has(e.endpointId))
      .map((e) => this.probeOne(e.endpointId, kind));
    await Promise.allSettled(launched);
    this.lastFullScanMs = this.#now() - started;
    this.#applyFailSlow();
    this.#host.onRoundComplete?.(round);
  }

  #schedule(): void {
    if (!this.#running) return;
    this.#timer = setTimeout(() => {
      if (!this.#running) return;
      // The next round starts on time even while slow probes of this one are still running.
      this.runRound().catch(() => undefined); // a throwing event listener must not kill the loop
      this.#schedule();
    }, this.#host.config().healthCheckIntervalMs);
    this.#timer.unref?.();
  }

  /** Probes one backend now (skipped when one is in flight). */
  async probeOne(endpointId: string, kind: ProbeKind): Promise<void> {
    if (this.#inFlight.has(endpointId)) return;
    const backend = this.#host.backend(endpointId);
    if (!backend) return;
    this.#inFlight.add(endpointId);
    const cfg = this.#host.config();
    try {
      // A FAILED backend out of the active set is reopened now and then, so that a fixed fault (a directory
      // restored, a remount, a reconnected target) is seen: its init recreates the probe area.
      if (backend.isOpen && this.#records.get(endpointId)?.health.state === 'FAILED' && !this.#host.isActive?.(endpointId) &&
          this.#now() - (this.#reopenedAtMs.get(endpointId) ?? 0) >= Math.max(cfg.healthCheckIntervalMs, REOPEN_MIN_INTERVAL_MS)) {
        this.#reopenedAtMs.set(endpointId, this.#now());
        await backend.close().catch(() => undefined);
      }
      if (!backend.isOpen) {
        try {
          // Bounded like a probe; a slow init keeps running and the next round finds it open.
          await withIoTimeout(backend.init(), cfg.monitoring.probeTimeoutMs, `${endpointId}: init`);
        } catch (e) {
          const err = fromSystemError(e, `${endpointId}: init`);
          this.applyResult(this.#failure(endpointId, kind, err.code, err.message, err.errno));
          return;
        }
      }
      let result: ProbeResult;
      try {
        // A full probe also judges the backend's own health facts (NVMe controller state, ANA, SMART).
        const health = kind === 'full' ? await withIoTimeout(backend.healthInfo(), cfg.monitoring.probeTimeoutMs, `${endpointId}: health`) : undefined;
        result = await this.#runner.run(backend.probeTarget(), kind, { timeoutMs: cfg.monitoring.probeTimeoutMs, health });
      } catch (e) {
        const err = fromSystemError(e, `${endpointId}: ${kind} probe`);
        if (err.code === ErrorCode.PROBE_BUSY || err.code === ErrorCode.CLOSED) return;
        result = this.#failure(endpointId, kind, err.code, err.message, err.errno);
      }
      this.applyResult(result);
    } finally {
      this.#inFlight.delete(endpointId);
    }
  }

  #failure(endpointId: string, kind: ProbeKind, code: string, message: string, errno?: number): ProbeResult {
    return {
      endpointId, kind, ok: false, ops: 0, errors: 1, errorRate: 1, avgLatencyUs: 0, p50LatencyUs: 0, p99LatencyUs: 0,
      bandwidthMBps: 0, iops: 0, durationMs: 0, error: { code, message, errno }, finishedAtMs: this.#now(),
    };
  }

  /** Feeds one probe result into metrics, state machine and anti-flap. */
  applyResult(res: ProbeResult): void {
    const r = this.#records.get(res.endpointId);
    if (!r) return; // removed while its probe ran
    const cfg = this.#host.config();
    const now = this.#now();
    if (!res.ok && isProcessResourceFault(res.error?.code, res.error?.errno)) {
      // The daemon is out of descriptors or memory: the probe says nothing about the backend. Its
      // state, metrics and flap record stay; the daemon raises its own alert instead.
      this.processFaults++;
      this.#host.onProcessFault?.(res.endpointId, res.error!.code, res.error!.message);
      return;
    }
    this.totalChecks++;
    if (!res.ok) this.failedChecks++;
    this.#updateMetrics(r, res);
    if (res.health) r.healthInfo = res.health;
    if (res.error) r.lastError = { code: res.error.code, message: res.error.message, atMs: now };

    if (res.error?.code === ErrorCode.WORKER_CRASHED) {
      this.#transition(r, applyWorkerCrash(r.health, now), 'probe worker crashed');
      return;
    }
    if (!res.ok) r.flap = recordError(r.flap, now, cfg.failover);
    const t = applyProbe(r.health, { ok: res.ok, nowMs: now, heldDown: isHeldDown(r.flap, now) }, cfg.failover);
    const reason = res.ok ? `${res.kind} probe passed` : `${res.kind} probe failed: ${res.error?.code ?? 'check'} ${res.error?.message ?? ''}`.trim();
    this.#transition(r, t, reason);
  }

  /** Data-path error reported by the WAL: FAILED at once. */
  markFailed(endpointId: string, code: string, message: string): void {
    const r = this.record(endpointId);
    const now = this.#now();
    const cfg = this.#host.config();
    r.lastError = { code, message, atMs: now };
    r.flap = recordError(r.flap, now, cfg.failover);
    this.#transition(r, applyDataPathError(r.health, now, cfg.failover), 'data-path');
  }

  #transition(r: EndpointHealth, t: Transition, reason: string): void {
    const now = this.#now();
    const cfg = this.#host.config();
    r.health = t.record;
    if (t.becameFailed) r.flap = onFailed(r.flap, now, { ...cfg.failover });
    if (t.leftFailed) r.flap = onRecovered(r.flap, now);
    try { this.#opts.store?.setState(r.endpointId, t.to); } catch { /* not registered */ }
    if (t.changed) this.#host.onTransition(r.endpointId, t, reason);
  }

  #updateMetrics(r: EndpointHealth, res: ProbeResult): void {
    const m = { ...r.metrics };
    if (res.avgLatencyUs > 0) {
      m.avgLatencyUs = res.avgLatencyUs;
      m.p50LatencyUs = res.p50LatencyUs;
      m.p99LatencyUs = res.p99LatencyUs;
    }
    if (res.kind !== 'basic' && res.bandwidthMBps > 0) {
      m.bandwidthMBps = res.bandwidthMBps;
      m.iops = res.iops;
    }
    const rate = res.ok ? res.errorRate : Math.max(res.errorRate, 1);
    m.errorRate = m.lastUpdateMs === 0 ? rate : (1 - ERROR_RATE_EWMA_ALPHA) * m.errorRate + ERROR_RATE_EWMA_ALPHA * rate;
    m.lastUpdateMs = res.finishedAtMs;
    r.metrics = m;
    const store = this.#opts.store as (MetricsStore & { writer?: { publishProbe?: (slot: number, p: unknown) => boolean } }) | undefined;
    const slot = store?.slotOf(res.endpointId);
    if (this.#opts.publishToStore && slot !== undefined && typeof store?.writer?.publishProbe === 'function') {
      store.writer.publishProbe(slot, {
        ok: res.ok, kindCode: PROBE_KINDS.indexOf(res.kind) + 1, ops: res.ops, errors: res.errors, errorRate: res.errorRate,
        avgLatencyUs: res.avgLatencyUs, p50LatencyUs: res.p50LatencyUs, p99LatencyUs: res.p99LatencyUs,
        bandwidthMBps: res.bandwidthMBps, iops: res.iops, durationMs: res.durationMs, finishedAtMs: res.finishedAtMs,
      });
    }
  }

  #applyFailSlow(): void {
    const cfg = this.#host.config();
    const peers = this.#host.endpoints().map((e) => {
      const r = this.record(e.endpointId);
      return { endpointId: e.endpointId, type: e.type, latencyUs: r.metrics.avgLatencyUs, state: r.health.state };
    });
    const slow = this.#failSlow.update(peers, cfg.monitoring.failSlow);
    for (const e of this.#host.endpoints()) {
      const r = this.record(e.endpointId);
      const isSlow = slow.has(e.endpointId);
      if (isSlow === r.health.failSlow) continue;
      this.#transition(r, applyFailSlow(r.health, isSlow), isSlow ? 'fail-slow: much slower than its peers' : 'fail-slow cleared');
    }
  }
}
