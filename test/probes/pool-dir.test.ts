import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SharedMetricsStore } from '../../src/metrics/shared-store.js';
import { ProbePool } from '../../src/probes/pool.js';
import type { ProbeResult } from '../../src/probes/types.js';
import { builtOrExplain, dirTarget, removeDir, tempDir } from './helpers.js';
import { until } from '../support/until.js';

let pool: ProbePool;
let metrics: SharedMetricsStore;
const dirs: string[] = [];

beforeAll(() => {
  builtOrExplain();
  metrics = new SharedMetricsStore(64);
  pool = new ProbePool({ metrics, maxThreads: 2 });
});
afterAll(async () => {
  await pool.close();
  for (const d of dirs) removeDir(d);
});

function dir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

function expectFigures(r: ProbeResult): void {
  const why = JSON.stringify(r);
  expect(r.ok, why).toBe(true);
  expect(r.errors, why).toBe(0);
  expect(r.errorRate, why).toBe(0);
  expect(r.avgLatencyUs, why).toBeGreaterThan(0);
  expect(r.p50LatencyUs, why).toBeGreaterThan(0);
  expect(r.p99LatencyUs, why).toBeGreaterThanOrEqual(r.p50LatencyUs);
  expect(r.finishedAtMs, why).toBeLessThanOrEqual(Date.now());
}

describe('ProbePool on a real directory', () => {
  it.each([true, false])('basic probe writes, reads back, verifies and deletes (direct=%s)', async (direct) => {
    const d = dir();
    const r = await pool.run(dirTarget('basic-' + direct, d, direct), 'basic', { timeoutMs: 5000 });
    expectFigures(r);
    expect(r.ops).toBe(3); // write, read, delete
    expect(readdirSync(d), JSON.stringify(r)).toEqual([]);
  });

  it('performance probe does 100 x 4 KiB writes and leaves nothing behind', async () => {
    const d = dir();
    const r = await pool.run(dirTarget('perf', d), 'performance', { timeoutMs: 10_000 });
    expectFigures(r);
    expect(r.ops).toBe(100);
    expect(r.bandwidthMBps).toBeGreaterThan(0);
    expect(r.iops).toBeGreaterThan(0);
    // bandwidth and IOPS describe the same writes: 4096 bytes each
    expect(r.bandwidthMBps * 1e6 / r.iops).toBeCloseTo(4096, 0);
    expect(readdirSync(d), JSON.stringify(r)).toEqual([]);
  });

  it('performance probe fails with XDBM_PROBE_THRESHOLD over maxAcceptableLatencyUs', async () => {
    const strict = new ProbePool({ maxThreads: 1, thresholds: { maxAcceptableLatencyUs: 0.001 } });
    try {
      const r = await strict.run(dirTarget('perf-strict', dir()), 'performance', { timeoutMs: 10_000 });
      expect(r.ok).toBe(false);
      expect(r.error?.code).toBe('XDBM_PROBE_THRESHOLD');
      expect(r.ops).toBe(100);
    } finally {
      await strict.close();
    }
  });

  it.each([true, false])('stress probe keeps a queue depth for a bounded time (direct=%s)', async (direct) => {
    const d = dir();
    const r = await pool.run(dirTarget('stress-' + direct, d, direct), 'stress', { timeoutMs: 5000, queueDepth: 8, durationMs: 80 });
    expectFigures(r);
    // on a loaded disk one write can take longer than the whole 80 ms: only "some writes done" is certain
    expect(r.ops, JSON.stringify(r)).toBeGreaterThan(0);
    expect(r.health?.queueDepth).toBe(8);
    expect(typeof r.health?.stressEngine).toBe('string');
    expect(readdirSync(d), JSON.stringify(r)).toEqual([]);
  });

  it('stress on an NFS-type dir uses concurrent fs writes', async () => {
    const d = dir();
    const r = await pool.run({ kind: 'dir', endpointId: 'nfs-like', type: 'nfs', dir: d, direct: false }, 'stress',
      { timeoutMs: 5000, queueDepth: 4, durationMs: 50 });
    expectFigures(r);
    expect(r.health?.stressEngine).toBe('fs-concurrent');
  });

  it('full probe runs all three and reports each part, plus the health facts given', async () => {
    const d = dir();
    const health = { controllerState: 'live', anaState: 'optimized', smart: { criticalWarning: 0 } };
    const r = await pool.run(dirTarget('full', d), 'full', { timeoutMs: 10_000, durationMs: 50, health });
    expectFigures(r);
    const parts = r.health?.probes as Record<string, { ok: boolean }>;
    expect(Object.keys(parts)).toEqual(['basic', 'performance', 'stress']);
    expect(Object.values(parts).every((p) => p.ok)).toBe(true);
    expect(r.health?.anaState).toBe('optimized');
    expect(r.ops).toBeGreaterThan(103);
  });

  it('full probe fails with XDBM_NVME_ERROR when the health facts show a problem', async () => {
    const r = await pool.run(dirTarget('full-bad', dir()), 'full',
      { timeoutMs: 10_000, durationMs: 20, health: { controllerState: 'live', anaState: 'inaccessible' } });
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe('XDBM_NVME_ERROR');
    expect(r.error?.message).toContain('inaccessible');
  });

  it('a probe of a missing directory resolves ok=false with an I/O code, not a rejection', async () => {
    const r = await pool.run(dirTarget('missing', join(dir(), 'no', 'such')), 'basic', { timeoutMs: 5000 });
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe('XDBM_IO_ERROR');
    expect(r.errors).toBe(1);
  });

  it('rejects an unknown kind and a bad timeout with XDBM_INVALID_ARGUMENT', async () => {
    await expect(pool.run(dirTarget('x', dir()), 'nope' as never, { timeoutMs: 100 }))
      .rejects.toMatchObject({ code: 'XDBM_INVALID_ARGUMENT' });
    await expect(pool.run(dirTarget('x', dir()), 'basic', { timeoutMs: 0 }))
      .rejects.toMatchObject({ code: 'XDBM_INVALID_ARGUMENT' });
  });
});

describe('ProbePool metrics and concurrency', () => {
  it('publishes the result into the SharedArrayBuffer slot, read without messages', async () => {
    const d = dir();
    const slot = metrics.register('pub');
    const before = metrics.detail('pub');
    expect(before.ops).toBe(0);
    const r = await pool.run(dirTarget('pub', d), 'performance', { timeoutMs: 10_000 });
    const after = metrics.detail('pub');
    expect(after.slot).toBe(slot);
    expect(after.ops).toBe(100);
    expect(after.metrics.avgLatencyUs).toBe(r.avgLatencyUs);
    expect(after.metrics.p99LatencyUs).toBe(r.p99LatencyUs);
    expect(after.metrics.iops).toBe(r.iops);
    expect(after.metrics.lastUpdateMs).toBe(r.finishedAtMs);
    expect(after.histogram.reduce((a, b) => a + b, 0)).toBe(100);
    expect(after.lastProbeKind).toBe('performance');
    expect(after.consecutiveSuccesses).toBe(1);
    expect(after.inFlight).toBe(false);
    // a second reader on the same buffer (as another module would attach) sees the same numbers
    const again = new SharedMetricsStore(64, metrics.buffer);
    expect(again.capacitySlots).toBe(64);
  });

  it('the slot shows the probe in flight while it runs, with the worker thread id', async () => {
    const d = dir();
    metrics.register('live');
    const p = pool.run(dirTarget('live', d), 'stress', { timeoutMs: 5000, durationMs: 300, queueDepth: 2 });
    const threadId = await until(() => {
      const s = metrics.detail('live');
      return s.inFlight ? { id: s.inFlightThreadId } : undefined;
    }, 'the probe in flight in its slot', { timeoutMs: 2000, intervalMs: 5 });
    await p;
    expect(threadId.id).toBeGreaterThan(0);
    expect(metrics.detail('live').inFlight).toBe(false);
  });

  it('allows one probe in flight per endpoint: a second rejects with XDBM_PROBE_BUSY', async () => {
    const d = dir();
    const first = pool.run(dirTarget('one', d), 'stress', { timeoutMs: 5000, durationMs: 150, queueDepth: 2 });
    expect(pool.isBusy('one')).toBe(true);
    await expect(pool.run(dirTarget('one', d), 'basic', { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'XDBM_PROBE_BUSY' });
    // another endpoint is not held up by it
    expect((await pool.run(dirTarget('two', dir()), 'basic', { timeoutMs: 5000 })).ok).toBe(true);
    expect((await first).ok).toBe(true);
    expect(pool.isBusy('one')).toBe(false);
    expect((await pool.run(dirTarget('one', d), 'basic', { timeoutMs: 5000 })).ok).toBe(true);
  });

  it('a caller abort resolves XDBM_PROBE_ABORTED and frees the endpoint', async () => {
    const d = dir();
    const ac = new AbortController();
    // direct=false: fs writes, which stop between operations; termination inside the addon is pool-terminate.test.ts
    const p = pool.run(dirTarget('abort', d, false), 'stress', { timeoutMs: 5000, durationMs: 2000, queueDepth: 2, signal: ac.signal });
    setTimeout(() => ac.abort(), 50); // on purpose: the caller aborts while the probe runs
    const r = await p;
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe('XDBM_PROBE_ABORTED');
    expect(r.durationMs).toBeLessThan(2000);
    await until(() => !pool.isBusy('abort'), "endpoint 'abort' free again", 3000);
    expect((await pool.run(dirTarget('abort', d), 'basic', { timeoutMs: 5000 })).ok).toBe(true);
  });

  it('serves many endpoints at once through few threads (queued, none lost)', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `many-${i}`);
    const rs = await Promise.all(ids.map((id) => pool.run(dirTarget(id, dir(), false), 'basic', { timeoutMs: 30_000 })));
    expect(rs.map((r) => r.ok)).toEqual(ids.map(() => true));
    expect(rs.map((r) => r.endpointId)).toEqual(ids);
  });

  it('a probe that outlives its deadline but still runs stops by itself: XDBM_PROBE_TIMEOUT, no stuck worker', async () => {
    const d = dir();
    // 100 durable writes cannot finish in 10 ms: the worker sees the deadline / cancel word between writes
    const r = await pool.run(dirTarget('late', d, false), 'performance', { timeoutMs: 10 });
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe('XDBM_PROBE_TIMEOUT');
    await until(() => !pool.isBusy('late'), "endpoint 'late' free again", 5000);
    expect(pool.stuckWorkers).toBe(0);
    // exactly one result was published, and it agrees with what the caller got
    const slot = metrics.detail('late');
    expect(slot.consecutiveFailures).toBe(1);
    expect(slot.lastProbeOk).toBe(false);
  });

  it('a probe running when the pool closes resolves XDBM_CLOSED', async () => {
    const p = new ProbePool({ maxThreads: 1 });
    const d = dir();
    const running = p.run(dirTarget('closing', d, false), 'stress', { timeoutMs: 30_000, durationMs: 10_000, queueDepth: 1 });
    await until(() => readdirSync(d).length > 0, 'the stress probe writing', 10_000); // running, not just queued
    await p.close();
    const r = await running;
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe('XDBM_CLOSED');
  });

  it('rejects with XDBM_CLOSED after close', async () => {
    const p = new ProbePool({ maxThreads: 1 });
    await p.close();
    await expect(p.run(dirTarget('c', dir()), 'basic', { timeoutMs: 100 })).rejects.toMatchObject({ code: 'XDBM_CLOSED' });
    expect(existsSync(d0())).toBe(true);
  });
});

function d0(): string {
  return dirs[0]!;
}
