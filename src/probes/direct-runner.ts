/**
 * A ProbeRunner that runs the seed's probes on the main thread through the StorageBackend interface
 * (async fs / libuv pool, never blocking the event loop). For embedders without worker threads and for
 * tests; the Piscina pool (src/probes/pool.ts) is the production runner.
 *
 *  - basic: write `_health_check_` (the seed's 19-byte "health_check_probe\0"), read it back, verify,
 *    delete (seed basic_connectivity_check);
 *  - performance: 100 x 4 KiB writes of `_perf_test_N`, each made durable (sync) and deleted; average
 *    latency and error rate; fails above maxAcceptableLatencyUs or maxAcceptableErrorRate
 *    (seed performance_benchmark_check);
 *  - stress: queueDepth concurrent 4 KiB write+sync loops for durationMs (defaults those of the pool:
 *    STRESS_DEFAULT_QUEUE_DEPTH, STRESS_DEFAULT_DURATION_MS);
 *  - full: basic, then performance, then the backend's healthInfo().
 * All names are probe names, which file backends keep in their `.xdbm-probe` area.
 * One set of defaults, units and codes with the pool's workers (src/probes/task.ts, workers/probes/):
 * bandwidth in MB/s (10^6 bytes per second), an average over the limit is XDBM_PROBE_THRESHOLD, and the
 * probe deadline counts from the start of the I/O (nothing queues here). The functions themselves stay
 * apart: the workers' are synchronous (a hung file system blocks one worker), these are async through
 * the StorageBackend (a hung one must not block the event loop this runner shares).
 * A backend that is not open (closed after a failover) is initialised first: probing needs it open.
 * At most one probe per endpoint is in flight (XDBM_PROBE_BUSY); past timeoutMs a probe resolves as
 * a failure with XDBM_PROBE_TIMEOUT (the stuck I/O is left to finish on its own).
 */
import type { ProbeTarget, StorageBackend } from '../backends/backend.js';
import { ErrorCode, XdbmError, fromSystemError, isXdbmError } from '../errors.js';
import { summarizeLatencies } from '../metrics/histogram.js';
import type { ProbeKind } from '../types.js';
import { PERF_BLOCK_BYTES, PERF_OPS, STRESS_DEFAULT_DURATION_MS, STRESS_DEFAULT_QUEUE_DEPTH } from './task.js';
import type { ProbeErrorInfo, ProbeOptions, ProbeResult, ProbeRunner } from './types.js';

/** The performance probe's shape, the workers' (src/probes/task.ts). */
export { PERF_BLOCK_BYTES } from './task.js';
export const PERF_OP_COUNT = PERF_OPS;
export const BASIC_PROBE_NAME = '_health_check_';
const BASIC_PROBE_DATA = Buffer.from('health_check_probe\0', 'latin1');

export interface DirectProbeLimits {
  maxAcceptableLatencyUs: number;
  maxAcceptableErrorRate: number;
}

export type BackendLookup = (endpointId: string) => StorageBackend | undefined;

interface Tally {
  latenciesUs: number[];
  ops: number;
  errors: number;
  bytes: number;
  firstError?: ProbeErrorInfo;
  health?: Record<string, unknown>;
  failedCheck?: ProbeErrorInfo;
}

function errorInfo(e: unknown): ProbeErrorInfo {
  if (isXdbmError(e)) return { code: e.code, message: e.message, errno: e.errno };
  const x = fromSystemError(e, 'probe');
  return { code: x.code, message: x.message, errno: x.errno };
}

function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export class DirectProbeRunner implements ProbeRunner {
  readonly #lookup: BackendLookup;
  readonly #limits: DirectProbeLimits;
  readonly #inFlight = new Set<string>();
  #closed = false;

  constructor(lookup: BackendLookup, limits: DirectProbeLimits) {
    this.#lookup = lookup;
    this.#limits = limits;
  }

  async run(target: ProbeTarget, kind: ProbeKind, opts: ProbeOptions): Promise<ProbeResult> {
    if (this.#closed) throw new XdbmError(ErrorCode.CLOSED, 'probe runner is closed');
    const id = target.endpointId;
    if (this.#inFlight.has(id)) throw new XdbmError(ErrorCode.PROBE_BUSY, `a probe of ${id} is still in flight`);
    this.#inFlight.add(id);
    const startedMs = Date.now();
    const tally: Tally = { latenciesUs: [], ops: 0, errors: 0, bytes: 0 };
    let timer: NodeJS.Timeout | undefined;
    const work = this.#probe(id, kind, opts, tally);
    const deadline = new Promise<'timeout'>((res) => { timer = setTimeout(() => res('timeout'), opts.timeoutMs); });
    const aborted = new Promise<'aborted'>((res) => opts.signal?.addEventListener('abort', () => res('aborted'), { once: true }));
    try {
      const how = await Promise.race([work.then(() => 'done' as const, (e: unknown) => { tally.firstError ??= errorInfo(e); tally.errors++; return 'done' as const; }), deadline, aborted]);
      if (how !== 'done') {
        // Release the endpoint only when the stuck work really ends: at most one probe per backend.
        work.catch(() => undefined).finally(() => this.#inFlight.delete(id));
        // An abort ends the probe like its deadline does: no verdict from this probe.
        const why = how === 'timeout' ? `exceeded ${opts.timeoutMs} ms` : 'was aborted';
        return this.#result(id, kind, tally, startedMs, { code: ErrorCode.PROBE_TIMEOUT, message: `${kind} probe of ${id} ${why}` });
      }
      this.#inFlight.delete(id);
      return this.#result(id, kind, tally, startedMs, tally.firstError ?? tally.failedCheck);
    } finally {
      clearTimeout(timer);
    }
  }

  #result(id: string, kind: ProbeKind, t: Tally, startedMs: number, error?: ProbeErrorInfo): ProbeResult {
    const s = summarizeLatencies(t.latenciesUs);
    const durationMs = Math.max(Date.now() - startedMs, 0);
    const seconds = Math.max(durationMs, 1) / 1000;
    const attempted = Math.max(t.ops, t.errors);
    return {
      endpointId: id,
      kind,
      ok: error === undefined,
      ops: attempted,
      errors: t.errors,
      errorRate: attempted > 0 ? t.errors / attempted : error ? 1 : 0,
      avgLatencyUs: s.avgLatencyUs,
      p50LatencyUs: s.p50LatencyUs,
      p99LatencyUs: s.p99LatencyUs,
      // MB/s (10^6 bytes per second), the workers' unit
      bandwidthMBps: t.bytes / 1e6 / seconds,
      iops: s.count / seconds,
      durationMs,
      ...(error ? { error } : {}),
      ...(t.health ? { health: t.health } : {}),
      finishedAtMs: Date.now(),
    };
  }

  async #probe(id: string, kind: ProbeKind, opts: ProbeOptions, t: Tally): Promise<void> {
    const b = this.#lookup(id);
    if (!b) throw new XdbmError(ErrorCode.UNKNOWN_ENDPOINT, `no backend ${id} to probe`);
    if (!b.isOpen) await b.init();
    switch (kind) {
      case 'basic':
        return this.#basic(b, t);
      case 'performance':
        return this.#performance(b, t);
      case 'stress':
        return this.#stress(b, t, opts.queueDepth ?? STRESS_DEFAULT_QUEUE_DEPTH, opts.durationMs ?? STRESS_DEFAULT_DURATION_MS);
      case 'full':
        await this.#basic(b, t);
        await this.#performance(b, t);
        t.health = await b.healthInfo();
        return;
    }
  }

  /** Write, read back, verify, delete: one timed op each. Throws at the first failure. */
  async #basic(b: StorageBackend, t: Tally): Promise<void> {
    const timed = async <T>(fn: () => Promise<T>, bytes: number): Promise<T> => {
      const t0 = nowUs();
      t.ops++;
      const v = await fn();
      t.latenciesUs.push(nowUs() - t0);
      t.bytes += bytes;
      return v;
    };
    await timed(() => b.write(BASIC_PROBE_NAME, 0, BASIC_PROBE_DATA), BASIC_PROBE_DATA.length);
    const back = await timed(() => b.read(BASIC_PROBE_NAME, 0, BASIC_PROBE_DATA.length), BASIC_PROBE_DATA.length);
    if (!back.equals(BASIC_PROBE_DATA)) {
      throw new XdbmError(ErrorCode.VERIFY_MISMATCH, `${b.endpointId}: basic probe read back different bytes`);
    }
    await timed(() => b.delete(BASIC_PROBE_NAME), 0);
  }

  async #writeOne(b: StorageBackend, name: string, data: Buffer, t: Tally): Promise<void> {
    const t0 = nowUs();
    t.ops++;
    try {
      await b.write(name, 0, data);
      await b.sync(name);
      t.latenciesUs.push(nowUs() - t0);
      t.bytes += data.length;
    } catch (e) {
      t.errors++;
      t.firstError ??= errorInfo(e);
    } finally {
      await b.delete(name).catch(() => undefined);
    }
  }

  async #performance(b: StorageBackend, t: Tally): Promise<void> {
    const data = Buffer.alloc(PERF_BLOCK_BYTES, 0xaa);
    let errors = 0;
    for (let i = 0; i < PERF_OP_COUNT; i++) {
      const before = t.errors;
      await this.#writeOne(b, `_perf_test_${i}`, data, t);
      errors += t.errors - before;
    }
    const ok = PERF_OP_COUNT - errors;
    if (ok === 0) return; // firstError already says why
    t.firstError = undefined; // some writes passed: judge by the seed's thresholds, not the first error
    const s = summarizeLatencies(t.latenciesUs);
    const errorRate = errors / PERF_OP_COUNT;
    if (s.avgLatencyUs > this.#limits.maxAcceptableLatencyUs) {
      t.failedCheck = { code: ErrorCode.PROBE_THRESHOLD, message: `${b.endpointId}: average latency ${Math.round(s.avgLatencyUs)} us above ${this.#limits.maxAcceptableLatencyUs} us` };
    } else if (errorRate > this.#limits.maxAcceptableErrorRate) {
      t.failedCheck = { code: ErrorCode.IO_ERROR, message: `${b.endpointId}: error rate ${errorRate} above ${this.#limits.maxAcceptableErrorRate}` };
    }
  }

  async #stress(b: StorageBackend, t: Tally, queueDepth: number, durationMs: number): Promise<void> {
    const data = Buffer.alloc(PERF_BLOCK_BYTES, 0x55);
    const end = Date.now() + durationMs;
    const lane = async (n: number): Promise<void> => {
      for (let i = 0; Date.now() < end; i++) await this.#writeOne(b, `_xdbm_probe_stress_${n}_${i % 4}`, data, t);
    };
    await Promise.all(Array.from({ length: Math.max(1, queueDepth) }, (_, n) => lane(n)));
    if (t.ops > 0 && t.errors / t.ops > this.#limits.maxAcceptableErrorRate && !t.firstError) {
      t.failedCheck = { code: ErrorCode.IO_ERROR, message: `${b.endpointId}: stress error rate above limit` };
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}
