import { Worker } from 'node:worker_threads';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SharedMetricsStore } from '../../src/metrics/shared-store.js';
import { SlotWriter } from '../../src/metrics/slot-writer.js';
import {
  HEADER_BYTES, HISTOGRAM_BUCKETS, SLOT_BYTES, SLOT_F64_COUNT, bufferBytesFor, slotF64Base, slotHistogramBase,
  slotWordBase, S_SEQ,
} from '../../src/metrics/layout.js';
import { isXdbmError } from '../../src/errors.js';
import { until } from '../support/until.js';

const distWriter = pathToFileURL(path.resolve(import.meta.dirname, '../../dist/src/metrics/slot-writer.js')).href;

describe('metrics layout', () => {
  it('keeps slots 64-byte aligned and Float64 fields 8-byte aligned', () => {
    expect(SLOT_BYTES % 64).toBe(0);
    expect(HEADER_BYTES % 64).toBe(0);
    for (const slot of [0, 1, 7]) {
      expect(Number.isInteger(slotF64Base(slot))).toBe(true);
      expect(Number.isInteger(slotHistogramBase(slot))).toBe(true);
      // histogram ends inside the slot
      expect((slotHistogramBase(slot) + HISTOGRAM_BUCKETS) * 4).toBeLessThanOrEqual(HEADER_BYTES + (slot + 1) * SLOT_BYTES);
      expect(slotWordBase(slot) * 4).toBe(HEADER_BYTES + slot * SLOT_BYTES);
    }
    expect(bufferBytesFor(3)).toBe(HEADER_BYTES + 3 * SLOT_BYTES);
  });
});

describe('SharedMetricsStore registry', () => {
  it('registers, finds, releases and reuses slots', () => {
    const s = new SharedMetricsStore(2);
    expect(s.register('a')).toBe(0);
    expect(s.register('b')).toBe(1);
    expect(s.register('a')).toBe(0);
    expect(s.slotOf('b')).toBe(1);
    const genB = s.slotGeneration('b');
    let err: unknown;
    try { s.register('c'); } catch (e) { err = e; }
    expect(isXdbmError(err, 'XDBM_INVALID_ARGUMENT')).toBe(true);
    s.release('b');
    expect(s.slotOf('b')).toBeUndefined();
    expect(s.register('c')).toBe(1);
    expect(s.slotGeneration('c')).not.toBe(genB);
    expect(s.snapshot('c').lastUpdateMs).toBe(0);
  });

  it('throws XDBM_UNKNOWN_ENDPOINT for an unregistered endpoint', () => {
    const s = new SharedMetricsStore(1);
    expect(() => s.snapshot('nope')).toThrowError(expect.objectContaining({ code: 'XDBM_UNKNOWN_ENDPOINT' }));
  });

  it('records ops and state from the main thread', () => {
    const s = new SharedMetricsStore(4);
    s.register('x');
    expect(s.getState('x')).toBe('UNKNOWN');
    s.setState('x', 'DEGRADED');
    expect(s.getState('x')).toBe('DEGRADED');
    s.recordOp('x', 100, true, 4096);
    s.recordOp('x', 300, true, 4096);
    s.recordOp('x', 0, false, 4096);
    const d = s.detail('x');
    expect(d.ops).toBe(3);
    expect(d.errors).toBe(1);
    expect(d.latencySumUs).toBe(400);
    expect(d.metrics.avgLatencyUs).toBeCloseTo(100 * 0.8 + 300 * 0.2, 6);
    expect(d.metrics.errorRate).toBeCloseTo(0.2, 6);
    expect(d.histogram[6]).toBe(1); // 100 us in [64,128)
    expect(d.histogram[8]).toBe(1); // 300 us in [256,512)
    expect(d.metrics.p50LatencyUs).toBeGreaterThanOrEqual(64);
    expect(d.metrics.p50LatencyUs).toBeLessThanOrEqual(128);
    expect(d.metrics.lastUpdateMs).toBeGreaterThan(0);
    s.setLoad('x', 0.5);
    expect(s.snapshot('x').load).toBe(0.5);
  });

  it('attaches to an existing buffer and rejects a foreign one', () => {
    const s = new SharedMetricsStore(3);
    s.register('a');
    s.recordOp('a', 10, true, 0);
    expect(() => new SharedMetricsStore(3, s.buffer)).not.toThrow();
    expect(() => new SharedMetricsStore(3, new SharedArrayBuffer(bufferBytesFor(3))))
      .toThrowError(expect.objectContaining({ code: 'XDBM_INVALID_ARGUMENT' }));
  });

  it('publishes a probe result and drops a late publish to a reused slot', () => {
    const s = new SharedMetricsStore(1);
    s.register('a');
    const gen = s.slotGeneration('a');
    const w = new SlotWriter(s.buffer);
    const pub = { ok: false, kindCode: 2, ops: 100, errors: 3, errorRate: 0.03, avgLatencyUs: 50, p50LatencyUs: 40,
      p99LatencyUs: 90, bandwidthMBps: 80, iops: 20000, durationMs: 5, finishedAtMs: 1234, latenciesUs: [40, 50, 90] };
    expect(w.publishProbe(0, pub, gen)).toBe(true);
    const d = s.detail('a');
    expect(d).toMatchObject({ ops: 100, errors: 3, consecutiveFailures: 1, lastProbeKind: 'performance', lastProbeOk: false });
    expect(d.metrics).toMatchObject({ avgLatencyUs: 50, p99LatencyUs: 90, iops: 20000, lastUpdateMs: 1234 });
    s.release('a');
    s.register('b');
    expect(w.publishProbe(0, pub, gen)).toBe(false);
    expect(s.detail('b').ops).toBe(0);
  });

  it('recovers a slot whose writer died inside the seqlock', () => {
    const s = new SharedMetricsStore(1);
    s.register('a');
    const w = new SlotWriter(s.buffer);
    s.recordOp('a', 100, true, 0);
    expect(s.detail('a').stale).toBe(false);
    w.lock(0); // and never unlock: a writer that was terminated mid-publish
    // the reader does not hang: it gets the last consistent copy, marked stale
    const d = s.detail('a');
    expect(d.stale).toBe(true);
    expect(d.ops).toBe(1);
    expect(w.forceUnlock(0)).toBe(true);
    s.recordOp('a', 100, true, 0);
    expect(s.detail('a')).toMatchObject({ stale: false, ops: 2 });
  });

  it('a main-thread write to a slot a dead writer left locked is dropped, not spun on', () => {
    const s = new SharedMetricsStore(1);
    s.register('a');
    new SlotWriter(s.buffer).lock(0);
    const before = s.writer.droppedWrites;
    s.recordOp('a', 100, true, 0); // returns: the update is dropped
    s.setLoad('a', 0.5);
    expect(s.writer.droppedWrites).toBe(before + 2);
    // re-registering the slot for another endpoint frees it
    s.release('a');
    s.register('b');
    s.recordOp('b', 100, true, 0);
    expect(s.detail('b')).toMatchObject({ ops: 1, stale: false });
  });

  it('a slot locked before it was ever read fails with XDBM_IO_TIMEOUT instead of hanging', () => {
    const s = new SharedMetricsStore(1);
    s.register('a');
    new SlotWriter(s.buffer).lock(0);
    expect(() => s.snapshot('a')).toThrowError(expect.objectContaining({ code: 'XDBM_IO_TIMEOUT' }));
  });
});

describe('SharedMetricsStore seqlock across threads', () => {
  it('a reader on the main thread never sees a torn slot while a worker writes', async () => {
    const s = new SharedMetricsStore(2);
    s.register('other');
    const slot = s.register('hot');
    // The worker writes value k into every Float64 field and every histogram bucket of the slot, k = 1, 2, ...
    const code = `
      const { workerData, parentPort } = require('node:worker_threads');
      import(workerData.url).then(({ SlotWriter }) => {
        const w = new SlotWriter(workerData.sab);
        const f64 = new Float64Array(workerData.sab), u32 = new Uint32Array(workerData.sab);
        const stop = new Int32Array(workerData.stop);
        let k = 0;
        parentPort.postMessage('ready');
        while (Atomics.load(stop, 0) === 0) {
          k++;
          w.withLock(workerData.slot, (f, h) => {
            for (let i = 0; i < ${SLOT_F64_COUNT}; i++) f64[f + i] = k;
            for (let i = 0; i < ${HISTOGRAM_BUCKETS}; i++) u32[h + i] = k;
          });
        }
        parentPort.postMessage(k);
      });`;
    const stop = new SharedArrayBuffer(4);
    const worker = new Worker(code, { eval: true, workerData: { url: distWriter, sab: s.buffer, slot, stop } });
    const messages: unknown[] = [];
    const done = new Promise<number>((resolve, reject) => {
      worker.on('message', (m) => { messages.push(m); if (typeof m === 'number') resolve(m); });
      worker.on('error', reject);
    });
    await until(() => messages.length > 0, 'the writer thread started', { intervalMs: 5 });
    let reads = 0;
    let torn = 0;
    let stale = 0;
    const seen = new Set<number>();
    // Read until the reader has raced many different writes (bounded, for a loaded machine).
    const readUntilMs = Date.now() + 10_000;
    const minReadMs = Date.now() + 200;
    while (Date.now() < readUntilMs && (Date.now() < minReadMs || seen.size <= 50)) {
      const d = s.detail('hot');
      const k = d.ops;
      const vals = [d.errors, d.latencySumUs, d.metrics.avgLatencyUs, d.metrics.p50LatencyUs, d.metrics.p99LatencyUs,
        d.metrics.bandwidthMBps, d.metrics.iops, d.metrics.errorRate, d.metrics.load, d.metrics.lastUpdateMs,
        d.lastProbeMs, d.lastProbeDurationMs, ...d.histogram];
      if (vals.some((v) => v !== k)) torn++;
      if (d.stale) stale++;
      expect(d.seq % 2).toBe(0);
      seen.add(k);
      reads++;
    }
    Atomics.store(new Int32Array(stop), 0, 1);
    const writes = await done;
    await worker.terminate();
    expect(torn, `torn copies seen: ${torn} of ${reads}`).toBe(0);
    expect(writes).toBeGreaterThan(100);
    // the reader really raced the writer: it saw many different values
    expect(seen.size).toBeGreaterThan(10);
    expect(reads).toBeGreaterThan(10);
    expect(stale).toBeLessThan(reads); // most reads are fresh
    // the neighbour slot was never touched
    expect(s.detail('other').ops).toBe(0);
    expect(Atomics.load(new Int32Array(s.buffer), slotWordBase(slot) + S_SEQ) % 2).toBe(0);
  });
});
