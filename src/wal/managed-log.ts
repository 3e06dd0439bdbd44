/**
 * The replicated write-ahead log over the manager's active set (BookKeeper ledger semantics).
 * Write quorum = every active member; an append resolves once ackQuorum members have it durable and
 * the metadata still names this writer (fencing), in index order. A failed or timed-out member is
 * reported to the manager at once, even after the quorum was met (BookKeeper #1591); the survivors
 * keep acknowledging while the manager picks a replacement, then one CAS records the new ensemble
 * from lastAcked+1 and the in-flight entries are re-sent to it. One ensemble change at a time.
 */
import { randomUUID } from 'node:crypto';
import type { StorageBackend } from '../backends/backend.js';
import { ErrorCode, XdbmError, isXdbmError } from '../errors.js';
import type { BackendManagerApi } from '../manager-api.js';
import { sleepMs, withDeadline } from './deadline.js';
import { lastEpoch, withNewEpoch, withPrefixTruncated } from './ensemble-history.js';
import { LogReader } from './log-reader.js';
import { createMetadataStore } from './metadata/index.js';
import type { LogMetadata, MetadataStore } from './metadata/types.js';
import type { LogReplica } from './replica.js';
import type { LogStats, ManagedLog, ManagedLogOptions } from './log-types.js';
import { replicaFor } from './replica-factory.js';
import { recoverLog } from './recovery.js';
import { waitForEnsemble, type Member } from './ensemble-wait.js';
import { withReplicaDeadline } from './stuck-io.js';

interface Pending {
  index: number;
  payload: Uint8Array;
  acks: Set<string>;
  acked: boolean;
  resolve: (v: { index: number }) => void;
  reject: (e: unknown) => void;
}

export type { EnsembleChange, LogStats, ManagedLog, ManagedLogOptions } from './log-types.js';

export async function openManagedLog(manager: BackendManagerApi, name: string, opts: ManagedLogOptions = {}): Promise<ManagedLog> {
  const log = new ReplicatedLog(manager, name, opts);
  await log.open();
  return log;
}

export class ReplicatedLog implements ManagedLog {
  readonly name: string;
  readonly #m: BackendManagerApi;
  readonly #ackQuorum: number;
  readonly #deadlineMs: number;
  readonly #failoverMs: number;
  readonly #migrate: boolean;
  readonly #maxBatch: number;
  readonly #writerId: string;
  readonly #factory: (b: StorageBackend, n: string) => LogReplica;
  readonly #ownStore: boolean;
  #store?: MetadataStore;
  readonly #opts: ManagedLogOptions;
  #wakers: (() => void)[] = [];
  readonly #onManagerActiveChanged: (e: { current?: string[] } | undefined) => void;
  #meta!: LogMetadata;
  #version = 0;
  #members: Member[] = [];
  #pending: Pending[] = [];
  #nextIndex = 1;
  #lastAcked = 0;
  #firstFailureAtMs = 0;
  #changeChain: Promise<void> = Promise.resolve();
  #changing = false;
  /** A metadata CAS of this log's own is in flight: acknowledgements wait for its outcome. */
  #ownCas: Promise<unknown> | null = null;
  /** A suffix truncation holds writes to members (it renumbers what is not yet acknowledged). */
  #truncating = false;
  #resync = false;
  /** Set after appends failed (quorum lost): the next append asks for an ensemble again. */
  #needsChange = false;
  #ackRound: Promise<void> | null = null;
  #fenced: XdbmError | null = null;
  #closed = false;
  readonly #reader: LogReader;
  #stats: LogStats = { appended: 0, acked: 0, ensembleChanges: [], checksumFailures: 0, readFallbacks: 0, dataPathErrors: [] };

  constructor(manager: BackendManagerApi, name: string, opts: ManagedLogOptions) {
    this.#m = manager;
    this.name = name;
    this.#opts = opts;
    const cfg = manager.config;
    this.#ackQuorum = opts.ackQuorum ?? cfg?.wal?.ackQuorum ?? 2;
    this.#deadlineMs = opts.writeDeadlineMs ?? 2000;
    this.#failoverMs = opts.failoverTimeoutMs ?? cfg?.failover?.failoverTimeoutMs ?? 30_000;
    this.#migrate = opts.enableDataMigration ?? cfg?.failover?.enableDataMigration ?? false;
    this.#maxBatch = opts.maxBatchEntries ?? 512;
    this.#writerId = opts.writerId ?? randomUUID();
    const segmentBytes = opts.segmentBytes ?? cfg?.wal?.segmentBytes ?? 64 * 1024 * 1024;
    this.#factory = opts.replicaFactory ?? ((b, n) => replicaFor(b, n, { segmentBytes }));
    this.#store = opts.metadataStore;
    this.#ownStore = !opts.metadataStore;
    this.#reader = new LogReader({
      name, manager, deadlineMs: this.#deadlineMs, factory: this.#factory, members: () => this.#members, meta: () => this.#meta,
      inFlight: (i) => this.#pending.find((p) => p.index === i && p.acked)?.payload, stats: this.#stats,
    });
    this.#onManagerActiveChanged = (e) => {
      this.#onActiveChanged(e?.current);
      const w = this.#wakers;
      this.#wakers = [];
      for (const f of w) f();
    };
    try {
      manager.on('active-changed', this.#onManagerActiveChanged);
    } catch { /* a manager without events: waiting falls back to polling */ }
  }

  /**
   * The manager moved the active set on its own (manual switch, reselection): members it dropped leave
   * the ensemble as if failed (without a report), and new actives join, through the same single CAS.
   */
  #onActiveChanged(current: string[] | undefined): void {
    if (!Array.isArray(current) || this.#closed || this.#fenced || !this.#meta) return;
    const ids = this.#members.map((m) => m.id);
    const same = ids.length === current.length && ids.every((id) => current.includes(id));
    if (same) return;
    for (const m of this.#members) if (!current.includes(m.id)) m.failed = true;
    this.#resync = true;
    if (this.#firstFailureAtMs === 0) this.#firstFailureAtMs = Date.now();
    this.#changeChain = this.#changeChain.then(() => this.#changeEnsemble()).catch((e) => this.#failAll(e));
  }

  #nextChange = (): Promise<void> => new Promise((r) => { this.#wakers.push(r); });

  async open(): Promise<void> {
    if (!this.#store) this.#store = await createMetadataStore(this.#m.config.wal.metadata);
    const r = await recoverLog({
      manager: this.#m, store: this.#store, name: this.name, ackQuorum: this.#ackQuorum, writerId: this.#writerId,
      deadlineMs: this.#deadlineMs, failoverTimeoutMs: this.#failoverMs, factory: this.#factory, nextChange: this.#nextChange,
    });
    this.#meta = r.meta;
    this.#version = r.version;
    this.#members = r.members;
    this.#lastAcked = r.lastIndex;
    this.#nextIndex = r.lastIndex + 1;
    for (const e of r.resend) {
      this.#pending.push({ index: e.index, payload: e.payload, acks: new Set(e.holders), acked: true, resolve: () => {}, reject: () => {} });
    }
    this.#pumpAll();
  }

  lastIndex(): number { return this.#lastAcked; }
  firstIndex(): number { return this.#meta.firstIndex; }
  members(): string[] { return this.#members.map((m) => m.id); }
  stats(): LogStats { return { ...this.#stats, ensembleChanges: [...this.#stats.ensembleChanges], dataPathErrors: [...this.#stats.dataPathErrors] }; }

  append(payload: Uint8Array): Promise<{ index: number }> {
    if (this.#closed) return Promise.reject(new XdbmError(ErrorCode.CLOSED, `log ${this.name} is closed`));
    if (this.#fenced) return Promise.reject(this.#fenced);
    return new Promise((resolve, reject) => {
      const index = this.#nextIndex++;
      this.#pending.push({ index, payload: Buffer.from(payload), acks: new Set(), acked: false, resolve, reject });
      this.#stats.appended++;
      if (this.#needsChange) {
        this.#needsChange = false;
        this.#resync = true;
        this.#changeChain = this.#changeChain.then(() => this.#changeEnsemble()).catch((e) => this.#failAll(e));
      }
      this.#pumpAll();
    });
  }

  #pumpAll(): void {
    for (const m of this.#members) void this.#pump(m);
  }

  async #pump(m: Member): Promise<void> {
    if (m.busy || m.failed || this.#closed || this.#fenced || this.#truncating) return;
    const batch: Pending[] = [];
    for (const p of this.#pending) {
      if (p.index <= m.durableUpTo) continue;
      if (p.index !== m.durableUpTo + 1 + batch.length || batch.length >= this.#maxBatch) break;
      batch.push(p);
    }
    if (batch.length === 0) return;
    m.busy = true;
    const t0 = process.hrtime.bigint();
    try {
      // One write per member at a time, and none at all to a member with an earlier operation still
      // hung past its deadline (it would only tie up another thread of the shared libuv pool).
      await withReplicaDeadline(m.replica, () => m.replica.append(batch.map((p) => ({ index: p.index, payload: p.payload }))),
        this.#deadlineMs, `append to ${m.id}`);
    } catch (e) {
      m.busy = false;
      this.#recordOp(m.id, t0, false, 0);
      if (this.#members.includes(m)) this.#memberFailed(m, e);
      return;
    }
    m.busy = false;
    this.#recordOp(m.id, t0, true, batch.reduce((n, p) => n + p.payload.length, 0));
    if (!this.#members.includes(m)) return;
    m.durableUpTo = batch.at(-1)!.index;
    for (const p of batch) p.acks.add(m.id);
    this.#progress();
    void this.#pump(m);
  }

  /** Feeds the manager's data-path statistics when it offers them (BackendManager.recordDataPathOp). */
  #recordOp(id: string, t0: bigint, ok: boolean, bytes: number): void {
    const rec = (this.#m as { recordDataPathOp?: (id: string, latencyUs: number, ok: boolean, bytes?: number) => void }).recordDataPathOp;
    if (typeof rec !== 'function') return;
    try { rec.call(this.#m, id, Number(process.hrtime.bigint() - t0) / 1000, ok, bytes); } catch { /* statistics only */ }
  }

  #memberFailed(m: Member, err: unknown): void {
    if (m.failed) return;
    m.failed = true;
    if (this.#firstFailureAtMs === 0) this.#firstFailureAtMs = Date.now();
    this.#stats.dataPathErrors.push({ endpointId: m.id, code: isXdbmError(err) ? err.code : ErrorCode.IO_ERROR, atMs: Date.now() });
    if (this.#stats.dataPathErrors.length > 100) this.#stats.dataPathErrors.shift();
    try { this.#m.reportDataPathError(m.id, err); } catch { /* the manager's problem, never the writer's */ }
    this.#changeChain = this.#changeChain.then(() => this.#changeEnsemble()).catch((e) => this.#failAll(e));
  }

  /** Acknowledges, in index order, the entries an ack quorum holds, after one fencing check per round. */
  #progress(): void {
    if (this.#ackRound || this.#changing || this.#ownCas || this.#truncating || this.#fenced) { this.#trim(); return; }
    const ready: Pending[] = [];
    for (const p of this.#pending) {
      if (p.acked) continue;
      if (p.acks.size < this.#ackQuorum) break;
      ready.push(p);
    }
    this.#trim();
    if (ready.length === 0) return;
    this.#ackRound = (async () => {
      try {
        await this.#assertOwner();
        for (const p of ready) {
          p.acked = true;
          this.#lastAcked = p.index;
          this.#stats.acked++;
          p.resolve({ index: p.index });
        }
      } catch (e) {
        this.#failAll(e);
      } finally {
        this.#ackRound = null;
      }
      this.#trim();
      this.#progress();
    })();
  }

  /** Drops acknowledged entries every current member holds: nothing left to re-send. */
  #trim(): void {
    const n = this.#members.length;
    let k = 0;
    while (k < this.#pending.length) {
      const p = this.#pending[k]!;
      if (!p.acked || p.acks.size < n) break;
      k++;
    }
    if (k > 0) this.#pending.splice(0, k);
  }

  /** Fencing check; a metadata store that does not answer is retried up to the failover timeout. */
  async #assertOwner(): Promise<void> {
    const end = Date.now() + this.#failoverMs;
    for (;;) {
      try {
        return await this.#checkOwner();
      } catch (e) {
        if (isXdbmError(e, ErrorCode.FENCED) || Date.now() >= end || this.#closed) throw e;
        await sleepMs(50);
      }
    }
  }

  async #checkOwner(): Promise<void> {
    // A version of our own seen when the check started still proves ownership at the time of the read,
    // even if our own CAS completed (and moved #version on) while the read was under way.
    const started = this.#version;
    let cur = await withDeadline(this.#store!.get(this.name), this.#deadlineMs, `metadata check of ${this.name}`);
    // Our own CAS may have landed in the store before its new version reached #version: wait for its
    // outcome and check again, so the log's own metadata update never looks like another writer's.
    while ((!cur || (cur.version !== this.#version && cur.version !== started)) && this.#ownCas) {
      await this.#ownCas.catch(() => undefined);
      cur = await withDeadline(this.#store!.get(this.name), this.#deadlineMs, `metadata check of ${this.name}`);
    }
    if (!cur || (cur.version !== this.#version && cur.version !== started)) {
      const e = new XdbmError(ErrorCode.FENCED, `log ${this.name}: another writer (${cur?.meta.writerId ?? 'none'}) holds it now`, {
        details: { logName: this.name, writerId: this.#writerId, expectedVersion: this.#version, actualVersion: cur?.version ?? 0 },
      });
      this.#fenced = e;
      throw e;
    }
  }

  #failAll(e: unknown): void {
    const err = isXdbmError(e) ? e : new XdbmError(ErrorCode.IO_ERROR, String((e as Error)?.message ?? e), { cause: e });
    if (err.code === ErrorCode.FENCED || err.code === ErrorCode.CAS_CONFLICT) {
      this.#fenced = err.code === ErrorCode.FENCED ? err : new XdbmError(ErrorCode.FENCED, `log ${this.name} fenced: ${err.message}`, { cause: err });
    }
    const failed = this.#pending.filter((p) => !p.acked);
    this.#pending = this.#pending.filter((p) => p.acked);
    // Indexes of failed appends are given back, so later appends stay dense.
    if (failed.length > 0) {
      this.#nextIndex = failed[0]!.index;
      // Those indexes will carry other payloads: no member may count them as already written.
      for (const m of this.#members) m.durableUpTo = Math.min(m.durableUpTo, this.#nextIndex - 1);
      if (!this.#fenced && !this.#closed) this.#needsChange = true;
    }
    for (const p of failed) p.reject(this.#fenced ?? err);
  }

  async #changeEnsemble(): Promise<void> {
    if (this.#closed || this.#fenced || (!this.#resync && !this.#members.some((m) => m.failed))) return;
    this.#resync = false;
    let next: Member[];
    for (;;) {
      const failedIds = this.#members.filter((m) => m.failed).map((m) => m.id);
      const survivors = this.#members.filter((m) => !m.failed);
      next = await waitForEnsemble({
        manager: this.#m, logName: this.name, exclude: new Set(failedIds), keep: survivors, ackQuorum: this.#ackQuorum,
        timeoutMs: this.#failoverMs, deadlineMs: this.#deadlineMs, factory: this.#factory, isClosed: () => this.#closed,
        nextChange: this.#nextChange,
      });
      // A survivor that failed while we waited: wait again without it.
      if (!next.some((m) => m.failed)) break;
      for (const m of next) if (!this.#members.includes(m)) void m.replica.close().catch(() => undefined);
    }
    if (this.#closed) return;
    if (next.length === this.#members.length && next.every((m) => this.#members.includes(m))) return;
    // Pause acknowledgements for the CAS round trip only.
    this.#changing = true;
    try {
      while (this.#ackRound) await this.#ackRound;
      if (this.#fenced) return;
      const members = next;
      let firstIndex = this.#lastAcked + 1;
      if (this.#migrate) {
        const under = this.#pending.find((p) => p.acks.size < members.length || members.some((m) => !p.acks.has(m.id)));
        if (under) firstIndex = Math.min(firstIndex, under.index);
      }
      const meta = withNewEpoch(this.#meta, firstIndex, members.map((m) => m.id), this.#writerId);
      try {
        this.#version = await this.#ownCompareAndSet(meta);
      } catch (e) {
        if (isXdbmError(e, ErrorCode.CAS_CONFLICT)) throw new XdbmError(ErrorCode.FENCED, `log ${this.name}: ensemble change lost the CAS`, { cause: e });
        throw e;
      }
      this.#meta = meta;
      const ids = new Set(members.map((m) => m.id));
      const removed = this.#members.filter((m) => !ids.has(m.id));
      const added = members.filter((m) => !this.#members.includes(m));
      for (const m of added) m.durableUpTo = firstIndex - 1;
      this.#pending = this.#pending.filter((p) => p.index >= firstIndex);
      for (const p of this.#pending) for (const id of [...p.acks]) if (!ids.has(id)) p.acks.delete(id);
      this.#members = members;
      for (const m of removed) void withDeadline(m.replica.close(), this.#deadlineMs, 'close').catch(() => undefined);
      const epoch = lastEpoch(meta).epoch;
      this.#stats.ensembleChanges.push({
        epoch, firstIndex, removed: removed.map((m) => m.id), added: added.map((m) => m.id),
        durationMs: this.#firstFailureAtMs ? Date.now() - this.#firstFailureAtMs : 0, atMs: Date.now(),
      });
      this.#firstFailureAtMs = 0;
    } finally {
      this.#changing = false;
    }
    this.#pumpAll();
    this.#progress();
    // A member that failed while we were switching gets its own round.
    if (this.#members.some((m) => m.failed)) {
      this.#changeChain = this.#changeChain.then(() => this.#changeEnsemble()).catch((e) => this.#failAll(e));
    }
  }

  async read(index: number): Promise<Buffer> {
    if (this.#closed) throw new XdbmError(ErrorCode.CLOSED, `log ${this.name} is closed`);
    if (!Number.isSafeInteger(index) || index < this.#meta.firstIndex || index > this.#lastAcked) {
      throw new XdbmError(ErrorCode.ENTRY_NOT_FOUND, `index ${index} is outside [${this.#meta.firstIndex}, ${this.#lastAcked}] of ${this.name}`, { details: { index } });
    }
    return this.#reader.read(index);
  }

  /** Runs `fn` in line with ensemble changes (one metadata change at a time). */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#changeChain.then(fn);
    this.#changeChain = run.then(() => undefined, () => undefined);
    return run;
  }

  #assertUsable(): void {
    if (this.#closed) throw new XdbmError(ErrorCode.CLOSED, `log ${this.name} is closed`);
    if (this.#fenced) throw this.#fenced;
  }

  /**
   * Drops [fromIndex, lastIndex]. Appends may keep arriving: writes to members and acknowledgements are
   * held while the cut is made, and appends not yet acknowledged are renumbered to follow the cut
   * (their promises have not resolved, so no caller has seen the old index).
   */
  async truncateSuffix(fromIndex: number): Promise<void> {
    this.#assertUsable();
    await this.#exclusive(async () => {
      this.#assertUsable();
      this.#truncating = true;
      try {
        // No write in flight to any member, no acknowledgement round running.
        while (this.#ackRound || this.#members.some((m) => m.busy)) {
          if (this.#ackRound) await this.#ackRound;
          else await sleepMs(1);
        }
        this.#assertUsable();
        if (fromIndex > this.#lastAcked) return;
        const from = Math.max(fromIndex, this.#meta.firstIndex);
        // Data first, then history: a crash in between leaves a shorter log, never stale entries in a new epoch.
        for (const m of this.#members) {
          if (m.failed) continue;
          await withDeadline(m.replica.truncateSuffix(from), this.#deadlineMs, `truncate ${m.id}`).catch((e) => this.#memberFailed(m, e));
        }
        const meta = withNewEpoch(this.#meta, from, this.#members.map((m) => m.id), this.#writerId);
        await this.#casOrFence(meta);
        this.#meta = meta;
        const kept = this.#pending.filter((p) => p.acked && p.index < from);
        const waiting = this.#pending.filter((p) => !p.acked);
        waiting.forEach((p, k) => { p.index = from + k; p.acks.clear(); });
        this.#pending = [...kept, ...waiting];
        for (const m of this.#members) m.durableUpTo = Math.min(m.durableUpTo, from - 1);
        this.#lastAcked = from - 1;
        this.#nextIndex = from + waiting.length;
      } finally {
        this.#truncating = false;
        this.#pumpAll();
        this.#progress();
      }
    });
  }

  /** Raises the first index; appends and their acknowledgements go on (held only for the CAS itself). */
  async truncatePrefix(beforeIndex: number): Promise<void> {
    this.#assertUsable();
    const meta = await this.#exclusive(async () => {
      this.#assertUsable();
      const next = withPrefixTruncated(this.#meta, Math.min(beforeIndex, this.#lastAcked + 1));
      await this.#casOrFence(next);
      this.#meta = next;
      return next;
    });
    for (const m of this.#members) {
      await withDeadline(m.replica.truncatePrefix(meta.firstIndex), this.#deadlineMs, `truncate ${m.id}`).catch(() => undefined);
    }
  }

  /**
   * Every metadata CAS of this log goes through here (and runs on #changeChain, one at a time): while it
   * is in flight, acknowledgements wait, and #version is updated before they may run again.
   */
  async #ownCompareAndSet(meta: LogMetadata): Promise<number> {
    while (this.#ownCas) await this.#ownCas.catch(() => undefined);
    const cas = this.#store!.compareAndSet(this.name, meta, this.#version);
    const done = cas.then((v) => { this.#version = v; }, () => undefined);
    this.#ownCas = done;
    try {
      return await cas;
    } finally {
      await done;
      if (this.#ownCas === done) this.#ownCas = null;
      // Acknowledgements held back by the CAS may go on now (synchronously checked again by #progress).
      queueMicrotask(() => this.#progress());
    }
  }

  async #casOrFence(meta: LogMetadata): Promise<number> {
    try {
      return await this.#ownCompareAndSet(meta);
    } catch (e) {
      if (isXdbmError(e, ErrorCode.CAS_CONFLICT)) {
        this.#fenced = new XdbmError(ErrorCode.FENCED, `log ${this.name}: another writer changed its metadata`, { cause: e });
        throw this.#fenced;
      }
      throw e;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Graceful: give in-flight writes and re-sends one write deadline to reach every member.
    const end = Date.now() + this.#deadlineMs;
    while (!this.#fenced && this.#pending.length > 0 && Date.now() < end) await sleepMs(2);
    this.#closed = true;
    try {
      this.#m.off?.('active-changed', this.#onManagerActiveChanged);
    } catch { /* a manager without events */ }
    this.#failAll(new XdbmError(ErrorCode.CLOSED, `log ${this.name} closed`));
    await Promise.all(this.#members.map((m) => withDeadline(m.replica.close(), this.#deadlineMs, 'close').catch(() => undefined)));
    await this.#reader.close();
    if (this.#ownStore) await this.#store?.close();
  }
}
