/**
 * Waiting for a usable ensemble from the manager: an active set without the members this log saw fail,
 * with every new member's replica opened. Bounded by the failover timeout; past it the log goes on with
 * what it has if that still reaches the ack quorum, else XDBM_QUORUM_LOST.
 */
import type { StorageBackend } from '../backends/backend.js';
import { ErrorCode, XdbmError } from '../errors.js';
import type { BackendManagerApi } from '../manager-api.js';
import { withReplicaDeadline } from './stuck-io.js';
import type { LogReplica } from './replica.js';

export interface Member {
  id: string;
  replica: LogReplica;
  /** Highest index this member has durable in the current epoch's run. */
  durableUpTo: number;
  busy: boolean;
  failed: boolean;
}

export interface WaitForEnsembleOptions {
  manager: BackendManagerApi;
  logName: string;
  /** Members known bad: not taken even if the manager still lists them. */
  exclude: Set<string>;
  /** Members to carry over as they are (same objects). */
  keep: Member[];
  ackQuorum: number;
  timeoutMs: number;
  deadlineMs: number;
  factory: (b: StorageBackend, logName: string) => LogReplica;
  isClosed: () => boolean;
  /** Resolves at the next 'active-changed' event (or soon after, if the manager emits none). */
  nextChange: () => Promise<void>;
}

export async function waitForEnsemble(o: WaitForEnsembleOptions): Promise<Member[]> {
  const deadline = Date.now() + o.timeoutMs;
  const opened = new Map<string, Member>();
  for (;;) {
    if (o.isClosed()) throw new XdbmError(ErrorCode.CLOSED, `log ${o.logName} closed while waiting for an ensemble`);
    const expired = Date.now() >= deadline;
    const active = o.manager.getActiveStorage();
    const stale = active.some((b) => o.exclude.has(b.endpointId));
    if (!stale || expired) {
      const members: Member[] = [];
      for (const b of active) {
        if (o.exclude.has(b.endpointId)) continue;
        const kept = o.keep.find((m) => m.id === b.endpointId && !m.failed) ?? opened.get(b.endpointId);
        if (kept) { members.push(kept); continue; }
        let replica: LogReplica | undefined;
        try {
          replica = o.factory(b, o.logName);
          const r = replica;
          await withReplicaDeadline(b, () => r.open(), o.deadlineMs, `open log ${o.logName} on ${b.endpointId}`);
          const m: Member = { id: b.endpointId, replica, durableUpTo: 0, busy: false, failed: false };
          opened.set(b.endpointId, m);
          members.push(m);
        } catch (e) {
          void replica?.close().catch(() => undefined);
          o.exclude.add(b.endpointId);
          try { o.manager.reportDataPathError(b.endpointId, e); } catch { /* ignore */ }
        }
      }
      const complete = members.length === active.length && active.length > 0;
      if ((complete && members.length >= o.ackQuorum) || (expired && members.length >= o.ackQuorum)) {
        for (const [id, m] of opened) if (!members.includes(m)) { opened.delete(id); void m.replica.close().catch(() => undefined); }
        return members;
      }
      if (expired) {
        for (const m of opened.values()) void m.replica.close().catch(() => undefined);
        throw new XdbmError(ErrorCode.QUORUM_LOST, `log ${o.logName}: only ${members.length} usable members after ${o.timeoutMs} ms, ack quorum is ${o.ackQuorum}`, {
          details: { logName: o.logName, members: members.map((m) => m.id), excluded: [...o.exclude], ackQuorum: o.ackQuorum },
        });
      }
    }
    await Promise.race([o.nextChange(), new Promise((r) => setTimeout(r, Math.max(1, Math.min(50, deadline - Date.now()))))]);
  }
}
