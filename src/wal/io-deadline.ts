/**
 * Deadlines for member I/O, on the log's clock. A write, read or open on a hung member (NFS server
 * gone, NVMe/TCP path dropping packets, frozen file system) keeps a pool thread until the kernel gives
 * up, which may be long after our deadline. Sending more I/O to that member meanwhile only ties up
 * more of the shared libuv pool and starves the healthy members. So while a member has an operation
 * past its deadline that has not returned, no new I/O is sent to it: callers get XDBM_IO_TIMEOUT at
 * once and use another member.
 */
import { ErrorCode, XdbmError } from '../errors.js';
import type { Clock } from './clock.js';

const stuck = new WeakMap<object, Set<Promise<unknown>>>();

/** Operations through `target` past their deadline and still not returned. */
export function stuckCount(target: object): number {
  return stuck.get(target)?.size ?? 0;
}

function noteStuck(target: object, op: Promise<unknown>): void {
  let set = stuck.get(target);
  if (!set) stuck.set(target, (set = new Set()));
  const tracked = op.then(() => undefined, () => undefined);
  set.add(tracked);
  void tracked.then(() => {
    set.delete(tracked);
    if (set.size === 0 && stuck.get(target) === set) stuck.delete(target);
  });
}

/** `p` or XDBM_IO_TIMEOUT after `ms` (p keeps running; nothing here can cancel kernel I/O). */
export function withDeadline<T>(clock: Clock, p: Promise<T>, ms: number, what: string, details?: Record<string, unknown>): Promise<T> {
  if (!(ms > 0) || !Number.isFinite(ms)) return p;
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimer(() => {
      reject(new XdbmError(ErrorCode.IO_TIMEOUT, `${what} took longer than ${ms} ms`, { details: { ...details, deadlineMs: ms } }));
    }, ms);
    p.then(
      (v) => { clock.clearTimer(timer); resolve(v); },
      (e) => { clock.clearTimer(timer); reject(e); },
    );
  });
}

/**
 * Like withDeadline, per member: refused at once while `target` has an operation past its deadline,
 * and an operation that misses its deadline marks `target` stuck until it returns.
 */
export function withMemberDeadline<T>(clock: Clock, target: { readonly endpointId: string }, op: () => Promise<T>, ms: number, what: string): Promise<T> {
  const n = stuckCount(target);
  if (n > 0) {
    return Promise.reject(new XdbmError(ErrorCode.IO_TIMEOUT, `${what}: ${target.endpointId} has not answered an earlier operation yet (${n} past their deadline)`, {
      details: { endpointId: target.endpointId, stuckOperations: n },
    }));
  }
  let p: Promise<T>;
  try {
    p = op();
  } catch (e) {
    return Promise.reject(e);
  }
  if (!(ms > 0) || !Number.isFinite(ms)) return p;
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimer(() => {
      noteStuck(target, p);
      reject(new XdbmError(ErrorCode.IO_TIMEOUT, `${what} took longer than ${ms} ms`, { details: { endpointId: target.endpointId, deadlineMs: ms } }));
    }, ms);
    p.then(
      (v) => { clock.clearTimer(timer); resolve(v); },
      (e) => { clock.clearTimer(timer); reject(e); },
    );
  });
}
