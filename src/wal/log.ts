/**
 * The replicated write-ahead log over the manager's active set (BookKeeper ledger semantics on
 * storage that cannot refuse a write by itself).
 *
 * INVARIANTS (every test and the simulator in test/sim check them):
 *   1. An acknowledged entry reads back byte-identical after any sequence of member faults, writer
 *      crashes, writer pauses, reopens (on any members) and metadata-store outages, as long as at
 *      least ackQuorum copies of it were never destroyed.
 *   2. An index is never handed out twice with different payloads: within one epoch an index is
 *      written with one payload only, and an index given back (failed appends, a suffix truncation)
 *      is reused only in a new epoch, whose range the metadata makes the only trusted one.
 *   3. Recovery never destroys the last copies of acknowledged data: it truncates nothing, copies the
 *      recovered tail to the new ensemble and makes it durable first, and only then records the new
 *      epoch (recovery.ts).
 *   4. A fenced writer can never make an entry of the new writer unreadable: every copy carries the
 *      epoch of its writer, the new writer writes only copies of its own epoch, readers trust a copy
 *      only for the range the metadata gives it, and the storage-side fence makes the old writer's
 *      appends fail before it can count them (member-log.ts M3).
 *   5. A member that is missing, unmounted or unreadable is unreachable, never an empty member, and
 *      nothing is created in its place: the log's directory on a member is created only when the
 *      member joins an ensemble, under a root that exists (members.ts, file-member.ts).
 *   6. Missing or unreadable metadata while members hold data is refused (XDBM_LOG_CORRUPT), never
 *      a fresh log (recovery.ts).
 *
 * Write path: the write quorum is every member of the current epoch; an append resolves once ackQuorum
 * members have it durable, in index order, with no metadata read. A failed or timed-out member is
 * reported to the manager at once (even after the quorum was met, BookKeeper #1591); the survivors
 * keep acknowledging while the manager picks a replacement; then one CAS records a new epoch from
 * lastAcked+1, sealing the old one on its members that hold all of it, and the entries not yet
 * acknowledged are re-sent to the new ensemble. Ensemble changes and truncations run one at a time.
 *
 * Phases (LogPhase) and their transitions are the table below; nothing else says what the log may do.
 */
import { randomUUID } from 'node:crypto';
import type { StorageBackend } from '../backends/backend.js';
import { ErrorCode, XdbmError, isXdbmError } from '../errors.js';
import type { BackendManagerApi } from '../manager-api.js';
import { realClock, sleep, type Clock } from './clock.js';
import { claimedEpoch, lastEpoch, withNewEpoch, withPrefixTruncated } from './ensemble-history.js';
import { payloadDigest, type HistorySink } from './history.js';
import { withMemberDeadline } from './io-deadline.js';
import { LogReader } from './log-reader.js';
import type { EnsembleChange, LogPhase, LogStats, ManagedLog, ManagedLogOptions } from './log-types.js';
import { defaultMemberFactory } from './member-factory.js';
import { chooseEnsemble, MemberPool, type Member } from './members.js';
import { createMetadataStore } from './metadata/index.js';
import type { LogMetadata, MetadataStore } from './metadata/types.js';
import { MetadataWriter } from './metadata-writer.js';
import { recoverLog } from './recovery.js';
import { Rereplicator } from './rereplication.js';

export type { EnsembleChange, LogStats, ManagedLog, ManagedLogOptions } from './log-types.js';

const TRANSITIONS: Record<LogPhase, readonly LogPhase[]> = {
  /** recovery running; nothing is accepted yet */
  opening: ['writing', 'fenced', 'closed'],
  /** appends are written and acknowledged */
  writing: ['changing', 'stalled', 'fenced', 'closed'],
  /** a new ensemble is being prepared; survivors keep acknowledging meanwhile */
  changing: ['writing', 'stalled', 'fenced', 'closed'],
  /** no usable ensemble (quorum lost, metadata unavailable): appends wait for the next change */
  stalled: ['changing', 'writing', 'fenced', 'closed'],
  /** another writer holds the log: everything fails with XDBM_FENCED */
  fenced: ['closed'],
  closed: [],
};

interface Pending {
  index: number;
  payload: Buffer;
  /** Members of the current epoch that have it durable. */
  acks: Set<string>;
  acked: boolean;
  resolve: (v: { index: number }) => void;
  reject: (e: unknown) => void;
}

export async function openManagedLog(manager: BackendManagerApi, name: string, opts: ManagedLogOptions = {}): Promise<ManagedLog> {
  const log = new ReplicatedLog(manager, name, opts);
  await log.open();
  return log;
}

export class ReplicatedLog implements ManagedLog {
  readonly name: string;
  readonly #m: BackendManagerApi;
  readonly #clock: Clock;
  readonly #ackQuorum: number;
  readonly #deadlineMs: number;
  readonly #failoverMs: number;
  readonly #maxBatchEntries: number;
  readonly #maxBatchBytes: number;
  readonly #writerId: string;
  readonly #ownStore: boolean;
  readonly #history?: HistorySink;
  readonly #pool: MemberPool;
  readonly #reader: LogReader;
  readonly #rereplicator: Rereplicator;
  #store?: MetadataStore;
  #phase: LogPhase = 'opening';
  /** Set by open(): every metadata change of this writer goes through it. */
  #mw!: MetadataWriter;
  /** The current epoch (K): members write copy {K, K}. */
  #epoch = 0;
  /** The epoch claimed at open (every copy this writer makes has by >= it). */
  #openEpoch = 0;
  #members: Member[] = [];
  #pending: Pending[] = [];
  #nextIndex = 1;
  #lastAcked = 0;
  /** A metadata CAS of this writer is in flight: acknowledgements wait for its outcome. */
  #recording = false;
  /** Indexes were given back (failed appends): the next writes need a new epoch first (invariant 2). */
  #needsNewEpoch = false;
  #fencedBy: XdbmError | null = null;
  #firstFailureAtMs = 0;
  /** When an ensemble change first failed to be recorded (metadata store unavailable), 0 if none. */
  #unrecordedSinceMs = 0;
  #chain: Promise<void> = Promise.resolve();
  #changeQueued = false;
  #wakers: (() => void)[] = [];
  #drained: (() => void)[] = [];
  /** Waiters for the next member write to finish (#catchUp). */
  #writeDone: (() => void)[] = [];
  /** close() has begun: no new appends or truncations; what is in flight drains. */
  #closeRequested = false;
  readonly #onActiveChanged: (e: { current?: string[] } | undefined) => void;
  readonly #stats: LogStats = {
    phase: 'opening', epoch: 0, appended: 0, acked: 0, ensembleChanges: [], checksumFailures: 0, readFallbacks: 0, dataPathErrors: [],
    underReplicatedEntries: 0, rereplicatedEntries: 0, damagedRecords: 0,
  };

  constructor(manager: BackendManagerApi, name: string, opts: ManagedLogOptions) {
    this.#m = manager;
    this.name = name;
    const cfg = manager.config;
    this.#clock = opts.clock ?? realClock;
    this.#ackQuorum = opts.ackQuorum ?? cfg?.wal?.ackQuorum ?? 2;
    this.#deadlineMs = opts.writeDeadlineMs ?? 2000;
    this.#failoverMs = opts.failoverTimeoutMs ?? cfg?.failover?.failoverTimeoutMs ?? 30_000;
    this.#maxBatchEntries = opts.maxBatchEntries ?? 512;
    this.#maxBatchBytes = opts.maxBatchBytes ?? 4 * 1024 * 1024;
    this.#writerId = opts.writerId ?? randomUUID();
    this.#history = opts.history;
    const segmentBytes = opts.segmentBytes ?? cfg?.wal?.segmentBytes ?? 64 * 1024 * 1024;
    const factory = opts.memberFactory ?? defaultMemberFactory({ segmentBytes, maxBatchBytes: this.#maxBatchBytes });
    this.#store = opts.metadataStore;
    this.#ownStore = !opts.metadataStore;
    this.#pool = new MemberPool({ name, manager, factory, deadlineMs: this.#deadlineMs, openDeadlineMs: Math.max(this.#deadlineMs, this.#failoverMs), clock: this.#clock });
    this.#reader = new LogReader({
      name, clock: this.#clock, deadlineMs: this.#deadlineMs, pool: this.#pool, stats: this.#stats,
      meta: () => this.#mw.meta, members: () => this.#members, lastIndex: () => this.#lastAcked,
      inMemory: (i) => this.#pending.find((p) => p.index === i && p.acked)?.payload,
    });
    this.#rereplicator = new Rereplicator({
      name, manager, clock: this.#clock, deadlineMs: this.#deadlineMs, pool: this.#pool, reader: this.#reader, stats: this.#stats,
      ackQuorum: this.#ackQuorum, intervalMs: opts.rereplicateIntervalMs ?? 1000, chunkEntries: opts.rereplicateChunkEntries ?? 256,
      meta: () => this.#mw.meta, lastIndex: () => this.#lastAcked, members: () => this.#members, epoch: () => this.#epoch,
      openEpoch: () => this.#openEpoch,
      // Copies may go on while an ensemble change is prepared (the record itself waits on the chain).
      usable: () => this.#phase === 'writing' || this.#phase === 'changing' || this.#phase === 'stalled',
      record: (build) => this.#exclusive(async () => {
        try { await this.#commit(build); } finally { this.#progress(); }
      }),
    });
    this.#onActiveChanged = (e) => {
      const w = this.#wakers;
      this.#wakers = [];
      for (const f of w) f();
      this.#followManager(e?.current);
    };
    manager.on('active-changed', this.#onActiveChanged);
  }

  // ---- phases ----------------------------------------------------------------------------------

  #to(next: LogPhase): void {
    if (this.#phase === next) return;
    if (!TRANSITIONS[this.#phase].includes(next)) {
      throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `log ${this.name}: no transition ${this.#phase} -> ${next}`);
    }
    this.#phase = next;
    this.#stats.phase = next;
  }

  get phase(): LogPhase { return this.#phase; }

  // ---- open ------------------------------------------------------------------------------------

  async open(): Promise<void> {
    const t0 = this.#clock.nowMs();
    this.#history?.record({ type: 'invoke', f: 'open', process: this.#writerId, timeMs: t0 });
    try {
      if (!this.#store) this.#store = await createMetadataStore(this.#m.config.wal.metadata);
      const r = await recoverLog({
        manager: this.#m, store: this.#store, pool: this.#pool, name: this.name, ackQuorum: this.#ackQuorum, writerId: this.#writerId,
        deadlineMs: this.#deadlineMs, failoverTimeoutMs: this.#failoverMs, maxBatchEntries: this.#maxBatchEntries, clock: this.#clock,
        nextChange: this.#nextChange,
      });
      this.#mw = new MetadataWriter({
        name: this.name, store: this.#store, clock: this.#clock, deadlineMs: this.#deadlineMs, meta: r.meta, version: r.version,
        isClosed: () => this.#phase === 'closed', onFenced: (e) => this.#fence(e), onSlow: (ms, cause) => this.#onMetadataSlow(ms, cause),
      });
      this.#epoch = r.epoch;
      this.#openEpoch = r.epoch;
      this.#stats.epoch = r.epoch;
      this.#members = r.members;
      this.#lastAcked = r.lastIndex;
      this.#nextIndex = r.lastIndex + 1;
    } catch (e) {
      this.#history?.record({ type: 'fail', f: 'open', process: this.#writerId, timeMs: this.#clock.nowMs(), error: isXdbmError(e) ? e.code : String(e) });
      this.#m.off('active-changed', this.#onActiveChanged);
      await this.#pool.close();
      if (this.#ownStore) await this.#store?.close().catch(() => undefined);
      this.#phase = 'closed';
      throw e;
    }
    this.#history?.record({ type: 'ok', f: 'open', process: this.#writerId, timeMs: this.#clock.nowMs(), index: this.#lastAcked });
    this.#to('writing');
    this.#rereplicator.start();
    this.#rereplicator.collectGarbage();
    // The manager may have moved its actives while we recovered.
    this.#followManager(this.#m.getActiveStorage().map((b) => b.endpointId));
  }

  // ---- public surface --------------------------------------------------------------------------

  lastIndex(): number { return this.#lastAcked; }
  firstIndex(): number { return this.#mw.meta.firstIndex; }
  members(): string[] { return this.#members.map((m) => m.id); }
  stats(): LogStats {
    return { ...this.#stats, ensembleChanges: [...this.#stats.ensembleChanges], dataPathErrors: [...this.#stats.dataPathErrors] };
  }
  /** Runs a re-replication pass now (a drain waits for it). */
  rereplicateNow(): void { this.#rereplicator.kick(); }

  /** The metadata as this writer last recorded it (operations, tests). */
  metadata(): LogMetadata { return this.#mw.meta; }

  append(payload: Uint8Array): Promise<{ index: number }> {
    const bad = this.#unusable();
    if (bad) return Promise.reject(bad);
    const buf = Buffer.from(payload);
    return new Promise((resolve, reject) => {
      const index = this.#nextIndex++;
      const p: Pending = { index, payload: buf, acks: new Set(), acked: false, resolve, reject };
      if (this.#history) {
        const d = payloadDigest(buf);
        const h = this.#history;
        const proc = this.#writerId;
        h.record({ type: 'invoke', f: 'append', process: proc, timeMs: this.#clock.nowMs(), index, ...d });
        p.resolve = (v) => { h.record({ type: 'ok', f: 'append', process: proc, timeMs: this.#clock.nowMs(), index: v.index, ...d }); resolve(v); };
        p.reject = (e) => {
          // A write that may have reached members before the failure has an unknown outcome (info).
          h.record({ type: isXdbmError(e, ErrorCode.CLOSED) && p.acks.size === 0 ? 'fail' : 'info', f: 'append', process: proc, timeMs: this.#clock.nowMs(), index: p.index, ...d, error: isXdbmError(e) ? e.code : String(e) });
          reject(e);
        };
      }
      this.#pending.push(p);
      this.#stats.appended++;
      if (this.#needsNewEpoch || this.#phase === 'stalled') this.#scheduleChange('appends after a lost quorum');
      else this.#pumpAll();
    });
  }

  async read(index: number): Promise<Buffer> {
    // A fenced writer's view may be stale (the new writer may have cut and rewritten indexes): no reads.
    const bad = this.#phase === 'closed' ? new XdbmError(ErrorCode.CLOSED, `log ${this.name} is closed`) : this.#fencedBy;
    if (bad) throw bad;
    if (!Number.isSafeInteger(index) || index < this.#mw.meta.firstIndex || index > this.#lastAcked) {
      throw new XdbmError(ErrorCode.ENTRY_NOT_FOUND, `index ${index} is outside [${this.#mw.meta.firstIndex}, ${this.#lastAcked}] of ${this.name}`, { details: { index } });
    }
    const t0 = this.#clock.nowMs();
    this.#history?.record({ type: 'invoke', f: 'read', process: this.#writerId, timeMs: t0, index });
    try {
      const buf = await this.#reader.read(index);
      this.#history?.record({ type: 'ok', f: 'read', process: this.#writerId, timeMs: this.#clock.nowMs(), index, ...payloadDigest(buf) });
      return buf;
    } catch (e) {
      this.#history?.record({ type: 'fail', f: 'read', process: this.#writerId, timeMs: this.#clock.nowMs(), index, error: isXdbmError(e) ? e.code : String(e) });
      throw e;
    }
  }

  // ---- write path ------------------------------------------------------------------------------

  #unusable(): XdbmError | null {
    if (this.#phase === 'closed' || this.#phase === 'opening') return new XdbmError(ErrorCode.CLOSED, `log ${this.name} is ${this.#phase === 'closed' ? 'closed' : 'not open yet'}`);
    if (this.#closeRequested) return new XdbmError(ErrorCode.CLOSED, `log ${this.name} is closing`);
    if (this.#fencedBy) return this.#fencedBy;
    return null;
  }

  #pumpAll(): void {
    for (const m of this.#members) this.#track(this.#pump(m));
  }

  /** Member I/O this writer started: close() waits for it (bounded), so nothing runs after close. */
  readonly #inflight = new Set<Promise<unknown>>();
  #track(p: Promise<unknown>): void {
    const t = p.then(() => undefined, () => undefined);
    this.#inflight.add(t);
    void t.then(() => this.#inflight.delete(t));
  }

  async #pump(m: Member): Promise<void> {
    if (m.busy || m.failed || this.#needsNewEpoch || (this.#phase !== 'writing' && this.#phase !== 'changing')) return;
    const batch: Pending[] = [];
    let bytes = 0;
    for (const p of this.#pending) {
      if (p.index <= m.durableUpTo) continue;
      if (p.index !== m.durableUpTo + 1 + batch.length || batch.length >= this.#maxBatchEntries) break;
      if (batch.length > 0 && bytes + p.payload.length > this.#maxBatchBytes) break;
      batch.push(p);
      bytes += p.payload.length;
    }
    if (batch.length === 0) return;
    m.busy = true;
    const epoch = this.#epoch;
    const t0 = process.hrtime.bigint();
    const wake = (): void => { for (const f of this.#writeDone.splice(0)) f(); };
    try {
      await withMemberDeadline(this.#clock, m.log, () => m.log.append(m.copy, batch.map((p) => ({ index: p.index, payload: p.payload }))),
        this.#deadlineMs, `append to ${m.id}`);
    } catch (e) {
      m.busy = false;
      this.#recordOp(m.id, t0, false, 0);
      queueMicrotask(wake);
      if (isXdbmError(e, ErrorCode.FENCED)) { this.#fence(e); return; }
      if (this.#members.includes(m) && this.#epoch === epoch) this.#memberFailed(m, e);
      return;
    }
    m.busy = false;
    this.#recordOp(m.id, t0, true, bytes);
    // A write of an earlier epoch (the ensemble changed while it was in flight) acknowledges nothing.
    if (!this.#members.includes(m) || this.#epoch !== epoch || m.failed) return;
    m.durableUpTo = batch.at(-1)!.index;
    for (const p of batch) p.acks.add(m.id);
    queueMicrotask(wake);
    this.#progress();
    this.#track(this.#pump(m));
  }

  #recordOp(id: string, t0: bigint, ok: boolean, bytes: number): void {
    try { this.#m.recordDataPathOp(id, Number(process.hrtime.bigint() - t0) / 1000, ok, bytes); } catch { /* statistics only */ }
  }

  /** Acknowledges, in index order, what ackQuorum members of the current epoch hold. */
  #progress(): void {
    if (!this.#recording && !this.#fencedBy && (this.#phase === 'writing' || this.#phase === 'changing')) {
      for (const p of this.#pending) {
        if (p.acked) continue;
        if (p.acks.size < this.#ackQuorum) break;
        p.acked = true;
        this.#lastAcked = p.index;
        this.#stats.acked++;
        p.resolve({ index: p.index });
      }
    }
    this.#trim();
  }

  /** Drops acknowledged entries every current member holds: nothing left to re-send. */
  #trim(): void {
    const live = this.#members.filter((m) => !m.failed);
    let k = 0;
    while (k < this.#pending.length) {
      const p = this.#pending[k]!;
      if (!p.acked || live.some((m) => m.durableUpTo < p.index)) break;
      k++;
    }
    if (k > 0) this.#pending.splice(0, k);
    if (this.#pending.length === 0) {
      const d = this.#drained;
      this.#drained = [];
      for (const f of d) f();
    }
  }

  #memberFailed(m: Member, err: unknown): void {
    if (m.failed) return;
    m.failed = true;
    const now = this.#clock.nowMs();
    if (this.#firstFailureAtMs === 0) this.#firstFailureAtMs = now;
    this.#stats.dataPathErrors.push({ endpointId: m.id, code: isXdbmError(err) ? err.code : ErrorCode.IO_ERROR, atMs: now });
    if (this.#stats.dataPathErrors.length > 100) this.#stats.dataPathErrors.shift();
    try { this.#m.reportDataPathError(m.id, err); } catch { /* the manager's problem, never the writer's */ }
    this.#scheduleChange(`member ${m.id} failed`);
  }

  /** The manager moved its actives on its own (manual switch, reselection, config): follow it. */
  #followManager(current: string[] | undefined): void {
    if (!Array.isArray(current) || (this.#phase !== 'writing' && this.#phase !== 'changing')) return;
    const ids = this.#members.filter((m) => !m.failed).map((m) => m.id);
    if (ids.length === current.length && ids.every((id) => current.includes(id))) return;
    this.#scheduleChange('active set changed');
  }

  #nextChange = (): Promise<void> => new Promise((r) => { this.#wakers.push(r); });

  /** One ensemble change queued at a time; it runs on the chain after what is already there. */
  #scheduleChange(_why: string): void {
    if (this.#changeQueued || this.#fencedBy || this.#phase === 'closed' || this.#phase === 'opening') return;
    this.#changeQueued = true;
    void this.#exclusive(async () => {
      this.#changeQueued = false;
      await this.#changeEnsemble();
    }).catch(() => undefined);
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn);
    this.#chain = run.then(() => undefined, () => undefined);
    return run;
  }

  async #changeEnsemble(): Promise<void> {
    if (this.#fencedBy || this.#phase === 'closed') return;
    const failed = new Set(this.#members.filter((m) => m.failed).map((m) => m.id));
    const active = this.#m.getActiveStorage().map((b) => b.endpointId);
    const same = !this.#needsNewEpoch && failed.size === 0 && this.#members.length === active.length && this.#members.every((m) => active.includes(m.id));
    if (same) {
      // Back to the ensemble we have (a change that could not be made, then the manager returned to
      // it): nothing was given back, so writing goes on in the current epoch.
      if (this.#phase === 'stalled' || this.#phase === 'changing') { this.#to('writing'); this.#pumpAll(); this.#progress(); }
      return;
    }
    // A writer replaced without knowing it yet learns it here, before it touches any member.
    try {
      await this.#mw.probe();
    } catch (e) {
      if (!isXdbmError(e, ErrorCode.FENCED)) this.#changeNotRecorded(e, 'ensemble');
      return;
    }
    this.#to('changing');
    const K = claimedEpoch(this.#mw.meta) + 1;
    let next: Member[];
    try {
      next = await chooseEnsemble({
        manager: this.#m, pool: this.#pool, logName: this.name, copy: { epoch: K, by: K }, exclude: new Set(failed), ackQuorum: this.#ackQuorum,
        timeoutMs: this.#failoverMs, deadlineMs: this.#deadlineMs, clock: this.#clock, isClosed: () => this.#phase === 'closed',
        nextChange: this.#nextChange,
      });
    } catch (e) {
      if (isXdbmError(e, ErrorCode.FENCED)) { this.#fence(e); return; }
      this.#stall(e);
      return;
    }
    // A member that failed while we waited is not taken.
    next = next.filter((n) => !this.#members.some((m) => m.id === n.id && m.failed));
    if (next.length < this.#ackQuorum) { this.#scheduleChange('members failed during the change'); return; }
    await this.#switchTo(next, K, null, 'ensemble');
  }

  /**
   * Records epoch K from index F on `next` (one CAS, acknowledgements held meanwhile), sealing the
   * epoch that holds F-1 on its members that have all of it (an acknowledged index is on ackQuorum
   * members, and members write in order, so at least ackQuorum do), then re-sends what is pending.
   */
  async #switchTo(next: Member[], K: number, firstIndex: number | null, kind: 'ensemble' | 'truncate', beforeResume?: () => void): Promise<void> {
    // F is fixed when acknowledgements stop (inside #commit), so nothing is acknowledged in the old
    // epoch at or above it.
    let F = 0;
    let previous: Member[] = [];
    /** Set when acknowledged entries move into the new epoch (see #moveTail): the first of them. */
    let moved: number | null = null;
    try {
      await this.#commit(() => {
        F = moved ?? firstIndex ?? this.#lastAcked + 1;
        const cur = lastEpoch(this.#mw.meta);
        let base = this.#mw.meta;
        if (cur.firstIndex <= F - 1 && cur.epoch === this.#epoch) {
          const complete = this.#members.filter((m) => m.durableUpTo >= F - 1).map((m) => m.id);
          base = { ...base, epochs: base.epochs.map((e) => (e.epoch === cur.epoch ? { ...e, members: complete } : e)) };
        }
        return withNewEpoch(base, F, next.map((m) => m.id), K, this.#writerId);
      }, () => {
        this.#unrecordedSinceMs = 0;
        this.#epoch = K;
        this.#stats.epoch = K;
        this.#needsNewEpoch = false;
        // Members that took the moved tail hold it in the new epoch already.
        for (const m of next) { m.durableUpTo = moved !== null ? this.#lastAcked : F - 1; m.busy = false; }
        this.#pending = this.#pending.filter((p) => p.index >= F);
        for (const p of this.#pending) p.acks.clear();
        previous = this.#members;
        this.#members = next;
        beforeResume?.();
      }, async () => {
        await this.#catchUp(firstIndex === null ? this.#lastAcked : firstIndex - 1);
        if (firstIndex === null) moved = await this.#moveTail(next);
      });
    } catch (e) {
      if (isXdbmError(e, ErrorCode.FENCED) || isXdbmError(e, ErrorCode.CLOSED)) return;
      this.#changeNotRecorded(e, kind);
      return;
    }
    const ids = new Set(next.map((m) => m.id));
    const removed = previous.filter((m) => !ids.has(m.id));
    const added = next.filter((n) => !previous.some((m) => m.id === n.id));
    if (kind === 'ensemble') {
      const now = this.#clock.nowMs();
      this.#stats.ensembleChanges.push({
        epoch: K, firstIndex: F, removed: removed.map((m) => m.id), added: added.map((m) => m.id),
        durationMs: this.#firstFailureAtMs ? now - this.#firstFailureAtMs : 0, atMs: now,
      });
      if (this.#stats.ensembleChanges.length > 100) this.#stats.ensembleChanges.shift();
      this.#firstFailureAtMs = 0;
    }
    if (this.#phase === 'stalled') this.#to('changing');
    this.#to('writing');
    this.#pumpAll();
    this.#progress();
    this.#rereplicator.kick();
    // The manager may have moved again, or a member failed while we recorded.
    if (this.#members.some((m) => m.failed)) this.#scheduleChange('a member failed during the change');
    else this.#followManager(this.#m.getActiveStorage().map((b) => b.endpointId));
  }

  /**
   * The store did not answer, so the change was not sent: the ensemble stays as it is. Survivors that
   * still make a quorum keep acknowledging and the change is tried again shortly (BookKeeper: no
   * ensemble change without metadata). Without a quorum the log stalls, and appends that cannot be
   * acknowledged fail after the failover timeout (their indexes are reused only in a new epoch).
   */
  #changeNotRecorded(e: unknown, kind: 'ensemble' | 'truncate'): void {
    // A truncation that could not be recorded changed nothing: its caller gets the error.
    if (kind === 'truncate') return;
    const now = this.#clock.nowMs();
    const usable = this.#liveCount() >= this.#ackQuorum && !this.#needsNewEpoch;
    if (this.#phase === 'changing' || this.#phase === 'writing' || this.#phase === 'stalled') this.#to(usable ? 'writing' : 'stalled');
    if (this.#unrecordedSinceMs === 0) {
      this.#unrecordedSinceMs = now;
      this.#stats.dataPathErrors.push({ endpointId: 'metadata', code: isXdbmError(e) ? e.code : ErrorCode.IO_ERROR, atMs: now });
      if (this.#stats.dataPathErrors.length > 100) this.#stats.dataPathErrors.shift();
    }
    if (this.#phase === 'stalled' && now - this.#unrecordedSinceMs >= this.#failoverMs) {
      this.#stall(new XdbmError(ErrorCode.QUORUM_LOST, `log ${this.name}: metadata unavailable for ${now - this.#unrecordedSinceMs} ms; the ensemble change cannot be recorded and fewer than ${this.#ackQuorum} members remain`, { cause: e }));
    }
    {
      void sleep(this.#clock, Math.min(1000, Math.max(50, this.#deadlineMs / 4))).then(() => this.#scheduleChange('retry after metadata unavailable'));
    }
    this.#pumpAll();
    this.#progress();
  }

  /**
   * Before an epoch is sealed at `upTo`: live members still writing it get one write deadline to
   * reach `upTo` (acknowledgements are held, so it does not move). A live member that lags is then a
   * holder of the whole sealed range, instead of leaving only members that may be failing.
   */
  async #catchUp(upTo: number): Promise<void> {
    const lagging = (): boolean => this.#members.some((m) => !m.failed && m.durableUpTo < upTo && m.copy.epoch === this.#epoch);
    if (!lagging()) return;
    this.#pumpAll();
    const end = this.#clock.nowMs() + this.#deadlineMs;
    while (lagging() && this.#clock.nowMs() < end && this.#phase !== 'closed') {
      // Woken by the next member write that completes (or fails), or by the deadline.
      await new Promise<void>((r) => {
        const t = this.#clock.setTimer(r, Math.max(1, end - this.#clock.nowMs()));
        this.#writeDone.push(() => { this.#clock.clearTimer(t); r(); });
      });
    }
  }

  /**
   * When fewer than ackQuorum live (not failed) members hold the open epoch up to lastAcked, sealing
   * it there would leave acknowledged entries only on failing members. Instead the tail that fewer
   * than ackQuorum live members hold is written to the new ensemble first (as its copy, durable on
   * all of it) and the new epoch starts where that tail starts (recovery's order: data, then record).
   * Returns the new epoch's first index, or null when nothing needs to move (or it cannot: then the
   * epoch is sealed on its complete members as usual).
   */
  async #moveTail(next: Member[]): Promise<number | null> {
    const upTo = this.#lastAcked;
    const first = Math.max(lastEpoch(this.#mw.meta).firstIndex, this.#mw.meta.firstIndex);
    const live = this.#members.filter((m) => !m.failed && m.copy.epoch === this.#epoch).map((m) => m.durableUpTo).sort((a, b) => b - a);
    const held = live[this.#ackQuorum - 1] ?? first - 1; // the highest index ackQuorum live members hold
    if (held >= upTo) return null;
    const from = Math.max(first, held + 1);
    const records: { index: number; payload: Uint8Array }[] = [];
    for (const p of this.#pending) if (p.index >= from && p.index <= upTo) records.push({ index: p.index, payload: p.payload });
    if (records.length !== upTo - from + 1) return null; // not all in memory: seal as usual
    const results = await Promise.allSettled(next.map((m) =>
      withMemberDeadline(this.#clock, m.log, () => m.log.append(m.copy, records), this.#deadlineMs, `move acknowledged tail to ${m.id}`)));
    if (results.some((r) => r.status === 'rejected')) return null; // a new member failed: seal as usual, change again
    return from;
  }

  #liveCount(): number {
    return this.#members.filter((m) => !m.failed).length;
  }

  /**
   * A metadata change: acknowledgements stop, the store must answer a read first (else nothing is
   * sent and the caller may carry on as before), then `build` makes the document from the state as it
   * is now, the metadata writer commits it, and `apply` moves the writer's state before any
   * acknowledgement can run again.
   */
  async #commit(build: () => LogMetadata, apply?: (meta: LogMetadata) => void, prepare?: () => Promise<void>): Promise<LogMetadata> {
    this.#recording = true;
    try {
      await this.#mw.probe();
      await prepare?.();
      const meta = build();
      await this.#mw.record(meta);
      apply?.(meta);
      return meta;
    } finally {
      this.#recording = false;
    }
  }

  /** The store has not settled a change for a while: appends that cannot wait longer fail. */
  #onMetadataSlow(waitedMs: number, cause: unknown): void {
    if (waitedMs >= this.#failoverMs && this.#pending.some((p) => !p.acked)) {
      // Their indexes are reused only in the epoch being recorded (invariant 2).
      this.#rejectUnacked(new XdbmError(ErrorCode.QUORUM_LOST, `log ${this.name}: metadata store unavailable for ${waitedMs} ms while recording a change`, { cause }));
    }
  }

  /** No usable ensemble: what is not acknowledged fails; its indexes are reused only in a new epoch. */
  #stall(e: unknown): void {
    if (this.#phase === 'closed' || this.#fencedBy) return;
    this.#to('stalled');
    this.#rejectUnacked(e);
  }

  #rejectUnacked(e: unknown): void {
    const err = isXdbmError(e) ? e : new XdbmError(ErrorCode.IO_ERROR, String((e as Error)?.message ?? e), { cause: e });
    const failed = this.#pending.filter((p) => !p.acked);
    this.#pending = this.#pending.filter((p) => p.acked);
    if (failed.length > 0) {
      this.#nextIndex = this.#lastAcked + 1;
      this.#needsNewEpoch = true;
    }
    for (const p of failed) p.reject(err);
    this.#trim();
  }

  #fence(e: XdbmError): void {
    if (this.#fencedBy || this.#phase === 'closed') return;
    this.#fencedBy = e.code === ErrorCode.FENCED ? e : new XdbmError(ErrorCode.FENCED, `log ${this.name} fenced: ${e.message}`, { cause: e });
    this.#to('fenced');
    this.#rereplicator.stop();
    const failed = this.#pending.filter((p) => !p.acked);
    this.#pending = this.#pending.filter((p) => p.acked);
    for (const p of failed) p.reject(this.#fencedBy);
    this.#trim();
  }

  // ---- truncation ------------------------------------------------------------------------------

  /**
   * Drops [fromIndex, lastIndex] by starting a new epoch at fromIndex on the current members: nothing
   * is cut on the media, the metadata stops trusting the old range. Appends not yet acknowledged are
   * renumbered to follow the cut (their promises have not resolved, so no caller has seen an index).
   */
  async truncateSuffix(fromIndex: number): Promise<void> {
    const bad = this.#unusable();
    if (bad) throw bad;
    this.#history?.record({ type: 'invoke', f: 'truncate-suffix', process: this.#writerId, timeMs: this.#clock.nowMs(), index: fromIndex });
    await this.#outcome('truncate-suffix', fromIndex, () => this.#exclusive(async () => {
      const bad2 = this.#unusable();
      if (bad2) throw bad2;
      if (!Number.isSafeInteger(fromIndex) || fromIndex > this.#lastAcked) return;
      const from = Math.max(fromIndex, this.#mw.meta.firstIndex);
      const K = claimedEpoch(this.#mw.meta) + 1;
      const live = this.#members.filter((m) => !m.failed);
      const next: Member[] = [];
      for (const m of live) {
        try {
          await withMemberDeadline(this.#clock, m.log, () => m.log.create({ epoch: K, by: K }), this.#deadlineMs, `create epoch ${K} on ${m.id}`);
          next.push({ id: m.id, log: m.log, copy: { epoch: K, by: K }, durableUpTo: from - 1, busy: false, failed: false });
        } catch (e) {
          if (isXdbmError(e, ErrorCode.FENCED)) { this.#fence(e); throw e; }
          this.#memberFailed(m, e);
        }
      }
      if (next.length < this.#ackQuorum) {
        throw new XdbmError(ErrorCode.QUORUM_LOST, `log ${this.name}: truncation needs ${this.#ackQuorum} members, ${next.length} answered`);
      }
      await this.#switchTo(next, K, from, 'truncate', () => {
        // Recorded: entries at or above the cut are gone; those not yet acknowledged follow it.
        const waiting = this.#pending.filter((p) => !p.acked);
        waiting.forEach((p, k) => { p.index = from + k; p.acks.clear(); });
        this.#pending = waiting;
        this.#lastAcked = from - 1;
        this.#nextIndex = from + waiting.length;
      });
      if (this.#epoch !== K) {
        throw this.#fencedBy ?? new XdbmError(ErrorCode.IO_ERROR, `log ${this.name}: the metadata store did not take the truncation; nothing was cut`);
      }
    }));
  }

  /**
   * Runs a truncation and records its outcome in the history: ok, fail (definitely not applied) or
   * info (XDBM_FENCED after a metadata change whose landing is unknown: it may have taken effect).
   */
  async #outcome<T>(f: 'truncate-suffix' | 'truncate-prefix', index: number, run: () => Promise<T>): Promise<T> {
    try {
      const v = await run();
      this.#history?.record({ type: 'ok', f, process: this.#writerId, timeMs: this.#clock.nowMs(), index });
      return v;
    } catch (e) {
      const unknown = isXdbmError(e) && e.details?.outcome === 'unknown';
      this.#history?.record({ type: unknown ? 'info' : 'fail', f, process: this.#writerId, timeMs: this.#clock.nowMs(), index, error: isXdbmError(e) ? e.code : String(e) });
      throw e;
    }
  }

  /** Raises the first index (one CAS); members then drop whole segments below it. */
  async truncatePrefix(beforeIndex: number): Promise<void> {
    const bad = this.#unusable();
    if (bad) throw bad;
    this.#history?.record({ type: 'invoke', f: 'truncate-prefix', process: this.#writerId, timeMs: this.#clock.nowMs(), index: beforeIndex });
    const meta = await this.#outcome('truncate-prefix', beforeIndex, () => this.#exclusive(async () => {
      const bad2 = this.#unusable();
      if (bad2) throw bad2;
      const next = withPrefixTruncated(this.#mw.meta, Math.min(beforeIndex, this.#lastAcked + 1));
      if (next.firstIndex === this.#mw.meta.firstIndex && next.epochs.length === this.#mw.meta.epochs.length) return this.#mw.meta;
      try {
        return await this.#commit(() => withPrefixTruncated(this.#mw.meta, Math.min(beforeIndex, this.#lastAcked + 1)));
      } finally {
        this.#progress();
      }
    }));
    await this.#rereplicator.dropBelow(meta.firstIndex);
  }

  // ---- close -----------------------------------------------------------------------------------

  async close(): Promise<void> {
    if (this.#phase === 'closed') return;
    this.#closeRequested = true;
    // Graceful: give in-flight writes and re-sends one write deadline to reach every member.
    if (!this.#fencedBy && this.#pending.length > 0) {
      await new Promise<void>((r) => {
        const t = this.#clock.setTimer(r, this.#deadlineMs);
        this.#drained.push(() => { this.#clock.clearTimer(t); r(); });
      });
    }
    // A clean close tells the operations side where the open epoch ends (status, refusals).
    if (!this.#fencedBy && this.#phase !== 'opening') {
      // One attempt, bounded: informational only (a late landing fails once the version moved). Built
      // when its turn comes, from the metadata as it is then, and only if nothing is left to change.
      await this.#exclusive(async () => {
        if (this.#fencedBy || this.#phase !== 'writing' || this.#pending.some((p) => !p.acked)) return;
        await this.#mw.note({ ...this.#mw.meta, closedAt: { epoch: this.#epoch, lastIndex: this.#lastAcked } });
      }).catch(() => undefined);
    }
    this.#to('closed');
    this.#rereplicator.stop();
    this.#m.off('active-changed', this.#onActiveChanged);
    const err = new XdbmError(ErrorCode.CLOSED, `log ${this.name} closed`);
    const failed = this.#pending.filter((p) => !p.acked);
    this.#pending = [];
    for (const p of failed) p.reject(err);
    for (const f of this.#wakers.splice(0)) f();
    await this.#chain.catch(() => undefined);
    await this.#rereplicator.idle();
    if (this.#inflight.size > 0) {
      await new Promise<void>((r) => {
        const t = this.#clock.setTimer(r, this.#deadlineMs);
        void Promise.all([...this.#inflight]).then(() => { this.#clock.clearTimer(t); r(); });
      });
    }
    await this.#pool.close();
    if (this.#ownStore) await this.#store?.close().catch(() => undefined);
  }
}

/** For BackendManager.openLog: the log's options, typed end to end. */
export type { StorageBackend };
