/** A worker that dies (process.exit, uncaught throw) is replaced; its probe resolves XDBM_WORKER_CRASHED. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SharedMetricsStore } from '../../src/metrics/shared-store.js';
import { ProbePool } from '../../src/probes/pool.js';
import { CRASH_WORKER, builtOrExplain, dirTarget, removeDir, tempDir } from './helpers.js';

let pool: ProbePool;
let metrics: SharedMetricsStore;
const dirs: string[] = [];
const dir = (prefix: string): string => {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
};

beforeAll(() => {
  builtOrExplain();
  metrics = new SharedMetricsStore(8);
  pool = new ProbePool({ metrics, maxThreads: 1, workerFilename: CRASH_WORKER });
});
afterAll(async () => {
  await pool.close();
  for (const d of dirs) removeDir(d);
});

describe('ProbePool with crashing workers', () => {
  it.each(['crash-exit-', 'crash-throw-'])('%s: resolves XDBM_WORKER_CRASHED, then the replacement probes fine', async (prefix) => {
    const before = pool.crashedWorkers;
    const id = `${prefix}ep`;
    const r = await pool.run(dirTarget(id, dir(prefix)), 'basic', { timeoutMs: 5000 });
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe('XDBM_WORKER_CRASHED');
    expect(pool.crashedWorkers).toBe(before + 1);
    expect(pool.isBusy(id)).toBe(false);
    const s = metrics.detail(id);
    expect(s.consecutiveFailures).toBe(1);
    expect(s.inFlight).toBe(false);
    // same pool (one thread at most), next probe of a sane target works
    const ok = await pool.run(dirTarget('sane', dir('sane-')), 'basic', { timeoutMs: 5000 });
    expect(ok.ok, JSON.stringify(ok.error)).toBe(true);
  });

  it('a crash is not a timeout: it resolves long before the deadline', async () => {
    const r = await pool.run(dirTarget('crash-exit-fast', dir('crash-exit-')), 'performance', { timeoutMs: 60_000 });
    expect(r.error?.code).toBe('XDBM_WORKER_CRASHED');
    expect(r.durationMs).toBeLessThan(60_000);
  });
});
