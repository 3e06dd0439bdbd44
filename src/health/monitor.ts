/**
 * Health monitor (seed 3.1 health_monitor_thread): every healthCheckIntervalMs it probes every
 * candidate through an injected ProbeRunner and feeds the results into the state machine, the
 * anti-flap record, the metrics store and fail-slow detection.
 *
 * Rules:
 *  - at most one probe per backend in flight: a backend whose last probe has not finished is skipped
 *    this round (a hung probe ends as XDBM_PROBE_TIMEOUT after monitoring.probeTimeoutMs);
 *  - the launch order rotates every round: the first probes of a round pay for whatever the shared
 *    file system or the pool has saved up (a journal commit, a cold worker), and that cost must land
 *    on a different backend each time, not on the first in config. Backend i of n goes at position
 *    (i + round x s) mod n, with s near n / golden ratio and coprime to n: in any 7 consecutive rounds
 *    (the fail-slow window) a backend's positions are spread over the round, so a cost tied to the
 *    first positions reaches a minority of its 7 samples and does not move its median;
 *  - probe kind: the most thorough kind listed in monitoring.healthCheckTypes that is due, where basic
 *    is due every round, performance every 10th, full every 30th and stress every 60th round *of that
 *    backend*: backend i of n counts rounds from a phase of i x 60 / n, so heavy probes are spread
 *    over their period instead of all firing in one round. At most max(1, runner concurrency - 1)
 *    heavy probes run at once (one worker stays free for basic probes); a heavy probe over the cap
 *    runs as basic this round and is owed, first in line at the next round. With only ['basic']
 *    listed every round is basic;
 *  - a backend that is not open (init failed at start, or closed after a failover) is initialised
 *    before its probe; an init failure counts as a failed probe; a FAILED backend that is not active
 *    is closed and reopened before its probe (at most once per max(interval, 1 s)), so a repaired
 *    fault is noticed;
 *  - after a round's probes have all finished, fail-slow (src/health/fail-slow.ts, peer comparison
 *    over a window of recent samples per probe kind and of the log's own writes) turns HEALTHY
 *    backends much slower than their peers DEGRADED and back;
 *  - local overload (src/health/self-overload.ts: event-loop delay, a pool backlog, probes that
 *    found no worker) changes no backend state: in such a round probes that timed out or never ran
 *    leave their backend as it was and fail-slow is not judged; selfOverload() says why (alert
 *    xdbm_self_overloaded). Probe errors that are answers from the backend (EIO, ENOSPC, a mismatch)
 *    still count;
 *  - counts: totalChecks, failedChecks, lastFullScanMs (round start to its last probe's end).
 */
import type { StorageBackend } from '../backends/backend.js';
import { withIoTimeout } from '../backends/io-timeout.js';
import type { ManagerConfig } from '../config/types.js';
import { ErrorCode, fromSystemError, isProcessResourceFault } from '../errors.js';
import type { MetricsStore } from '../metrics/types.js';
import type { ProbeResult, ProbeRunner } from '../probes/types.js';
import { EMPTY_METRICS, PROBE_KINDS, type BackendType, type EndpointMetrics, type ProbeKind } from '../types.js';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { FailSlowTracker, judgeFailSlow, mergeVerdicts, type FailSlowVerdict } from './fail-slow.js';
import {
  decayedErrorsAt, initialFlap, isHeldDown, onFailed, onFailSlowCleared, onFailSlowFlagged, onRecovered, recordError, type FlapRecord,
} from './anti-flap.js';
import { LatencyWindows } from './latency-window.js';
import { DEFAULT_EVENT_LOOP_DELAY_LIMIT_MS, judgeOverload, noSigns, type OverloadSigns, type OverloadVerdict } from './self-overload.js';
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

/** Rounds after which every kind's schedule repeats (the least common multiple of KIND_EVERY_ROUNDS). */
export const KIND_CYCLE_ROUNDS = 60;
/** Data-path samples per backend in the fail-slow window (writes come far more often than probes). */
export const DATA_PATH_WINDOW_SAMPLES = 64;
export const DATA_PATH_MIN_SAMPLES = 16;
/** Evidence source name of the log's own replica writes in the latency windows. */
export const DATA_PATH_SOURCE = 'data-path';

/** Heavy kinds: the ones spread over their period and capped by the runner's concurrency. */
export function isHeavy(kind: ProbeKind): boolean {
  return kind !== 'basic';
}

/** Round offset of backend `index` of `count`: spreads their heavy probes evenly over the cycle. */
export function phaseOf(index: number, count: number): number {
  return count > 0 ? Math.floor((index * KIND_CYCLE_ROUNDS) / count) : 0;
}

/** The kind backend `index` of `count` is due for in `round` (before the concurrency cap). */
export function probeKindFor(round: number, index: number, count: number, kinds: readonly ProbeKind[]): ProbeKind {
  return probeKindForRound(round + phaseOf(index, count), kinds);
}

/** The least thorough listed kind: what a backend runs when its heavy probe must wait. */
export function lightKind(kinds: readonly ProbeKind[]): ProbeKind {
  const listed = kinds.length > 0 ? kinds : (['basic'] as ProbeKind[]);
  return listed.reduce((a, b) => (KIND_RANK[b] < KIND_RANK[a] ? b : a));
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** The rotation step for n backends: near n / golden ratio (well spread), coprime to n (a permutation). */
export function rotationStride(n: number): number {
  if (n <= 1) return 0;
  let s = Math.max(1, Math.round(n * 0.618));
  while (gcd(s, n) !== 1) s++;
  return s;
}

/** Launch order of round `round`: position p holds item (p - round x stride) mod n. */
export function rotatedOrder<T>(items: readonly T[], round: number): T[] {
  const n = items.length;
  const shift = (round * rotationStride(n)) % Math.max(1, n);
  return items.map((_, p) => items[(((p - shift) % n) + n) % n]!);
}

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
  /** Rotate the launch order every round (default true; false keeps config order, for comparison). */
  rotateOrder?: boolean;
  /**
   * p99 event-loop delay since the previous call, milliseconds. Default: perf_hooks'
   * monitorEventLoopDelay while the monitor runs; tests inject a figure.
   */
  eventLoopDelayMs?: () => number;
  /** Past this p99 event-loop delay a round counts as overloaded (default 200 ms). */
  eventLoopDelayLimitMs?: number;
}

/** What the overload guard saw in the last round (the xdbm_self_overloaded alert reads it). */
export interface SelfOverloadStatus extends OverloadVerdict {
  signs: OverloadSigns;
  /** Rounds judged overloaded since start. */
  overloadedRounds: number;
  /** Probe results whose state change was withheld because the process was overloaded. */
  suppressedResults: number;
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
  readonly #probeWindows = new LatencyWindows();
  readonly #dataPathWindows = new LatencyWindows({ windowSamples: DATA_PATH_WINDOW_SAMPLES, minSamples: DATA_PATH_MIN_SAMPLES });
  readonly #reopenedAtMs = new Map<string, number>();
  /** Heavy kind a backend is owed because the cap held it back, in the order they were deferred. */
  readonly #owed = new Map<string, ProbeKind>();
  #heavyInFlight = 0;
  #signs: OverloadSigns = noSigns();
  #overload: SelfOverloadStatus = { overloaded: false, reasons: [], signs: noSigns(), overloadedRounds: 0, suppressedResults: 0 };
  #loopDelay?: IntervalHistogram;
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
    this.#probeWindows.forget(endpointId);
    this.#dataPathWindows.forget(endpointId);
    this.#owed.delete(endpointId);
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

  /** The overload guard's view of the last round. */
  selfOverload(): SelfOverloadStatus {
    return { ...this.#overload, reasons: [...this.#overload.reasons], signs: { ...this.#overload.signs } };
  }

  /** Recent latency samples of a backend per evidence source (probe kinds, data-path), oldest first. */
  latencySamples(endpointId: string): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const src of this.#probeWindows.sources()) out[src] = [...this.#probeWindows.samples(src, endpointId)];
    out[DATA_PATH_SOURCE] = [...this.#dataPathWindows.samples(DATA_PATH_SOURCE, endpointId)];
    return out;
  }

  /** A data-path operation's latency (the log's own replica write): evidence for fail-slow like a probe. */
  recordDataPath(endpointId: string, latencyUs: number, ok: boolean): void {
    if (!ok || !this.#records.has(endpointId)) return;
    this.#dataPathWindows.add(DATA_PATH_SOURCE, endpointId, latencyUs);
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    if (!this.#opts.eventLoopDelayMs) {
      this.#loopDelay = monitorEventLoopDelay({ resolution: 20 });
      this.#loopDelay.enable();
    }
    this.#schedule();
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#loopDelay?.disable();
    this.#loopDelay = undefined;
  }

  #eventLoopDelayMs(): number {
    if (this.#opts.eventLoopDelayMs) return this.#opts.eventLoopDelayMs();
    const h = this.#loopDelay;
    if (!h || h.count === 0) return 0;
    const p99Ms = h.percentile(99) / 1e6;
    h.reset();
    return p99Ms;
  }

  #overloadLimits(): { eventLoopDelayLimitMs: number; queueLimitUs: number } {
    return {
      eventLoopDelayLimitMs: this.#opts.eventLoopDelayLimitMs ?? DEFAULT_EVENT_LOOP_DELAY_LIMIT_MS,
      queueLimitUs: this.#host.config().healthCheckIntervalMs * 1000,
    };
  }

  /** Overloaded now, from the signs gathered so far this round. */
  #overloadedNow(): boolean {
    return judgeOverload(this.#signs, this.#overloadLimits()).overloaded;
  }

  /** Ends when every probe launched has finished. */
  async runRound(): Promise<void> {
    const round = this.round++;
    const cfg = this.#host.config();
    const kinds = cfg.monitoring.healthCheckTypes;
    const started = this.#now();
    this.#signs = { ...noSigns(), eventLoopDelayP99Ms: this.#eventLoopDelayMs(), queueBacklog: this.#runner.queuedProbes ?? 0 };
    const all = this.#host.endpoints();
    const index = new Map(all.map((e, i) => [e.endpointId, i]));
    const heavyCap = Math.max(1, (this.#runner.concurrency ?? 2) - 1);
    const rotated = this.#opts.rotateOrder === false ? all : rotatedOrder(all, round);
    const order = rotated.filter((e) => !this.#inFlight.has(e.endpointId));
    // Owed heavy probes claim the cap first, oldest debt first; the launch order itself stays rotated.
    const owedRank = new Map([...this.#owed.keys()].map((id, i) => [id, i]));
    const claimOrder = [...order].sort((a, b) => (owedRank.get(a.endpointId) ?? Infinity) - (owedRank.get(b.endpointId) ?? Infinity));
    const kindOf = new Map<string, ProbeKind>();
    let heavyNow = this.#heavyInFlight;
    for (const e of claimOrder) {
      let kind = this.#owed.get(e.endpointId) ?? probeKindFor(round, index.get(e.endpointId)!, all.length, kinds);
      if (isHeavy(kind)) {
        if (heavyNow >= heavyCap) {
          this.#owed.set(e.endpointId, kind);
          kind = lightKind(kinds);
        } else {
          this.#owed.delete(e.endpointId);
          heavyNow++;
        }
      }
      kindOf.set(e.endpointId, kind);
    }
    const launched = order.map((e) => this.#launch(e.endpointId, kindOf.get(e.endpointId)!));
    await Promise.allSettled(launched);
    this.lastFullScanMs = this.#now() - started;
    const verdict = judgeOverload(this.#signs, this.#overloadLimits());
    this.#overload = {
      ...verdict, signs: { ...this.#signs },
      overloadedRounds: this.#overload.overloadedRounds + (verdict.overloaded ? 1 : 0),
      suppressedResults: this.#overload.suppressedResults,
    };
    // A starved round's latencies describe this process: fail-slow keeps every flag as it is.
    if (!verdict.overloaded) this.#applyFailSlow();
    this.#host.onRoundComplete?.(round);
  }

  async #launch(endpointId: string, kind: ProbeKind): Promise<void> {
    const heavy = isHeavy(kind);
    if (heavy) this.#heavyInFlight++;
    try {
      await this.probeOne(endpointId, kind);
    } finally {
      if (heavy) this.#heavyInFlight--;
    }
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
        if (err.code === ErrorCode.PROBE_OVERLOADED) {
          this.#signs.overloadedProbes++;
          return;
        }
        result = this.#failure(endpointId, kind, err.code, err.message, err.errno);
      }
      this.applyResult(result);
    } finally {
      this.#inFlight.delete(endpointId);
    }
  }

  #failure(endpointId: string, kind: ProbeKind, code: string, message: string, errno?: number): ProbeResult {
    // Same shape as the pool's failedResult: one failed operation, error rate 1.
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
    if (res.queueUs !== undefined) this.#signs.maxQueueUs = Math.max(this.#signs.maxQueueUs, res.queueUs);
    // The runner was closed under the probe (shutdown): nothing was learnt about the backend.
    if (res.error?.code === ErrorCode.CLOSED) return;
    if (res.error?.code === ErrorCode.PROBE_OVERLOADED) {
      // Never ran: no figures, no verdict about the backend.
      this.#signs.overloadedProbes++;
      this.#overload.suppressedResults++;
      return;
    }
    if (!res.ok && res.error?.code === ErrorCode.PROBE_TIMEOUT && this.#overloadedNow()) {
      // A deadline missed while this process was starved says nothing about the backend.
      this.#overload.suppressedResults++;
      return;
    }
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
    // The probe's mean, not its p50: a basic probe is write+sync, read, delete, and its p50 would be the
    // read, blind to a slow sync. The window's median then makes the mean robust across probes.
    // Only the kind every backend runs every round is evidence: heavier kinds come every 10+ rounds
    // per backend, so a window of them spans minutes and a flag from it would outlive its cause.
    if (res.ok && res.kind === lightKind(cfg.monitoring.healthCheckTypes)) this.#probeWindows.add(res.kind, res.endpointId, res.avgLatencyUs);
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
        queueUs: res.queueUs,
      });
    }
  }

  /** This round's verdict over every evidence source (each probe kind's window, the data path). */
  judgeFailSlowNow(): FailSlowVerdict {
    const cfg = this.#host.config().monitoring.failSlow;
    const eps = this.#host.endpoints();
    const verdicts: FailSlowVerdict[] = [];
    const judgeSource = (w: LatencyWindows, source: string): void => {
      const peers = eps.map((e) => ({
        endpointId: e.endpointId, type: e.type, latencyUs: w.level(source, e.endpointId), state: this.record(e.endpointId).health.state,
      }));
      verdicts.push(judgeFailSlow(peers, cfg));
    };
    for (const source of this.#probeWindows.sources()) judgeSource(this.#probeWindows, source);
    judgeSource(this.#dataPathWindows, DATA_PATH_SOURCE);
    return mergeVerdicts(verdicts);
  }

  #applyFailSlow(): void {
    const cfg = this.#host.config();
    const eps = this.#host.endpoints();
    const slow = this.#failSlow.apply(this.judgeFailSlowNow(), eps.map((e) => e.endpointId), cfg.monitoring.failSlow.enabled);
    const now = this.#now();
    for (const e of eps) {
      const r = this.record(e.endpointId);
      const isSlow = slow.has(e.endpointId);
      if (isSlow === r.health.failSlow) continue;
      r.flap = isSlow ? onFailSlowFlagged(r.flap, now, cfg.failover) : onFailSlowCleared(r.flap, now);
      this.#transition(r, applyFailSlow(r.health, isSlow), isSlow ? 'fail-slow: much slower than its peers' : 'fail-slow cleared');
    }
  }
}
