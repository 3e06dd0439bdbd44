/**
 * The log's member logs, one per endpoint, shared by the writer, recovery, the reader and
 * re-replication; and the choice of a new ensemble from the manager's active set.
 *
 * A device member is opened through an instance of the backend of the log's own when the endpoint is
 * not (or no longer) active: the manager closes its instance of a replaced backend at the failover and
 * closes and reopens FAILED ones as it sees fit. File layouts need no open backend.
 */
import type { StorageBackend } from '../backends/backend.js';
import { createBackend } from '../backends/index.js';
import { ErrorCode, XdbmError, isXdbmError } from '../errors.js';
import type { BackendManagerApi } from '../manager-api.js';
import type { Clock } from './clock.js';
import { sleep } from './clock.js';
import { isRawDevice } from './device-member.js';
import { withDeadline, withMemberDeadline } from './io-deadline.js';
import type { CopyRef, MemberLog } from './member-log.js';

export type MemberFactory = (backend: StorageBackend, logName: string) => MemberLog;

/** A member of the current ensemble, as the writer drives it. */
export interface Member {
  id: string;
  log: MemberLog;
  /** The copy this ensemble writes on it: { epoch, by: epoch }. */
  copy: CopyRef;
  /** Highest index durable on it in this epoch. */
  durableUpTo: number;
  busy: boolean;
  failed: boolean;
}

interface Entry {
  log: MemberLog;
  own?: StorageBackend;
  opening?: Promise<MemberLog>;
}

export interface MemberPoolOptions {
  name: string;
  manager: BackendManagerApi;
  factory: MemberFactory;
  deadlineMs: number;
  clock: Clock;
}

export class MemberPool {
  readonly #o: MemberPoolOptions;
  readonly #entries = new Map<string, Entry>();
  #closed = false;

  constructor(o: MemberPoolOptions) {
    this.#o = o;
  }

  /** The member log of `id`, opened (read-only scan) on first use. Unreachable: the open's error. */
  async get(id: string): Promise<MemberLog> {
    if (this.#closed) throw new XdbmError(ErrorCode.CLOSED, `log ${this.#o.name} is closed`);
    const e = this.#entries.get(id);
    if (e) return e.opening ?? e.log;
    const b = this.#o.manager.getBackend(id);
    if (!b) throw new XdbmError(ErrorCode.UNKNOWN_ENDPOINT, `endpoint ${id} is not in the candidate pool`, { details: { endpointId: id } });
    const entry: Entry = { log: undefined as unknown as MemberLog };
    const opening = this.#open(b, entry);
    entry.opening = opening;
    this.#entries.set(id, entry);
    try {
      entry.log = await opening;
      delete entry.opening;
      return entry.log;
    } catch (err) {
      if (this.#entries.get(id) === entry) this.#entries.delete(id);
      throw err;
    }
  }

  peek(id: string): MemberLog | undefined {
    const e = this.#entries.get(id);
    return e && !e.opening ? e.log : undefined;
  }

  /** Forgets `id` (closing it): the next get() opens and scans it again. */
  drop(id: string): void {
    const e = this.#entries.get(id);
    if (!e || e.opening) return;
    this.#entries.delete(id);
    void this.#close(e);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#entries.values()];
    this.#entries.clear();
    await Promise.all(all.map(async (e) => { if (e.opening) await e.opening.catch(() => undefined); await this.#close(e); }));
  }

  async #open(b: StorageBackend, entry: Entry): Promise<MemberLog> {
    const o = this.#o;
    let target = b;
    if (isRawDevice(b) && !o.manager.getActiveStorage().includes(b)) {
      const own = await createBackend(b.config);
      entry.own = own;
      await withMemberDeadline(o.clock, b, () => own.init(), o.deadlineMs, `open ${b.endpointId} for log ${o.name}`);
      target = own;
    }
    const log = o.factory(target, o.name);
    try {
      await withMemberDeadline(o.clock, log, () => log.open(), o.deadlineMs, `open log ${o.name} on ${b.endpointId}`);
    } catch (e) {
      void withDeadline(o.clock, log.close(), o.deadlineMs, 'close').catch(() => undefined);
      if (entry.own) void entry.own.close().catch(() => undefined);
      throw e;
    }
    return log;
  }

  async #close(e: Entry): Promise<void> {
    await withDeadline(this.#o.clock, e.log.close(), this.#o.deadlineMs, 'close').catch(() => undefined);
    if (e.own) await withDeadline(this.#o.clock, e.own.close(), this.#o.deadlineMs, 'close').catch(() => undefined);
  }
}

export interface ChooseEnsembleOptions {
  manager: BackendManagerApi;
  pool: MemberPool;
  logName: string;
  /** The copy every member of the new ensemble gets created: { epoch: K, by: K }. */
  copy: CopyRef;
  /** Members known bad: not taken even if the manager still lists them. */
  exclude: Set<string>;
  ackQuorum: number;
  timeoutMs: number;
  deadlineMs: number;
  clock: Clock;
  isClosed: () => boolean;
  /** Resolves at the next 'active-changed' event of the manager. */
  nextChange: () => Promise<void>;
}

/**
 * Waits for a usable ensemble: the manager's active set without excluded members, each member's log
 * opened and copy `copy` created on it (exclusively: invariant 5, the log's directory is created only
 * here, when a member joins, and only under a root that exists). A member that cannot is reported to
 * the manager and excluded. Past the timeout the log goes on with what it has if that still reaches
 * the ack quorum, else XDBM_QUORUM_LOST.
 */
export async function chooseEnsemble(o: ChooseEnsembleOptions): Promise<Member[]> {
  const deadline = o.clock.nowMs() + o.timeoutMs;
  const ready = new Map<string, Member>();
  for (;;) {
    if (o.isClosed()) throw new XdbmError(ErrorCode.CLOSED, `log ${o.logName} closed while waiting for an ensemble`);
    const expired = o.clock.nowMs() >= deadline;
    const active = o.manager.getActiveStorage();
    const stale = active.some((b) => o.exclude.has(b.endpointId));
    if (!stale || expired) {
      const members: Member[] = [];
      for (const b of active) {
        if (o.exclude.has(b.endpointId)) continue;
        const have = ready.get(b.endpointId);
        if (have) { members.push(have); continue; }
        try {
          const log = await o.pool.get(b.endpointId);
          await withMemberDeadline(o.clock, log, () => log.create(o.copy), o.deadlineMs, `create ${o.logName} epoch ${o.copy.epoch} on ${b.endpointId}`);
          const m: Member = { id: b.endpointId, log, copy: o.copy, durableUpTo: 0, busy: false, failed: false };
          ready.set(b.endpointId, m);
          members.push(m);
        } catch (e) {
          if (isXdbmError(e, ErrorCode.FENCED) || isXdbmError(e, ErrorCode.CLOSED)) throw e;
          o.exclude.add(b.endpointId);
          o.pool.drop(b.endpointId);
          try { o.manager.reportDataPathError(b.endpointId, e); } catch { /* the manager's problem, never the writer's */ }
        }
      }
      const complete = members.length === active.length && active.length > 0;
      if (members.length >= o.ackQuorum && (complete || expired)) return members;
      if (expired) {
        throw new XdbmError(ErrorCode.QUORUM_LOST, `log ${o.logName}: only ${members.length} usable members after ${o.timeoutMs} ms, ack quorum is ${o.ackQuorum}`, {
          details: { logName: o.logName, members: members.map((m) => m.id), excluded: [...o.exclude], ackQuorum: o.ackQuorum },
        });
      }
    }
    await Promise.race([o.nextChange(), sleep(o.clock, Math.max(1, Math.min(50, deadline - o.clock.nowMs())))]);
  }
}
