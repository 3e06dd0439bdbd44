/**
 * ProbePool: the production ProbeRunner. Probes run in a Piscina pool (workers/probe-worker.ts, compiled
 * to dist/workers/probe-worker.js) that does synchronous I/O through fs or the addon; this file, on the
 * main thread, owns what must stay responsive: deadlines, one-in-flight per endpoint and crash handling.
 *
 * Like multipath's tur checker (PENDING / TIMEOUT, no new check while a stalled one lives):
 *  - At most one probe per endpoint is in flight; a second run() rejects with XDBM_PROBE_BUSY.
 *  - The deadline counts from when a worker picks the probe up (control word C_QUEUE_US), so waiting
 *    behind other probes never reads as a slow backend. A probe still queued after queueLimitMs resolves
 *    ok=false XDBM_PROBE_OVERLOADED: this process is short of workers, which says nothing of the backend.
 *  - At its deadline a probe resolves ok=false XDBM_PROBE_TIMEOUT, at once, whatever the worker does.
 *    The worker is told to stop (control word C_CANCEL, checked before every operation); if it has not
 *    returned after a short grace, the task is aborted, which makes Piscina terminate that worker and
 *    start a replacement, so the pool keeps its capacity for the other endpoints.
 *  - A worker stuck inside a syscall (hung NFS, a dead device, a FIFO without a writer) cannot be
 *    terminated until the syscall returns: its thread lingers, counted in `stuckWorkers`, and its
 *    endpoint stays busy (XDBM_PROBE_BUSY) until that thread has really exited (Worker 'exit'). Probes
 *    of a hung backend therefore never pile up: at most one stuck thread per endpoint.
 *  - A worker that dies (process.exit, an uncaught throw) is replaced by Piscina; its probe resolves
 *    ok=false XDBM_WORKER_CRASHED (the manager then marks the backend UNKNOWN).
 * Every result, including those the pool makes up for a timeout or a crash, is in the endpoint's
 * SharedArrayBuffer metrics slot when run() resolves (the worker publishes its own with Atomics).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { ProbeTarget } from '../backends/backend.js';
import { ErrorCode, XdbmError } from '../errors.js';
import { SharedMetricsStore } from '../metrics/shared-store.js';
import { PROBE_KINDS, type ProbeKind } from '../types.js';
import {
  C_CANCEL, C_PHASE, C_PUBLISHED, C_QUEUE_US, C_THREAD_ID, CONTROL_BYTES, DEFAULT_THRESHOLDS, PHASE_QUEUED, QUEUE_US_UNSET,
  STRESS_DEFAULT_DURATION_MS, STRESS_DEFAULT_QUEUE_DEPTH, epochMs, type ProbeTask, type ProbeThresholds, type ProbeWorkerData,
} from './task.js';
import type { ProbeOptions, ProbeResult, ProbeRunner } from './types.js';

export interface ProbePoolOptions {
  /** Default: 2 (probes are I/O bound; the health loop rarely needs more). */
  maxThreads?: number;
  minThreads?: number;
  /** Where workers publish results; without it results are only returned. */
  metrics?: SharedMetricsStore;
  /** Limits of the performance and stress probes (seed MAX_ACCEPTABLE_*). */
  thresholds?: Partial<ProbeThresholds>;
  /** Time a worker gets after the deadline to return on its own before it is terminated. Default 50 ms. */
  terminateGraceMs?: number;
  /** Worker file (compiled JS). Default: dist/workers/probe-worker.js; tests pass misbehaving fixtures. */
  workerFilename?: string;
  idleTimeoutMs?: number;
  /**
   * How long a probe may wait in the queue for a free worker before it resolves ok=false
   * XDBM_PROBE_OVERLOADED (no verdict about the backend). Default: the probe's own timeoutMs.
   */
  queueLimitMs?: number;
}

interface InFlight {
  endpointId: string;
  startedAtMs: number;
  /** epochMs() of the request: the worker's C_QUEUE_US is counted from it. */
  requestedAtMs: number;
  control: Int32Array;
  abort: AbortController;
  slot?: number;
  slotGen?: number;
  /** The caller got its result. */
  answered: boolean;
  /** The Piscina task is over (resolved, rejected, or its worker exited). */
  taskOver: boolean;
  /** Terminated while inside a syscall: waiting for its thread to exit. */
  stuck: boolean;
}

const DEFAULT_GRACE_MS = 50;
/** How long close() waits for workers to exit. */
const CLOSE_WAIT_MS = 1000;

/** dist/workers/probe-worker.js, found from this file both under src/ (vitest) and dist/src/. */
export function defaultWorkerFilename(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '../../workers/probe-worker.js'), join(here, '../../dist/workers/probe-worker.js')];
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new XdbmError(ErrorCode.NOT_STARTED,
      `probe worker not built (looked at ${candidates.join(', ')}): run \`npx tsc -p tsconfig.json\``);
  }
  return found;
}

/**
 * The result of a probe that produced no figures of its own (timed out, aborted, crashed, never started).
 * Counted as one failed operation, as the in-thread runner and the monitor count it.
 */
export function failedResult(endpointId: string, kind: ProbeKind, code: string, message: string, startedAtMs: number, queueUs?: number): ProbeResult {
  const now = Date.now();
  const r: ProbeResult = {
    endpointId, kind, ok: false, ops: 0, errors: 1, errorRate: 1, avgLatencyUs: 0, p50LatencyUs: 0, p99LatencyUs: 0,
    bandwidthMBps: 0, iops: 0, durationMs: now - startedAtMs, finishedAtMs: now, error: { code, message },
  };
  if (queueUs !== undefined) r.queueUs = queueUs;
  return r;
}

export class ProbePool implements ProbeRunner {
  readonly #piscina: Piscina<ProbeTask, ProbeResult>;
  readonly #metrics?: SharedMetricsStore;
  readonly #thresholds: ProbeThresholds;
  readonly #graceMs: number;
  readonly #queueLimitMs?: number;
  readonly #maxThreads: number;
  readonly #inFlight = new Map<string, InFlight>();
  #stuck = 0;
  #crashes = 0;
  #closed = false;

  constructor(opts: ProbePoolOptions = {}) {
    this.#metrics = opts.metrics;
    this.#thresholds = { ...DEFAULT_THRESHOLDS, ...opts.thresholds };
    this.#graceMs = opts.terminateGraceMs ?? DEFAULT_GRACE_MS;
    const maxThreads = Math.max(1, opts.maxThreads ?? 2);
    this.#maxThreads = maxThreads;
    this.#queueLimitMs = opts.queueLimitMs;
    const workerData: ProbeWorkerData = opts.metrics ? { metricsBuffer: opts.metrics.buffer } : {};
    this.#piscina = new Piscina<ProbeTask, ProbeResult>({
      filename: opts.workerFilename ?? defaultWorkerFilename(),
      maxThreads,
      minThreads: Math.min(maxThreads, Math.max(0, opts.minThreads ?? 1)),
      idleTimeout: opts.idleTimeoutMs ?? 30_000,
      workerData,
      // No queue limit (Piscina's default): one-in-flight per endpoint already bounds the queue by the
      // number of endpoints, and a 'queue full' rejection would read as a worker crash.
    });
    // A worker that fails while it has no task is reported here; without a listener it would crash the process.
    this.#piscina.on('error', () => {
      this.#crashes++;
    });
  }

  /** Endpoints with a probe in flight (including stuck ones). */
  busyEndpoints(): string[] {
    return [...this.#inFlight.keys()];
  }

  isBusy(endpointId: string): boolean {
    return this.#inFlight.has(endpointId);
  }

  /** Worker threads terminated past a deadline that have not exited yet (stuck in a syscall). */
  get stuckWorkers(): number {
    return this.#stuck;
  }

  /** Workers that died (exit or uncaught error) since the pool started. */
  get crashedWorkers(): number {
    return this.#crashes;
  }

  get threadCount(): number {
    return this.#piscina.threads.length;
  }

  /** Probes that can run at once (the pool's thread limit); the monitor caps heavy probes by it. */
  get concurrency(): number {
    return this.#maxThreads;
  }

  /** Probes waiting for a free worker now: a backlog means this process, not a backend, is short. */
  get queuedProbes(): number {
    return this.#piscina.queueSize;
  }

  run(target: ProbeTarget, kind: ProbeKind, opts: ProbeOptions): Promise<ProbeResult> {
    const id = target.endpointId;
    if (this.#closed) return Promise.reject(new XdbmError(ErrorCode.CLOSED, 'probe pool is closed'));
    if (!PROBE_KINDS.includes(kind)) {
      return Promise.reject(new XdbmError(ErrorCode.INVALID_ARGUMENT, `unknown probe kind ${String(kind)}`));
    }
    if (!(opts.timeoutMs > 0)) {
      return Promise.reject(new XdbmError(ErrorCode.INVALID_ARGUMENT, `timeoutMs must be > 0, got ${opts.timeoutMs}`));
    }
    const busy = this.#inFlight.get(id);
    if (busy) {
      return Promise.reject(new XdbmError(ErrorCode.PROBE_BUSY,
        `a probe of ${id} is still in flight (since ${Date.now() - busy.startedAtMs} ms${busy.stuck ? ', its worker is stuck in a syscall' : ''})`,
        { details: { endpointId: id, stuck: busy.stuck, startedAtMs: busy.startedAtMs } }));
    }
    if (opts.signal?.aborted) {
      return Promise.resolve(failedResult(id, kind, ErrorCode.PROBE_ABORTED, 'aborted before start', Date.now()));
    }
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const entry: InFlight = {
      endpointId: id, startedAtMs: Date.now(), requestedAtMs: epochMs(), control: new Int32Array(control), abort: new AbortController(),
      answered: false, taskOver: false, stuck: false,
    };
    Atomics.store(entry.control, C_QUEUE_US, QUEUE_US_UNSET);
    this.#bindSlot(entry);
    const queueLimitMs = this.#queueLimitMs ?? opts.timeoutMs;
    const task: ProbeTask = {
      target, kind,
      requestedAtMs: entry.requestedAtMs,
      timeoutMs: opts.timeoutMs,
      deadlineMs: entry.startedAtMs + opts.timeoutMs, // replaced by the worker when it starts
      queueDepth: opts.queueDepth ?? STRESS_DEFAULT_QUEUE_DEPTH,
      durationMs: opts.durationMs ?? STRESS_DEFAULT_DURATION_MS,
      thresholds: this.#thresholds,
      control,
    };
    if (entry.slot !== undefined) {
      task.slot = entry.slot;
      task.slotGen = entry.slotGen;
    }
    if (opts.health) task.health = opts.health;
    this.#inFlight.set(id, entry);

    return new Promise<ProbeResult>((resolve) => {
      let graceTimer: NodeJS.Timeout | undefined;
      let deadline: NodeJS.Timeout | undefined;
      const queueUs = (): number | undefined => {
        const q = Atomics.load(entry.control, C_QUEUE_US);
        return q === QUEUE_US_UNSET ? undefined : q;
      };
      const answer = (r: ProbeResult, publish: boolean): void => {
        if (entry.answered) return;
        entry.answered = true;
        clearTimeout(deadline);
        opts.signal?.removeEventListener('abort', onCallerAbort);
        if (publish) this.#publish(entry, r);
        resolve(r);
      };
      const giveUp = (code: ErrorCode, message: string, graceMs: number): void => {
        Atomics.store(entry.control, C_CANCEL, 1);
        // A probe that never started has no figures for the slot: what it holds still describes the backend.
        answer(failedResult(id, kind, code, message, entry.startedAtMs, queueUs()), code !== ErrorCode.PROBE_OVERLOADED);
        graceTimer = setTimeout(() => this.#terminate(entry), graceMs);
      };
      // One timer, re-armed: while queued it watches the queue limit; once a worker has the task, the
      // I/O deadline (worker start + timeoutMs). The first check comes at the earlier of the two.
      const check = (): void => {
        const q = queueUs();
        const waitedMs = epochMs() - entry.requestedAtMs;
        if (q === undefined) {
          if (waitedMs >= queueLimitMs) {
            giveUp(ErrorCode.PROBE_OVERLOADED, `${kind} probe of ${id} waited ${Math.round(waitedMs)} ms for a free probe worker`, 0);
            return;
          }
          deadline = setTimeout(check, Math.max(1, Math.min(queueLimitMs - waitedMs, opts.timeoutMs)));
          return;
        }
        const leftMs = q / 1000 + opts.timeoutMs - waitedMs;
        if (leftMs <= 0) {
          giveUp(ErrorCode.PROBE_TIMEOUT, `${kind} probe of ${id} gave no answer within ${opts.timeoutMs} ms of starting its I/O`, this.#graceMs);
          return;
        }
        deadline = setTimeout(check, Math.max(1, Math.ceil(leftMs)));
      };
      deadline = setTimeout(check, Math.min(queueLimitMs, opts.timeoutMs));
      const onCallerAbort = (): void => giveUp(ErrorCode.PROBE_ABORTED, `${kind} probe of ${id} aborted by the caller`, 0);
      opts.signal?.addEventListener('abort', onCallerAbort, { once: true });

      this.#piscina.run(task, { signal: entry.abort.signal }).then(
        (r) => {
          entry.taskOver = true;
          clearTimeout(graceTimer);
          answer(r, false);
          this.#release(entry);
        },
        (e: unknown) => {
          if (entry.abort.signal.aborted) return; // our own terminate: #terminate releases the entry
          entry.taskOver = true;
          clearTimeout(graceTimer);
          const closing = this.#closed;
          if (!closing) this.#crashes++;
          const msg = e instanceof Error ? e.message : String(e);
          this.#cleanSlot(entry); // first: the dead worker may have left the slot locked
          answer(failedResult(id, kind, closing ? ErrorCode.CLOSED : ErrorCode.WORKER_CRASHED,
            closing ? `probe pool closed during the probe: ${msg}` : `probe worker crashed: ${msg}`, entry.startedAtMs, queueUs()), true);
          this.#release(entry);
        },
      );
    });
  }

  /**
   * Past the deadline and the grace: abort the Piscina task. Still queued: it is simply dropped.
   * Running: Piscina terminates the worker and starts another; we keep the endpoint busy until the
   * terminated thread has exited, which for a thread blocked in a syscall is when the syscall returns.
   */
  #terminate(entry: InFlight): void {
    if (entry.taskOver) return;
    const tid = Atomics.load(entry.control, C_THREAD_ID);
    const running = Atomics.load(entry.control, C_PHASE) !== PHASE_QUEUED;
    const worker: Worker | undefined = running ? this.#piscina.threads.find((w) => w.threadId === tid) : undefined;
    if (worker) {
      entry.stuck = true;
      this.#stuck++;
      worker.once('exit', () => {
        this.#stuck--;
        entry.stuck = false;
        entry.taskOver = true;
        this.#cleanSlot(entry);
        this.#release(entry);
      });
      entry.abort.abort(new XdbmError(ErrorCode.PROBE_TIMEOUT, 'probe past its deadline'));
      return;
    }
    entry.abort.abort(new XdbmError(ErrorCode.PROBE_TIMEOUT, 'probe past its deadline'));
    entry.taskOver = true;
    this.#release(entry);
  }

  #bindSlot(entry: InFlight): void {
    const m = this.#metrics;
    if (!m) return;
    let slot = m.slotOf(entry.endpointId);
    if (slot === undefined) {
      try {
        slot = m.register(entry.endpointId);
      } catch {
        return; // store full: the probe still runs, its result is only returned
      }
    }
    entry.slot = slot;
    entry.slotGen = m.slotGeneration(entry.endpointId);
  }

  #publish(entry: InFlight, r: ProbeResult): void {
    if (!this.#metrics || entry.slot === undefined) return;
    // The worker may have claimed publishing a moment ago (it finished right at the deadline): its result stands.
    if (Atomics.compareExchange(entry.control, C_PUBLISHED, 0, 1) !== 0) return;
    this.#metrics.writer.publishProbe(entry.slot, { ...r, kindCode: PROBE_KINDS.indexOf(r.kind) + 1 }, entry.slotGen);
  }

  /** After a worker died: clear its in-flight mark and a seqlock it may have died holding. */
  #cleanSlot(entry: InFlight): void {
    if (!this.#metrics || entry.slot === undefined) return;
    this.#metrics.writer.forceUnlock(entry.slot);
    this.#metrics.writer.setInFlight(entry.slot, 0, entry.slotGen);
  }

  #release(entry: InFlight): void {
    if (this.#inFlight.get(entry.endpointId) === entry) this.#inFlight.delete(entry.endpointId);
  }

  /** Stops the workers. Probes still running resolve ok=false XDBM_CLOSED; stuck threads are left to exit. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // destroy() waits for every worker to exit; one blocked in a syscall would hold it, so bound the wait.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#piscina.destroy(),
      new Promise<void>((r) => { timer = setTimeout(r, CLOSE_WAIT_MS); timer.unref(); }),
    ]);
    clearTimeout(timer);
  }
}
