/** DirectProbeRunner: the seed's probes through the StorageBackend interface, on real directories. */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StorageBackend } from '../../src/backends/backend.js';
import { create as createLocal } from '../../src/backends/local.js';
import { DirectProbeRunner, PERF_OP_COUNT } from '../../src/probes/direct-runner.js';
import { localEndpoint, tempRoot } from './helpers.js';
import { until } from '../support/until.js';

const t = tempRoot('runner');
afterAll(() => t.cleanup());
const LIMITS = { maxAcceptableLatencyUs: 1_000_000, maxAcceptableErrorRate: 0.1 };

async function backend(id: string): Promise<StorageBackend> {
  const b = createLocal(localEndpoint(id, join(t.dir, id)));
  await b.init();
  return b;
}

describe('DirectProbeRunner', () => {
  it('basic: write, read back, verify, delete in the probe area', async () => {
    const b = await backend('b1');
    const r = new DirectProbeRunner((id) => (id === 'b1' ? b : undefined), LIMITS);
    const res = await r.run(b.probeTarget(), 'basic', { timeoutMs: 2000 });
    expect(res).toMatchObject({ endpointId: 'b1', kind: 'basic', ok: true, ops: 3, errors: 0, errorRate: 0 });
    expect(res.avgLatencyUs).toBeGreaterThan(0);
    expect(readdirSync(join(t.dir, 'b1', '.xdbm-probe'))).toEqual([]);
    expect(readdirSync(join(t.dir, 'b1')).sort()).toEqual(['.xdbm-probe']);
  });

  it('performance: 100 x 4 KiB synced writes give latency, bandwidth and IOPS', async () => {
    const b = await backend('b2');
    const r = new DirectProbeRunner(() => b, LIMITS);
    const res = await r.run(b.probeTarget(), 'performance', { timeoutMs: 30_000 });
    expect(res.ok).toBe(true);
    expect(res.ops).toBe(PERF_OP_COUNT);
    expect(res.bandwidthMBps).toBeGreaterThan(0);
    expect(res.iops).toBeGreaterThan(0);
    expect(res.p99LatencyUs).toBeGreaterThanOrEqual(res.p50LatencyUs);
    expect(readdirSync(join(t.dir, 'b2', '.xdbm-probe'))).toEqual([]);
  });

  it('performance fails above the acceptable latency (seed MAX_ACCEPTABLE_LATENCY_US)', async () => {
    const b = await backend('b3');
    const r = new DirectProbeRunner(() => b, { maxAcceptableLatencyUs: 0.001, maxAcceptableErrorRate: 0.1 });
    const res = await r.run(b.probeTarget(), 'performance', { timeoutMs: 30_000 });
    expect(res.ok).toBe(false);
    expect(res.error?.message).toMatch(/average latency/);
  });

  it('a removed directory fails the probe with the OS error', async () => {
    const b = await backend('b4');
    rmSync(join(t.dir, 'b4'), { recursive: true });
    const r = new DirectProbeRunner(() => b, LIMITS);
    const res = await r.run(b.probeTarget(), 'basic', { timeoutMs: 2000 });
    expect(res.ok).toBe(false);
    expect(res.error).toMatchObject({ code: 'XDBM_IO_ERROR' });
    expect(res.error?.message).toMatch(/ENOENT/);
  });

  it('re-initialises a closed backend before probing it', async () => {
    const b = await backend('b5');
    await b.close();
    rmSync(join(t.dir, 'b5'), { recursive: true });
    const r = new DirectProbeRunner(() => b, LIMITS);
    expect((await r.run(b.probeTarget(), 'basic', { timeoutMs: 2000 })).ok).toBe(true);
    expect(existsSync(join(t.dir, 'b5', '.xdbm-probe'))).toBe(true);
  });

  it('a hung backend ends as XDBM_PROBE_TIMEOUT and blocks a second probe (XDBM_PROBE_BUSY) until it ends', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const hung = {
      endpointId: 'h', type: 'local', isOpen: true, init: async () => undefined,
      write: () => gate, read: async () => Buffer.alloc(0), delete: async () => undefined, sync: async () => undefined,
      healthInfo: async () => ({}), close: async () => undefined,
      probeTarget: () => ({ kind: 'dir', endpointId: 'h', type: 'local', dir: '/nowhere', direct: false }),
    } as unknown as StorageBackend;
    const r = new DirectProbeRunner(() => hung, LIMITS);
    const res = await r.run(hung.probeTarget(), 'basic', { timeoutMs: 30 });
    expect(res).toMatchObject({ ok: false, error: { code: 'XDBM_PROBE_TIMEOUT' } });
    await expect(r.run(hung.probeTarget(), 'basic', { timeoutMs: 30 })).rejects.toMatchObject({ code: 'XDBM_PROBE_BUSY' });
    release();
    // Busy until the released probe has finished in the background; then a new probe runs.
    const again = await until(() => r.run(hung.probeTarget(), 'basic', { timeoutMs: 30 }).catch((e: { code?: string }) => {
      if (e.code === 'XDBM_PROBE_BUSY') return undefined;
      throw e;
    }), 'the endpoint free after release', 5000);
    expect(again.error?.code).not.toBe('XDBM_PROBE_TIMEOUT');
  });
});
