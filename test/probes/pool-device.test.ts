/**
 * Probes on a real block device: a 64 MiB file of random bytes on a loop device. The probe area is the
 * last 8 MiB; every byte before it must be unchanged afterwards (sha256 before/after).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProbeTarget } from '../../src/backends/backend.js';
import { nativeAvailable } from '../../src/native/binding.js';
import { SharedMetricsStore } from '../../src/metrics/shared-store.js';
import { ProbePool } from '../../src/probes/pool.js';
import { PROBE_KINDS } from '../../src/types.js';
import { LOOP_NEEDS, builtOrExplain, canLoop, makeLoopDevice, removeDir, sha256Range, type LoopDevice } from './helpers.js';
import { dirname } from 'node:path';
import { DeviceIo } from '../../workers/io/device-io.js';

const AREA_BYTES = 8 * 1024 * 1024;
const run = canLoop && nativeAvailable();

describe.skipIf(!run)(`probes on a loop device (${LOOP_NEEDS}, and the addon built)`, () => {
  let loop: LoopDevice;
  let pool: ProbePool;
  let metrics: SharedMetricsStore;
  let target: Extract<ProbeTarget, { kind: 'device' }>;
  let outsideBefore: string;
  let insideBefore: string;

  beforeAll(() => {
    builtOrExplain();
    loop = makeLoopDevice();
    outsideBefore = sha256Range(loop.file, 0, loop.sizeBytes - AREA_BYTES);
    insideBefore = sha256Range(loop.file, loop.sizeBytes - AREA_BYTES, loop.sizeBytes);
    metrics = new SharedMetricsStore(4);
    pool = new ProbePool({ metrics, maxThreads: 1 });
    target = {
      kind: 'device', endpointId: 'loop', type: 'block', devicePath: loop.device,
      offsetBytes: loop.sizeBytes - AREA_BYTES, lengthBytes: AREA_BYTES, logicalBlockBytes: 512,
    };
  });
  afterAll(async () => {
    await pool?.close();
    loop?.detach();
    if (loop) removeDir(dirname(loop.file));
  });

  it.each(PROBE_KINDS)('%s probe passes on the device', async (kind) => {
    const r = await pool.run(target, kind, { timeoutMs: 20_000, durationMs: 100, queueDepth: 8 });
    expect(r.ok, JSON.stringify(r.error)).toBe(true);
    expect(r.errors).toBe(0);
    expect(r.ops).toBeGreaterThan(0);
    expect(r.avgLatencyUs).toBeGreaterThan(0);
    if (kind !== 'basic') {
      expect(r.bandwidthMBps).toBeGreaterThan(0);
      expect(r.iops).toBeGreaterThan(0);
    }
    if (kind === 'stress') expect(r.health?.stressEngine).toBe('io_uring-direct');
    expect(metrics.detail('loop').lastProbeKind).toBe(kind);
  });

  it('refuses a probe area that runs past the end of the device with XDBM_OUT_OF_PROBE_AREA', async () => {
    const bad: ProbeTarget = { ...target, endpointId: 'loop-bad', offsetBytes: loop.sizeBytes - AREA_BYTES / 2 };
    const r = await pool.run(bad, 'basic', { timeoutMs: 5000 });
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe('XDBM_OUT_OF_PROBE_AREA');
    expect(r.ops).toBe(0); // refused before any I/O
  });

  it('DeviceIo refuses any I/O outside the probe area, byte-exact at both ends', () => {
    const io = new DeviceIo(target as Extract<ProbeTarget, { kind: 'device' }>);
    try {
      const a = loop.sizeBytes - AREA_BYTES;
      expect(() => io.assertInArea(a, 512)).not.toThrow();
      expect(() => io.assertInArea(loop.sizeBytes - 512, 512)).not.toThrow();
      for (const [off, len] of [[a - 512, 512], [a - 1, 2], [loop.sizeBytes - 512, 1024], [0, 4096], [a, 0]] as const) {
        expect(() => io.assertInArea(off, len)).toThrowError(expect.objectContaining({ code: 'XDBM_OUT_OF_PROBE_AREA' }));
      }
      // every object name maps inside the area
      for (const name of ['_health_check_', '_perf_test_0', '_perf_test_99999', 'anything']) {
        const off = io.offsetOf(name, 4096);
        expect(off).toBeGreaterThanOrEqual(a);
        expect(off + 4096).toBeLessThanOrEqual(loop.sizeBytes);
      }
    } finally {
      io.close();
    }
  });

  it('left every byte outside the probe area unchanged, and did write inside it', () => {
    loop.detach(); // flushes the loop device into its backing file
    expect(sha256Range(loop.file, 0, loop.sizeBytes - AREA_BYTES)).toBe(outsideBefore);
    expect(sha256Range(loop.file, loop.sizeBytes - AREA_BYTES, loop.sizeBytes)).not.toBe(insideBefore);
  });
});
