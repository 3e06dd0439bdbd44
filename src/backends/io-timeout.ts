/**
 * Deadline for one backend operation. A hung NFS mount (hard, or soft with long timeo) blocks the
 * syscall in a libuv pool thread; we cannot cancel it, but the caller gets XDBM_IO_TIMEOUT instead of
 * waiting forever. The stuck thread stays busy until the kernel returns.
 */
import { ErrorCode, XdbmError } from '../errors.js';

export async function withIoTimeout<T>(op: Promise<T>, timeoutMs: number | undefined, what: string): Promise<T> {
  if (timeoutMs === undefined || !(timeoutMs > 0)) return op;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new XdbmError(ErrorCode.IO_TIMEOUT, `${what}: no answer within ${timeoutMs} ms`, { details: { timeoutMs } })),
      timeoutMs,
    );
  });
  op.catch(() => undefined); // a late rejection after the deadline must not become unhandled
  try {
    return await Promise.race([op, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
