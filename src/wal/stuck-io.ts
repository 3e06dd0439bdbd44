/**
 * I/O that outlived its deadline, per replica (a member's copy of a log). A write, read or
 * open on a hung member (NFS server gone, NVMe/TCP path dropping packets, frozen file system) keeps a
 * pool thread until the kernel gives up, which may be many seconds after our deadline fired. Sending
 * more I/O to that member meanwhile only ties up more of the shared pool (4 threads unless
 * UV_THREADPOOL_SIZE says otherwise; the CLI/daemon sets 16) and starves the healthy members' writes.
 * So: while a replica has an operation past its deadline that has not returned, no new I/O is sent
 * through it (the writer and the reader share the member's replica); callers get XDBM_IO_TIMEOUT at
 * once and use another member, and the writer reports the member like any other timeout. Opening a
 * replica is keyed by the manager's backend object instead (every open builds a new replica): a
 * backend whose last open is still hung is not opened again (ensemble changes, reads, recovery).
 */
import { ErrorCode, XdbmError } from '../errors.js';

const stuck = new WeakMap<object, Set<Promise<unknown>>>();

/** Remembers `op` (past its deadline) until it settles. */
export function noteStuck(target: object, op: Promise<unknown>): void {
  let set = stuck.get(target);
  if (!set) stuck.set(target, (set = new Set()));
  const tracked = op.then(() => undefined, () => undefined);
  set.add(tracked);
  void tracked.then(() => {
    set.delete(tracked);
    if (set.size === 0 && stuck.get(target) === set) stuck.delete(target);
  });
}

/** Operations through `target` past their deadline and still not returned. */
export function stuckCount(target: object): number {
  return stuck.get(target)?.size ?? 0;
}

/** Throws XDBM_IO_TIMEOUT while `target` (a replica of endpointId) has an operation past its deadline. */
export function assertNotStuck(target: object, endpointId: string, what: string): void {
  const n = stuckCount(target);
  if (n === 0) return;
  throw new XdbmError(ErrorCode.IO_TIMEOUT, `${what}: ${endpointId} has not answered an earlier operation yet (${n} past their deadline)`, {
    details: { endpointId, stuckOperations: n },
  });
}

/**
 * Like withDeadline, per replica: refused at once while `target` is stuck, and an operation that misses
 * its deadline marks `target` stuck until it returns.
 */
export function withReplicaDeadline<T>(target: { readonly endpointId: string }, op: () => Promise<T>, ms: number, what: string): Promise<T> {
  const endpointId = target.endpointId;
  try {
    assertNotStuck(target, endpointId, what);
  } catch (e) {
    return Promise.reject(e);
  }
  const p = op();
  if (!(ms > 0) || !Number.isFinite(ms)) return p;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      noteStuck(target, p);
      reject(new XdbmError(ErrorCode.IO_TIMEOUT, `${what} took longer than ${ms} ms`, { details: { endpointId, deadlineMs: ms } }));
    }, ms);
    p.then(
      (v) => { clearTimeout(timer); resolve(v); },
      (e) => { clearTimeout(timer); reject(e); },
    );
  });
}
