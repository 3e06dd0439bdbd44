/**
 * Opening a log: take ownership (one CAS, which fences any earlier writer), find the last durable
 * index of the last epoch from the members that answer, cut unacknowledged tails, and record a new
 * epoch on the manager's current active set. Entries of the last epoch that the new ensemble does not
 * hold everywhere are returned to be re-sent (they become the new epoch's first entries).
 */
import type { StorageBackend } from '../backends/backend.js';
import { ErrorCode, XdbmError, isXdbmError } from '../errors.js';
import type { BackendManagerApi } from '../manager-api.js';
import { withDeadline } from './deadline.js';
import { withReplicaDeadline } from './stuck-io.js';
import { closeDetachedReplica, openDetachedReplica, type DetachedReplica } from './log-reader.js';
import { lastEpoch, recoveredLastIndex, withNewEpoch } from './ensemble-history.js';
import { waitForEnsemble, type Member } from './ensemble-wait.js';
import type { LogMetadata, MetadataStore } from './metadata/types.js';
import type { LogReplica } from './replica.js';

export interface RecoverOptions {
  manager: BackendManagerApi;
  store: MetadataStore;
  name: string;
  ackQuorum: number;
  writerId: string;
  deadlineMs: number;
  failoverTimeoutMs: number;
  factory: (b: StorageBackend, logName: string) => LogReplica;
  nextChange: () => Promise<void>;
}

export interface Recovered {
  meta: LogMetadata;
  version: number;
  members: Member[];
  lastIndex: number;
  resend: { index: number; payload: Buffer; holders: string[] }[];
}

function fenced(name: string, e: unknown): XdbmError {
  return new XdbmError(ErrorCode.FENCED, `log ${name}: another writer changed its metadata while opening`, { cause: e });
}

async function cas(o: RecoverOptions, meta: LogMetadata, version: number): Promise<number> {
  try {
    return await o.store.compareAndSet(o.name, meta, version);
  } catch (e) {
    throw isXdbmError(e, ErrorCode.CAS_CONFLICT) ? fenced(o.name, e) : e;
  }
}

export async function recoverLog(o: RecoverOptions): Promise<Recovered> {
  const cur = await o.store.get(o.name);
  const waitOpts = {
    manager: o.manager, logName: o.name, exclude: new Set<string>(), keep: [], ackQuorum: o.ackQuorum,
    timeoutMs: o.failoverTimeoutMs, deadlineMs: o.deadlineMs, factory: o.factory, isClosed: () => false, nextChange: o.nextChange,
  };
  if (!cur) {
    const members = await waitForEnsemble(waitOpts);
    const meta: LogMetadata = { epochs: [{ epoch: 1, firstIndex: 1, members: members.map((m) => m.id) }], firstIndex: 1, writerId: o.writerId };
    const version = await cas(o, meta, 0);
    for (const m of members) {
      if (m.replica.lastIndex() > 0) await withDeadline(m.replica.truncateSuffix(1), o.deadlineMs, 'truncate');
    }
    return { meta, version, members, lastIndex: 0, resend: [] };
  }
  // 1. Ownership first: from here on an older writer's fencing check fails, so what we scan is final.
  let meta: LogMetadata = { ...cur.meta, writerId: o.writerId };
  let version = await cas(o, meta, cur.version);
  // 2. The new ensemble, and the members of the last epoch.
  const members = await waitForEnsemble(waitOpts);
  const last = lastEpoch(meta);
  const old = new Map<string, LogReplica>();
  /** Replicas opened here on last-epoch members outside the new ensemble (closed before returning). */
  const detached: DetachedReplica[] = [];
  const closeDetached = (): void => { for (const d of detached) void closeDetachedReplica(d, o.deadlineMs); };
  let unreachable = 0;
  for (const id of last.members) {
    const m = members.find((x) => x.id === id);
    if (m) { old.set(id, m.replica); continue; }
    const b = o.manager.getBackend(id);
    if (!b) { unreachable++; continue; }
    try {
      // The manager may have closed its instance of a member it replaced: read through our own.
      const d = await openDetachedReplica(b, o.name, o.factory, o.deadlineMs);
      detached.push(d);
      old.set(id, d.replica);
    } catch {
      unreachable++;
    }
  }
  // An acknowledged entry is on at least ackQuorum members: with that many unreachable it could be on
  // none of the ones that answered, so the end of the log cannot be known. Refuse rather than guess.
  if (unreachable >= o.ackQuorum) {
    closeDetached();
    for (const m of members) void m.replica.close().catch(() => undefined);
    throw new XdbmError(ErrorCode.QUORUM_LOST, `log ${o.name}: ${unreachable} of the last ensemble (${last.members.join(', ')}) cannot be read; ` +
      `with ack quorum ${o.ackQuorum} acknowledged entries may be only there`, {
      details: { logName: o.name, members: last.members, unreachable, ackQuorum: o.ackQuorum },
    });
  }
  const contiguous = (r: LogReplica, from: number): number => {
    let i = from;
    while (r.has(i)) i++;
    return i - 1;
  };
  const lastIndex = Math.max(meta.firstIndex - 1,
    recoveredLastIndex(last.firstIndex, [...old.values()].map((r) => contiguous(r, last.firstIndex)), o.ackQuorum, unreachable));
  // 3. Unacknowledged tails go.
  const everyone = new Map<string, LogReplica>([...old, ...members.map((m) => [m.id, m.replica] as const)]);
  for (const [, r] of everyone) {
    if (r.lastIndex() > lastIndex) await withDeadline(r.truncateSuffix(lastIndex + 1), o.deadlineMs, 'truncate').catch(() => undefined);
  }
  // 4. What the new ensemble misses of the last epoch is re-sent under the new epoch.
  const from = Math.max(last.firstIndex, meta.firstIndex);
  let repairFrom = lastIndex + 1;
  for (let i = from; i <= lastIndex; i++) {
    if (members.some((m) => !m.replica.has(i))) { repairFrom = i; break; }
  }
  const resend: Recovered['resend'] = [];
  for (let i = repairFrom; i <= lastIndex; i++) {
    let payload: Buffer | undefined;
    for (const [id, r] of everyone) {
      if (!r.has(i)) continue;
      try { payload = await withReplicaDeadline(r, () => r.read(i), o.deadlineMs, `read ${i} from ${id}`); break; } catch { /* next copy */ }
    }
    if (!payload) throw new XdbmError(ErrorCode.LOG_CORRUPT, `log ${o.name}: no intact copy of recovered index ${i}`, { details: { index: i } });
    resend.push({ index: i, payload, holders: [] });
  }
  // Members that already hold the whole repaired range keep it (no rewrite, readable meanwhile).
  for (const m of members) {
    let whole = true;
    for (let i = repairFrom; i <= lastIndex && whole; i++) whole = m.replica.has(i);
    m.durableUpTo = whole ? lastIndex : repairFrom - 1;
    if (whole) for (const e of resend) e.holders.push(m.id);
  }
  closeDetached();
  meta = withNewEpoch(meta, repairFrom, members.map((m) => m.id), o.writerId);
  version = await cas(o, meta, version);
  return { meta, version, members, lastIndex, resend };
}
