import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openManagedLog } from '../../src/wal/log.js';
import { EtcdMetadataStore } from '../../src/wal/metadata/etcd-store.js';
import type { MetadataStore } from '../../src/wal/metadata/types.js';
import { etcdAvailable, startEtcd, type EtcdServer } from './helpers/etcd-server.js';
import { TestEnsemble } from './helpers/test-ensemble.js';

let root: string;
beforeEach(async () => { root = await mkdtemp(join(tmpdir(), 'xdbm-trunc-')); });
afterEach(async () => { await rm(root, { recursive: true, force: true }); });

/**
 * Several concurrent writers append to one log while truncatePrefix and truncateSuffix alternate:
 * no append may fail (least of all with XDBM_FENCED naming the log's own writer), and every index
 * still in range must read back as acknowledged, from this log and after a reopen. Then a real second
 * writer opens the log and the first one must be fenced.
 */
async function truncateUnderLoad(store: () => MetadataStore | undefined): Promise<void> {
    const t = await TestEnsemble.create({ root, candidates: 3 });
    const s1 = store();
    const log = await openManagedLog(t.asManager(), 'raft', { writeDeadlineMs: 5000, metadataStore: s1, writerId: 'A' });
    // Last acknowledgement wins per index (a suffix truncation hands indexes out again).
    const acked = new Map<number, Buffer>();
    const failures: unknown[] = [];
    let stop = false;
    let seq = 0;
    // Each writer keeps up to 16 appends in flight and issues the next as soon as one settles, with a
    // short pause now and then, so appends arrive before, during and after every truncation.
    const writer = async (w: number): Promise<void> => {
      const window = new Set<Promise<void>>();
      let n = 0;
      while (!stop && failures.length === 0) {
        const payload = Buffer.from(`w${w}-${seq++}`);
        const p: Promise<void> = log.append(payload).then((r) => { acked.set(r.index, payload); }, (e) => { failures.push(e); })
          .finally(() => { window.delete(p); });
        window.add(p);
        if (window.size >= 16) await Promise.race(window);
        if (++n % 5 === w % 5) await new Promise((r) => setImmediate(r));
      }
      await Promise.all(window);
    };
    const writers = Array.from({ length: 6 }, (_, w) => writer(w));
    // Liveness only (not a speed bound): a truncation that never completes while appends go on fails
    // the test instead of hanging it.
    const live = <T>(p: Promise<T>, what: string): Promise<T> => new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what} did not complete within 20 s`)), 20_000);
      p.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
    });
    let prefixCuts = 0;
    let suffixCuts = 0;
    try {
    for (let round = 0; round < 200 && failures.length === 0; round++) {
      while (log.lastIndex() < log.firstIndex() + 40 && failures.length === 0) await new Promise((r) => setTimeout(r, 1));
      const last = log.lastIndex();
      if (round % 2 === 0) {
        await live(log.truncatePrefix(last - 20), `truncatePrefix(${last - 20})`);
        prefixCuts++;
      } else {
        await live(log.truncateSuffix(last - 10), `truncateSuffix(${last - 10})`);
        suffixCuts++;
      }
    }
    } finally {
      stop = true;
    }
    await live(Promise.all(writers), 'the writers');
    const codes = failures.map((e) => (e as { code?: string }).code ?? String(e));
    expect(codes.filter((c) => c === 'XDBM_FENCED')).toEqual([]);
    expect(codes).toEqual([]);
    expect(prefixCuts).toBe(100);
    expect(suffixCuts).toBe(100);
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
    // A real second writer takes the log over: it sees the same data, and the first writer is fenced.
    const s2 = store();
    const again = await openManagedLog(t.asManager(), 'raft', { metadataStore: s2, writerId: 'B' });
    expect(again.lastIndex()).toBe(tail.index);
    for (let i = again.firstIndex(); i <= again.lastIndex(); i++) expect(await again.read(i)).toEqual(acked.get(i));
    await expect(log.append(Buffer.from('stale'))).rejects.toMatchObject({ code: 'XDBM_FENCED' });
    await expect(log.truncatePrefix(again.lastIndex())).rejects.toMatchObject({ code: 'XDBM_FENCED' });
    await log.close();
    expect((await again.append(Buffer.from('b'))).index).toBe(tail.index + 1);
    await again.close();
    await s1?.close();
    await s2?.close();
}

describe('truncation under concurrent appends', () => {
  it('on the file metadata store', async () => {
    await truncateUnderLoad(() => undefined);
  }, 60_000);
});

describe.skipIf(!etcdAvailable)('truncation under concurrent appends on real etcd (skipped without /usr/bin/etcd)', () => {
  let server: EtcdServer;
  beforeAll(async () => { server = await startEtcd(); }, 30_000);
  afterAll(async () => { await server?.stop(); });

  it('on the etcd metadata store', async () => {
    const prefix = `/xdbm-trunc-${process.pid}/`;
    await truncateUnderLoad(() => new EtcdMetadataStore({ endpoints: [server.clientUrl], prefix }));
  }, 60_000);
});
