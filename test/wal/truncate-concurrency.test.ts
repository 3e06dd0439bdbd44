import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openManagedLog } from '../../src/wal/managed-log.js';
import { TestEnsemble } from './helpers/test-ensemble.js';

let root: string;
beforeEach(async () => { root = await mkdtemp(join(tmpdir(), 'xdbm-trunc-')); });
afterEach(async () => { await rm(root, { recursive: true, force: true }); });

describe('truncation under concurrent appends', () => {
  it('never fences the log on its own metadata updates, fails no append, and keeps acknowledged data', async () => {
    const t = await TestEnsemble.create({ root, candidates: 3 });
    const log = await openManagedLog(t.asManager(), 'raft', { writeDeadlineMs: 5000 });
    // Last acknowledgement wins per index (a suffix truncation hands indexes out again).
    const acked = new Map<number, Buffer>();
    const failures: unknown[] = [];
    let stop = false;
    let seq = 0;
    const writer = async (w: number): Promise<void> => {
      while (!stop) {
        const inFlight = Array.from({ length: 8 }, () => {
          const payload = Buffer.from(`w${w}-${seq++}`);
          return log.append(payload).then((r) => { acked.set(r.index, payload); }, (e) => { failures.push(e); });
        });
        await Promise.all(inFlight);
      }
    };
    const writers = Array.from({ length: 4 }, (_, w) => writer(w));
    let prefixCuts = 0;
    let suffixCuts = 0;
    for (let round = 0; round < 12 && failures.length === 0; round++) {
      while (log.lastIndex() < log.firstIndex() + 40) await new Promise((r) => setTimeout(r, 1));
      const last = log.lastIndex();
      if (round % 2 === 0) {
        await log.truncatePrefix(last - 20);
        prefixCuts++;
      } else {
        await log.truncateSuffix(last - 10);
        suffixCuts++;
      }
    }
    stop = true;
    await Promise.all(writers);
    const codes = failures.map((e) => (e as { code?: string }).code ?? String(e));
    expect(codes.filter((c) => c === 'XDBM_FENCED')).toEqual([]);
    expect(codes).toEqual([]);
    expect(prefixCuts).toBe(6);
    expect(suffixCuts).toBe(6);
    // The log still works and is still ours.
    const tail = await log.append(Buffer.from('tail'));
    acked.set(tail.index, Buffer.from('tail'));
    expect(log.firstIndex()).toBeGreaterThan(1);
    let checked = 0;
    for (let i = log.firstIndex(); i <= log.lastIndex(); i++) {
      expect(acked.has(i)).toBe(true);
      expect(await log.read(i)).toEqual(acked.get(i));
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
    await log.close();
    // A reopen (another writer instance) sees the same data.
    const again = await openManagedLog(t.asManager(), 'raft');
    expect(again.lastIndex()).toBe(tail.index);
    for (let i = again.firstIndex(); i <= again.lastIndex(); i++) expect(await again.read(i)).toEqual(acked.get(i));
    await again.close();
  }, 60_000);
});
