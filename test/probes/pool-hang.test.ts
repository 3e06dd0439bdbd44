/**
 * Really hung I/O: the basic probe's object is a FIFO with no reader, so the worker's open() blocks in
 * the kernel. The pool must answer XDBM_PROBE_TIMEOUT at the deadline, keep serving other endpoints,
 * refuse to pile up probes of the hung one, and free it once the syscall returns.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SharedMetricsStore } from '../../src/metrics/shared-store.js';
import { ProbePool } from '../../src/probes/pool.js';
import { builtOrExplain, dirTarget, hangingDir, removeDir, tempDir } from './helpers.js';
import { sleep, until } from '../support/until.js';

const TIMEOUT_MS = 400;
let pool: ProbePool;
let metrics: SharedMetricsStore;
let hang: ReturnType<typeof hangingDir>;
let released = false;
const good = tempDir();

beforeAll(async () => {
  builtOrExplain();
  metrics = new SharedMetricsStore(8);
  pool = new ProbePool({ metrics, maxThreads: 2, minThreads: 2, terminateGraceMs: 20 });
  hang = hangingDir();
  // Warm both threads up, so the hung probe starts at once instead of waiting for a worker to boot
  // (on a loaded machine that can take longer than its deadline, and it would then never run).
  const w1 = tempDir();
  const w2 = tempDir();
  await Promise.all([
    pool.run(dirTarget('warm1', w1, false), 'basic', { timeoutMs: 30_000 }),
    pool.run(dirTarget('warm2', w2, false), 'basic', { timeoutMs: 30_000 }),
  ]);
  removeDir(w1);
  removeDir(w2);
});
afterAll(async () => {
  if (!released) hang.release(); // never leave a thread blocked in open(): the test process could not exit
  await sleep(200); // cleanup only: the released thread leaves open() before the pool closes
  await pool.close();
  removeDir(hang.dir);
  removeDir(good);
});

describe('ProbePool with a hung backend', () => {
  it('times out the hung probe at its deadline while a probe of another endpoint completes', async () => {
    const startedAt = Date.now();
    const hung = pool.run(dirTarget('hung', hang.dir, false), 'basic', { timeoutMs: TIMEOUT_MS });
    const other = pool.run(dirTarget('good', good, false), 'performance', { timeoutMs: 20_000 });
    const [h, o] = await Promise.all([hung, other]);
    expect(o.ok, JSON.stringify(o.error)).toBe(true);
    expect(o.ops).toBe(100);
    expect(h.ok).toBe(false);
    expect(h.error?.code).toBe('XDBM_PROBE_TIMEOUT');
    // resolved at its deadline, not before (the worker never answered)
    expect(h.finishedAtMs - startedAt).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    // the failure is in the metrics slot too
    const s = metrics.detail('hung');
    expect(s.consecutiveFailures).toBe(1);
    expect(s.lastProbeOk).toBe(false);
  });

  it('keeps the hung endpoint busy (no pile-up) while its worker is stuck in the syscall', async () => {
    await until(() => pool.stuckWorkers === 1, 'one stuck worker', 5000);
    expect(pool.isBusy('hung')).toBe(true);
    await expect(pool.run(dirTarget('hung', hang.dir, false), 'basic', { timeoutMs: TIMEOUT_MS }))
      .rejects.toMatchObject({ code: 'XDBM_PROBE_BUSY', details: { stuck: true } });
    await expect(pool.run(dirTarget('hung', hang.dir, false), 'performance', { timeoutMs: TIMEOUT_MS }))
      .rejects.toMatchObject({ code: 'XDBM_PROBE_BUSY' });
    expect(pool.stuckWorkers).toBe(1);
    // the stuck worker still shows as in flight in its slot: it really is
    expect(metrics.detail('hung').inFlight).toBe(true);
  });

  it('keeps its full capacity for the others: two probes at once still run', async () => {
    const d2 = tempDir();
    try {
      const rs = await Promise.all([
        pool.run(dirTarget('good', good, false), 'basic', { timeoutMs: 10_000 }),
        pool.run(dirTarget('good2', d2, false), 'basic', { timeoutMs: 10_000 }),
      ]);
      expect(rs.map((r) => r.ok)).toEqual([true, true]);
      expect(pool.threadCount).toBeGreaterThanOrEqual(1);
      expect(pool.threadCount).toBeLessThanOrEqual(2);
    } finally {
      removeDir(d2);
    }
  });

  it('frees the endpoint once the blocked syscall returns and the thread exits', async () => {
    hang.release();
    released = true;
    await until(() => !pool.isBusy('hung'), "endpoint 'hung' free again", 5000);
    expect(pool.stuckWorkers).toBe(0);
    expect(metrics.detail('hung').inFlight).toBe(false);
    rmSync(join(hang.dir, '_health_check_'), { force: true });
    const r = await pool.run(dirTarget('hung', hang.dir, false), 'basic', { timeoutMs: 5000 });
    expect(r.ok, JSON.stringify(r.error)).toBe(true);
    expect(metrics.detail('hung').consecutiveFailures).toBe(0);
  });
});
