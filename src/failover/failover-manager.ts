/**
 * The failover queue (seed 5.1 failover_worker_thread / execute_failover_task): tasks run one at a
 * time, in order. One task:
 *   1. the failed backend must still be active (else the task is dropped: nothing to replace);
 *   2. candidates: the given replacement, or the eligible ones ranked best first in a free failure
 *      domain (host.rankReplacements);
 *   3. warm-up of the first candidate (init, write, read, verify, delete in the probe area); when it
 *      fails the next-best candidate is tried, until one works or the list or the time runs out;
 *   4. atomic swap of the active list (host.swap), then graceful shutdown of the replaced backend (it
 *      stays a candidate and is re-initialised when it recovers);
 *   5. statistics.
 * failoverTimeoutMs bounds the whole task (XDBM_FAILOVER_TIMEOUT). When an automatic task finds no
 * working replacement the failed backend is still dropped from the active set (running with fewer
 * actives, with a warning); the manager refills on later probe rounds. A manual switch that finds no
 * replacement leaves the active set as it was.
 */
import type { StorageBackend } from '../backends/backend.js';
import { ErrorCode, XdbmError, isXdbmError } from '../errors.js';
import type { FailoverRecord } from '../manager-api.js';
import { FailoverStats } from './stats.js';
import { warmUp as defaultWarmUp } from './warmup.js';

export interface FailoverTask {
  failedId: string;
  /** Replacement chosen by the operator (forceBackendSwitch); absent: best-scored. */
  replacementId?: string;
  reason: string;
  manual: boolean;
}

export interface FailoverHost {
  actives(): readonly string[];
  /** Eligible replacements for failedId given the current actives, best first. */
  rankReplacements(failedId: string, actives: readonly string[]): string[];
  backend(endpointId: string): StorageBackend | undefined;
  /** Atomically replaces failedId by replacementId in the active list (null: drops failedId). */
  swap(failedId: string, replacementId: string | null, reason: string): void;
  failoverTimeoutMs(): number;
  warning(message: string, details?: Record<string, unknown>): void;
}

export interface FailoverManagerOptions {
  /** Injected warm-up (tests); default: warmup.ts. */
  warmUp?: (backend: StorageBackend) => Promise<void>;
  now?: () => number;
}

export class FailoverManager {
  readonly stats = new FailoverStats();
  readonly #host: FailoverHost;
  readonly #warmUp: (backend: StorageBackend) => Promise<void>;
  readonly #now: () => number;
  #tail: Promise<unknown> = Promise.resolve();
  readonly #pendingAuto = new Map<string, Promise<FailoverRecord>>();
  #queued = 0;
  #closed = false;

  constructor(host: FailoverHost, opts: FailoverManagerOptions = {}) {
    this.#host = host;
    this.#warmUp = opts.warmUp ?? defaultWarmUp;
    this.#now = opts.now ?? Date.now;
  }

  /** Tasks queued or running. */
  get queueLength(): number {
    return this.#queued;
  }

  /** Queues a task; an automatic task for a backend already queued returns the queued one. */
  enqueue(task: FailoverTask): Promise<FailoverRecord> {
    if (this.#closed) return Promise.reject(new XdbmError(ErrorCode.CLOSED, 'failover manager is closed'));
    if (!task.manual) {
      const pending = this.#pendingAuto.get(task.failedId);
      if (pending) return pending;
    }
    this.#queued++;
    const run = this.#tail.then(() => this.#execute(task));
    this.#tail = run.catch(() => undefined);
    const done = run.finally(() => {
      this.#queued--;
      if (this.#pendingAuto.get(task.failedId) === done) this.#pendingAuto.delete(task.failedId);
    });
    if (!task.manual) this.#pendingAuto.set(task.failedId, done);
    return done;
  }

  /**
   * Runs fn in the queue, after the tasks before it and before the ones after it: every change of the
   * active set (failover, reselection, refill, reload) goes through here, one at a time. fn must not
   * wait for a task it queues itself.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new XdbmError(ErrorCode.CLOSED, 'failover manager is closed'));
    this.#queued++;
    const run = this.#tail.then(fn);
    this.#tail = run.catch(() => undefined);
    return run.finally(() => { this.#queued--; });
  }

  /** Waits for every queued task. */
  async idle(): Promise<void> {
    while (this.#queued > 0) await this.#tail;
  }

  /** Stops accepting tasks and waits for the queued ones. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.idle();
  }

  async #execute(task: FailoverTask): Promise<FailoverRecord> {
    const startedAtMs = this.#now();
    const deadlineMs = startedAtMs + this.#host.failoverTimeoutMs();
    const record = (ok: boolean, replacementId: string | null, error?: XdbmError): FailoverRecord => ({
      failedId: task.failedId,
      replacementId,
      reason: task.reason,
      manual: task.manual,
      ok,
      startedAtMs,
      durationMs: Math.max(0, this.#now() - startedAtMs),
      ...(error ? { error: { code: error.code, message: error.message } } : {}),
    });

    if (!this.#host.actives().includes(task.failedId)) {
      // Nothing to replace (already replaced by an earlier task, or removed): not counted.
      return record(false, null, new XdbmError(ErrorCode.NOT_ACTIVE, `${task.failedId} is not active`));
    }

    const candidates = task.replacementId !== undefined
      ? [task.replacementId]
      : this.#host.rankReplacements(task.failedId, this.#host.actives());
    let lastError: XdbmError | undefined;
    for (const id of candidates) {
      const remainingMs = deadlineMs - this.#now();
      if (remainingMs <= 0) {
        lastError = new XdbmError(ErrorCode.FAILOVER_TIMEOUT, `failover of ${task.failedId} exceeded ${this.#host.failoverTimeoutMs()} ms`);
        break;
      }
      const b = this.#host.backend(id);
      if (!b) continue;
      try {
        await this.#withDeadline(this.#warmUp(b), remainingMs, task.failedId);
      } catch (e) {
        lastError = isXdbmError(e) ? (e as XdbmError) : new XdbmError(ErrorCode.WARMUP_FAILED, String(e), { cause: e });
        this.#host.warning(`warm-up of replacement ${id} for ${task.failedId} failed: ${lastError.message}`, { endpointId: id, code: lastError.code });
        if (lastError.code === ErrorCode.FAILOVER_TIMEOUT) break;
        continue;
      }
      if (!this.#host.actives().includes(task.failedId)) {
        return record(false, null, new XdbmError(ErrorCode.NOT_ACTIVE, `${task.failedId} left the active set during the failover`));
      }
      this.#host.swap(task.failedId, id, task.reason);
      this.#shutdown(task.failedId);
      const r = record(true, id);
      this.stats.record(r);
      return r;
    }

    const error = lastError ?? new XdbmError(ErrorCode.NO_REPLACEMENT, `no eligible replacement for ${task.failedId} in a free failure domain`);
    if (!task.manual) {
      this.#host.swap(task.failedId, null, task.reason);
      this.#shutdown(task.failedId);
      this.#host.warning(`${task.failedId} dropped from the active set without a replacement (${error.code}): running with fewer actives`, {
        endpointId: task.failedId,
        code: error.code,
      });
    }
    const r = record(false, null, error);
    this.stats.record(r);
    return r;
  }

  #shutdown(endpointId: string): void {
    const b = this.#host.backend(endpointId);
    b?.close().catch((e: unknown) => this.#host.warning(`closing ${endpointId} failed: ${String(e)}`, { endpointId }));
  }

  async #withDeadline<T>(p: Promise<T>, ms: number, failedId: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    p.catch(() => undefined);
    try {
      return await Promise.race([
        p,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new XdbmError(ErrorCode.FAILOVER_TIMEOUT, `failover of ${failedId} exceeded its deadline`)), ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
