/**
 * Re-replication (BookKeeper's AutoRecovery, run by the writer that holds the log): sealed epochs
 * whose copies on reachable, healthy members are fewer than ackQuorum get copied, one chunk at a time,
 * to current members as copy {N, K} (K: the writer's epoch), and the new holder is recorded by CAS
 * only once the whole range is durable there. Appends go first: one chunk in flight, a yield between
 * chunks. Also here: removing copies the metadata no longer names (garbage), and prefix truncation
 * on every member the log knows.
 */
import type { BackendManagerApi } from '../manager-api.js';
import { ErrorCode, isXdbmError } from '../errors.js';
import type { Clock, TimerHandle } from './clock.js';
import { sleep } from './clock.js';
import { countEntries, holdersOf, underReplicated, withCopy, type UnderReplicatedRange } from './ensemble-history.js';
import { withMemberDeadline } from './io-deadline.js';
import { countingHolders } from './log-registry.js';
import type { LogReader } from './log-reader.js';
import type { LogStats } from './log-types.js';
import type { CopyRef, ReplicaRecord } from './member-log.js';
import type { Member, MemberPool } from './members.js';
import type { LogMetadata } from './metadata/types.js';

export interface RereplicatorDeps {
  name: string;
  manager: BackendManagerApi;
  clock: Clock;
  deadlineMs: number;
  pool: MemberPool;
  reader: LogReader;
  stats: LogStats;
  ackQuorum: number;
  /** 0 turns the periodic scan off (kick() still runs one). */
  intervalMs: number;
  chunkEntries: number;
  meta: () => LogMetadata;
  lastIndex: () => number;
  members: () => Member[];
  epoch: () => number;
  /**
   * The epoch this writer claimed at open. Copies with `by` at or above it may be in the making by
   * this writer (a re-replication copy is recorded only once complete), so garbage collection never
   * touches them; anything below belongs to fenced writers and counts only if the metadata names it.
   */
  openEpoch: () => number;
  /** The writer is in a phase where it may copy (writing, no CAS of its own in flight). */
  usable: () => boolean;
  /** Records a metadata change through the writer (one at a time with its own changes), built from its state then. */
  record: (build: () => LogMetadata) => Promise<void>;
}

export function healthyHolders(manager: BackendManagerApi): (member: string) => boolean {
  return countingHolders(manager.getCandidates());
}

export class Rereplicator {
  readonly #d: RereplicatorDeps;
  #timer: TimerHandle | null = null;
  #running = false;
  #stopped = true;
  /** The pass or garbage collection in progress, if any (close waits for it). */
  #busy: Promise<unknown> = Promise.resolve();

  constructor(d: RereplicatorDeps) {
    this.#d = d;
  }

  start(): void {
    this.#stopped = false;
    this.#arm(this.#d.intervalMs);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) this.#d.clock.clearTimer(this.#timer);
    this.#timer = null;
  }

  /** Look now (after an ensemble change, a member loss). */
  kick(): void {
    if (!this.#stopped) this.#arm(1);
  }

  #arm(ms: number): void {
    if (this.#stopped || ms <= 0) return;
    if (this.#timer) this.#d.clock.clearTimer(this.#timer);
    this.#timer = this.#d.clock.setTimer(() => {
      this.#timer = null;
      const pass = this.tick().finally(() => this.#arm(this.#d.intervalMs));
      this.#busy = pass;
    }, ms);
  }

  /** Under-replicated ranges of sealed epochs, as the writer sees them now. */
  ranges(): UnderReplicatedRange[] {
    const d = this.#d;
    const counts = healthyHolders(d.manager);
    return underReplicated(d.meta(), d.lastIndex(), d.ackQuorum, counts);
  }

  /** One pass: count, then repair the first range it can. */
  async tick(): Promise<void> {
    const d = this.#d;
    if (this.#running || this.#stopped) return;
    this.#running = true;
    try {
      const ranges = this.ranges();
      d.stats.underReplicatedEntries = countEntries(ranges);
      if (!d.usable()) return;
      for (const r of ranges) {
        if (r.epoch === d.epoch()) continue; // the open epoch: the writer's ensemble changes keep it whole
        if (await this.#repair(r)) {
          d.stats.underReplicatedEntries = countEntries(this.ranges());
          return;
        }
      }
    } catch {
      // A failed pass is retried at the next tick; the count stays visible meanwhile.
    } finally {
      this.#running = false;
    }
  }

  async #repair(r: UnderReplicatedRange): Promise<boolean> {
    const d = this.#d;
    const need = d.ackQuorum - r.healthy.length;
    const counts = healthyHolders(d.manager);
    const targets = d.members().filter((m) => !m.failed && !r.holders.includes(m.id) && counts(m.id)).slice(0, need);
    if (targets.length === 0) return false;
    const by = d.epoch();
    const copy: CopyRef = { epoch: r.epoch, by };
    for (const t of targets) {
      await withMemberDeadline(d.clock, t.log, () => t.log.create(copy), d.deadlineMs, `create copy of epoch ${r.epoch} on ${t.id}`);
    }
    let done = r.fromIndex - 1;
    for (let start = r.fromIndex; start <= r.toIndex; start += d.chunkEntries) {
      if (this.#stopped || !d.usable()) return false;
      const end = Math.min(r.toIndex, start + d.chunkEntries - 1);
      const batch: ReplicaRecord[] = [];
      for (let i = start; i <= end; i++) {
        if (targets.every((t) => t.log.lastIndex(copy) >= i)) continue; // copied by an earlier pass
        batch.push({ index: i, payload: await d.reader.read(i) });
      }
      for (const t of targets) {
        const todo = batch.filter((x) => x.index > t.log.lastIndex(copy));
        if (todo.length === 0) continue;
        try {
          await withMemberDeadline(d.clock, t.log, () => t.log.append(copy, todo), d.deadlineMs, `re-replicate to ${t.id}`);
        } catch (e) {
          if (!isXdbmError(e, ErrorCode.FENCED)) { try { d.manager.reportDataPathError(t.id, e); } catch { /* the manager's problem */ } }
          return false;
        }
      }
      d.stats.rereplicatedEntries += batch.length * targets.length;
      done = end;
      // Appends first: give the event loop (and the libuv pool) back between chunks.
      await sleep(d.clock, 1);
    }
    if (done < r.toIndex) return false;
    if (!d.meta().epochs.some((e) => e.epoch === r.epoch)) return false; // truncated away meanwhile
    await d.record(() => {
      let next = d.meta();
      for (const t of targets) next = withCopy(next, r.epoch, t.id, by);
      return next;
    });
    return true;
  }

  /** Removes copies the metadata does not name, on every member the log has open (best effort). */
  collectGarbage(): void {
    const d = this.#d;
    const meta = d.meta();
    const ours = d.openEpoch();
    const named = (member: string) => (c: CopyRef): boolean => {
      if (c.by >= ours) return true;
      const e = meta.epochs.find((x) => x.epoch === c.epoch);
      return !!e && holdersOf(e).some((h) => h.member === member && h.copy.by === c.by);
    };
    const ids = new Set([...d.members().map((m) => m.id), ...meta.epochs.flatMap((e) => holdersOf(e).map((h) => h.member))]);
    this.#busy = (async () => {
      for (const id of ids) {
        const log = d.pool.peek(id);
        if (!log) continue;
        await withMemberDeadline(d.clock, log, () => log.collect(named(id), ours), d.deadlineMs, `collect garbage on ${id}`).catch(() => undefined);
      }
    })();
  }

  /** Resolves once no pass or collection is running (after stop(), nothing new starts). */
  async idle(): Promise<void> {
    for (;;) {
      const b = this.#busy;
      await b.catch(() => undefined);
      if (b === this.#busy) return;
    }
  }

  /** After a prefix truncation: whole segments below `firstIndex` go on every member the log has open. */
  async dropBelow(firstIndex: number): Promise<void> {
    const d = this.#d;
    const ids = new Set([...d.members().map((m) => m.id), ...d.meta().epochs.flatMap((e) => holdersOf(e).map((h) => h.member))]);
    for (const id of ids) {
      const log = d.pool.peek(id);
      if (!log) continue;
      await withMemberDeadline(d.clock, log, () => log.truncatePrefix(firstIndex), d.deadlineMs, `truncate ${id}`).catch(() => undefined);
    }
    this.collectGarbage();
  }
}
