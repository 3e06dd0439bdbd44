/**
 * Waiting on a condition instead of sleeping a fixed time: polls `fn` until it returns a truthy value
 * (which is returned) or the deadline passes (then throws, naming what was awaited). The deadline is a
 * generous upper bound for busy 2-core machines, not a speed assert: assert on timings separately.
 */
export interface UntilOptions {
  /** Give up after this long (default 15 s). */
  timeoutMs?: number;
  /** Poll this often (default 20 ms). */
  intervalMs?: number;
}

export async function until<T>(
  fn: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  what: string,
  opts: UntilOptions | number = {},
): Promise<T> {
  const { timeoutMs = 15_000, intervalMs = 20 } = typeof opts === 'number' ? { timeoutMs: opts } : opts;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/**
 * Like until(), but going on either way after `timeoutMs`: resolves whether the condition came true.
 * For waits whose outcome the test then inspects itself ("until X, or N s at most").
 */
export async function within(cond: () => boolean, timeoutMs: number, intervalMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond() && Date.now() < deadline) await sleep(intervalMs);
  return cond();
}

/**
 * A fixed wait. Only for tests where the passing time is the point ("nothing happens for N ms"):
 * say why at the call site. To wait for something, use until().
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
