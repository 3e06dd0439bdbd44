/**
 * Opening a log, in BookKeeper's recovery order, on storage that cannot refuse writes by itself:
 *
 *   1. claim      one CAS raises claimedEpoch to K: every earlier writer's metadata change fails now.
 *   2. fence      fence(N) on every reachable member of the last epoch N: from here on no write of the
 *                 old writer can be acknowledged, so what we scan next is final (member-log.ts M3).
 *   3. recover    the end L of epoch N from the members that answered (ensemble-history.ts), refusing
 *                 when ackQuorum or more of them cannot be read (the end cannot be known).
 *   4. copy       the tail [T, L] that has fewer than ackQuorum intact reachable copies goes to the new
 *                 ensemble as copy {K, K}, durable, before anything refers to it.
 *   5. record     one CAS: epoch N sealed at T-1 (held by its members that hold all of it), epoch K
 *                 from T on the new ensemble.
 *
 * Nothing is truncated, rewritten or deleted on the way (invariant 3): a crash at any step leaves the
 * previous metadata naming intact copies, and the next open repeats the steps with a higher claim.
 * Missing metadata while members hold data of the log is refused (invariant 6), never a fresh log.
 */
import { ErrorCode, XdbmError, isXdbmError } from '../errors.js';
import type { BackendManagerApi } from '../manager-api.js';
import type { Clock } from './clock.js';
import {
  METADATA_FORMAT, assertUsableMetadata, lastEpoch, recoveredLastIndex, withClaim, withNewEpoch,
} from './ensemble-history.js';
import { withDeadline, withMemberDeadline } from './io-deadline.js';
import type { CopyRef, MemberLog, ReplicaRecord } from './member-log.js';
import { sameCopy } from './member-log.js';
import { chooseEnsemble, type Member, type MemberPool } from './members.js';
import type { LogMetadata, MetadataStore } from './metadata/types.js';

export interface RecoverOptions {
  manager: BackendManagerApi;
  store: MetadataStore;
  pool: MemberPool;
  name: string;
  ackQuorum: number;
  writerId: string;
  deadlineMs: number;
  failoverTimeoutMs: number;
  maxBatchEntries: number;
  clock: Clock;
  nextChange: () => Promise<void>;
}

export interface Recovered {
  meta: LogMetadata;
  version: number;
  /** The writer's epoch (K): its ensemble writes copy {K, K}. */
  epoch: number;
  members: Member[];
  /** Every index up to here is in the log (acknowledged by an earlier writer, or recovered). */
  lastIndex: number;
}

function fencedAtOpen(name: string, e: unknown): XdbmError {
  return new XdbmError(ErrorCode.FENCED, `log ${name}: another writer changed its metadata while this one was opening it`, { cause: e });
}

async function cas(o: RecoverOptions, meta: LogMetadata, version: number): Promise<number> {
  try {
    return await withDeadline(o.clock, o.store.compareAndSet(o.name, meta, version), o.failoverTimeoutMs, `metadata update of ${o.name}`);
  } catch (e) {
    throw isXdbmError(e, ErrorCode.CAS_CONFLICT) ? fencedAtOpen(o.name, e) : e;
  }
}

export async function recoverLog(o: RecoverOptions): Promise<Recovered> {
  const cur = await withDeadline(o.clock, o.store.get(o.name), o.failoverTimeoutMs, `metadata read of ${o.name}`);
  if (!cur) return createLog(o);
  assertUsableMetadata(o.name, cur.meta);

  // 1. claim
  const claim = withClaim(cur.meta, o.writerId);
  let meta = claim.meta;
  const K = claim.epoch;
  let version = await cas(o, meta, cur.version);

  // 2. fence the last epoch on every member that answers, and 3. find its end.
  const last = lastEpoch(meta);
  const lastCopy: CopyRef = { epoch: last.epoch, by: last.epoch };
  const reachable: { id: string; log: MemberLog }[] = [];
  const unreachable: { id: string; code: string }[] = [];
  // Every member at once: opening a device member may mean an NVMe/TCP connect and a ring scan.
  const results = await Promise.all([...new Set(last.members)].map(async (id) => {
    try {
      const log = await o.pool.get(id);
      // A member named by the epoch always has the copy's directory (made before the CAS that named
      // it): without it the member lost its data (not mounted, wiped) and is unreachable, not empty.
      // (A device ring cannot show an empty copy: its superblock naming this log stands for it.)
      if (!log.copies().some((c) => sameCopy(c, lastCopy)) && !log.formattedForLog?.()) {
        throw new XdbmError(ErrorCode.NOT_FOUND, `${id} holds no copy of epoch ${last.epoch} of log ${o.name}`, { details: { endpointId: id } });
      }
      // A fence writes and then scans the copy again: bounded like an open, not like one write.
      await withMemberDeadline(o.clock, log, () => log.fence(last.epoch), Math.max(o.deadlineMs, o.failoverTimeoutMs), `fence epoch ${last.epoch} of ${o.name} on ${id}`);
      return { ok: true as const, id, log };
    } catch (e) {
      o.pool.drop(id);
      return { ok: false as const, id, e };
    }
  }));
  for (const r of results) {
    if (r.ok) reachable.push({ id: r.id, log: r.log });
    else if (isXdbmError(r.e, ErrorCode.CLOSED)) throw r.e;
    else unreachable.push({ id: r.id, code: isXdbmError(r.e) ? r.e.code : ErrorCode.IO_ERROR });
  }
  if (unreachable.length >= o.ackQuorum) {
    throw new XdbmError(ErrorCode.QUORUM_LOST,
      `log ${o.name}: ${unreachable.length} of the last ensemble (${last.members.join(', ')}) cannot be read ` +
      `(${unreachable.map((u) => `${u.id}: ${u.code}`).join('; ')}); with ack quorum ${o.ackQuorum} acknowledged entries may be only there. ` +
      'Bring them back (mount, reconnect) and open again', {
        details: { logName: o.name, members: last.members, unreachable, ackQuorum: o.ackQuorum },
      });
  }
  const from = Math.max(last.firstIndex, meta.firstIndex);
  const L = Math.max(meta.firstIndex - 1,
    recoveredLastIndex(last.firstIndex, reachable.map((r) => r.log.lastIndex(lastCopy)), o.ackQuorum, unreachable.length));
  // The tail: from the first index with fewer than ackQuorum intact reachable copies. Members write an
  // epoch in order, so below it every index is on ackQuorum members that hold all of [from, T-1].
  let T = L + 1;
  for (let i = from; i <= L; i++) {
    let n = 0;
    for (const r of reachable) if (r.log.has(lastCopy, i)) n++;
    if (n < o.ackQuorum) { T = i; break; }
  }

  // 4. the new ensemble, and the tail copied to it
  const members = await chooseEnsemble({
    manager: o.manager, pool: o.pool, logName: o.name, copy: { epoch: K, by: K }, exclude: new Set(), ackQuorum: o.ackQuorum,
    timeoutMs: o.failoverTimeoutMs, deadlineMs: o.deadlineMs, clock: o.clock, isClosed: () => false, nextChange: o.nextChange,
  });
  let writers = members;
  if (T <= L) writers = await copyTail(o, reachable, lastCopy, T, L, members);

  // 5. record: epoch N keeps [.., T-1] on the members that hold all of it; epoch K starts at T.
  const sealedMembers = reachable.filter((r) => r.log.lastIndex(lastCopy) >= T - 1).map((r) => r.id);
  const sealed: LogMetadata = T - 1 >= last.firstIndex
    ? { ...meta, epochs: meta.epochs.map((e) => (e.epoch === last.epoch ? { ...e, members: sealedMembers } : e)) }
    : meta;
  meta = withNewEpoch(sealed, T, writers.map((m) => m.id), K, o.writerId);
  version = await cas(o, meta, version);
  for (const m of writers) m.durableUpTo = L;
  return { meta, version, epoch: K, members: writers, lastIndex: L };
}

/** Copies [T, L] of the last epoch to every new member as copy {K, K}; returns the members that took all of it. */
async function copyTail(o: RecoverOptions, sources: { id: string; log: MemberLog }[], copy: CopyRef, T: number, L: number, members: Member[]): Promise<Member[]> {
  let alive = [...members];
  for (let start = T; start <= L; start += o.maxBatchEntries) {
    const end = Math.min(L, start + o.maxBatchEntries - 1);
    const batch: ReplicaRecord[] = [];
    for (let i = start; i <= end; i++) batch.push({ index: i, payload: await readAny(o, sources, copy, i) });
    const results = await Promise.allSettled(alive.map((m) =>
      withMemberDeadline(o.clock, m.log, () => m.log.append(m.copy, batch), o.deadlineMs, `recovery copy to ${m.id}`)));
    const failed = alive.filter((_, k) => results[k]!.status === 'rejected');
    for (const m of failed) {
      const r = results[alive.indexOf(m)] as PromiseRejectedResult;
      if (isXdbmError(r.reason, ErrorCode.FENCED)) throw r.reason;
      try { o.manager.reportDataPathError(m.id, r.reason); } catch { /* the manager's problem */ }
    }
    alive = alive.filter((m) => !failed.includes(m));
    if (alive.length < o.ackQuorum) {
      throw new XdbmError(ErrorCode.QUORUM_LOST, `log ${o.name}: only ${alive.length} new members took the recovered entries ${T}-${L}; ack quorum is ${o.ackQuorum}. Open again`, {
        details: { logName: o.name, fromIndex: T, toIndex: L },
      });
    }
  }
  return alive;
}

async function readAny(o: RecoverOptions, sources: { id: string; log: MemberLog }[], copy: CopyRef, index: number): Promise<Buffer> {
  const errors: string[] = [];
  for (const s of sources) {
    if (!s.log.has(copy, index)) continue;
    try {
      return await withMemberDeadline(o.clock, s.log, () => s.log.read(copy, index), o.deadlineMs, `read ${index} from ${s.id}`);
    } catch (e) {
      errors.push(`${s.id}: ${isXdbmError(e) ? e.code : String(e)}`);
    }
  }
  throw new XdbmError(ErrorCode.LOG_CORRUPT, `log ${o.name}: no intact copy of recovered index ${index} (${errors.join('; ') || 'no member holds it'}); refusing to open`, {
    details: { logName: o.name, index },
  });
}

/** A log the store has never heard of: refused if any reachable candidate already holds its data. */
async function createLog(o: RecoverOptions): Promise<Recovered> {
  const holders: string[] = [];
  const ids = o.manager.getCandidates().map((c) => c.endpointId);
  const LIMIT = 16;
  for (let k = 0; k < ids.length; k += LIMIT) {
    await Promise.all(ids.slice(k, k + LIMIT).map(async (id) => {
      try {
        const log = await o.pool.get(id);
        if (log.hasData()) holders.push(id);
      } catch { /* unreachable: it cannot say either way */ }
    }));
  }
  if (holders.length > 0) {
    throw new XdbmError(ErrorCode.LOG_CORRUPT,
      `log ${o.name} has no metadata in the ${o.store.kind} store, but ${holders.sort().join(', ')} hold its entries; ` +
      'refusing to start it afresh over them. Restore the metadata (or point wal.metadata at the right store), or run `xdbm log repair ' + o.name + '`', {
        details: { logName: o.name, holders },
      });
  }
  const K = 1;
  const members = await chooseEnsemble({
    manager: o.manager, pool: o.pool, logName: o.name, copy: { epoch: K, by: K }, exclude: new Set(), ackQuorum: o.ackQuorum,
    timeoutMs: o.failoverTimeoutMs, deadlineMs: o.deadlineMs, clock: o.clock, isClosed: () => false, nextChange: o.nextChange,
  });
  const meta: LogMetadata = {
    format: METADATA_FORMAT, epochs: [{ epoch: K, firstIndex: 1, members: members.map((m) => m.id) }], firstIndex: 1, writerId: o.writerId, claimedEpoch: K,
  };
  const version = await cas(o, meta, 0);
  return { meta, version, epoch: K, members, lastIndex: 0 };
}
