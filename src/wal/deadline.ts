/** Per-operation deadline: a hung write becomes an XDBM_IO_TIMEOUT instead of a stuck log. */
import { ErrorCode, XdbmError } from '../errors.js';

export function withDeadline<T>(p: Promise<T>, ms: number, what: string, details?: Record<string, unknown>): Promise<T> {
  if (!(ms > 0) || !Number.isFinite(ms)) return p;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new XdbmError(ErrorCode.IO_TIMEOUT, `${what} took longer than ${ms} ms`, { details: { ...details, deadlineMs: ms } }));
    }, ms);
    p.then(
      (v) => { clearTimeout(timer); resolve(v); },
      (e) => { clearTimeout(timer); reject(e); },
    );
  });
}

export const sleepMs = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
