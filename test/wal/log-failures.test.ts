/**
 * Failure handling of the managed log. Faults here are injected into the replica layer (pure logic:
 * timing of a failure relative to the ack quorum, a write that never returns); the chaos suite does the
 * same with real file systems.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StorageBackend } from '../../src/backends/backend.js';
import { ErrorCode, XdbmError } from '../../src/errors.js';
import { FileReplica } from '../../src/wal/file-member.js';
import { openManagedLog } from '../../src/wal/log.js';
import { EtcdMetadataStore } from '../../src/wal/metadata/etcd-store.js';
import type { LogReplica, ReplicaRecord } from '../../src/wal/replica.js';
import { etcdAvailable, startEtcd, type EtcdServer } from './helpers/etcd-server.js';
import { TestEnsemble } from './helpers/test-ensemble.js';

const entry = (i: number): Buffer => Buffer.from(`e-${i}`);

let root: string;
beforeEach(async () => { root = await mkdtemp(join(tmpdir(), 'xdbm-lfail-')); });
afterEach(async () => { await rm(root, { recursive: true, force: true }); });

type Behaviour = (records: ReadonlyArray<ReplicaRecord>, inner: () => Promise<void>) => Promise<void>;

/** A real FileReplica whose append goes through `behaviour` for the chosen endpoint. */
function faultyFactory(target: string, behaviour: Behaviour) {
  return (b: StorageBackend, name: string): LogReplica => {
    const t = b.config.target as { path: string };
    const real = new FileReplica({ endpointId: b.endpointId, rootDir: t.path, logName: name, segmentBytes: 1 << 20 });
    if (b.endpointId !== target) return real;
    return new Proxy(real, {
      get(obj, prop) {
        if (prop === 'append') return (recs: ReadonlyArray<ReplicaRecord>) => behaviour(recs, () => obj.append(recs));
        const v = Reflect.get(obj, prop, obj);
        return typeof v === 'function' ? v.bind(obj) : v;
      },
    });
  };
}

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('managed log failure handling', () => {
  it('changes the ensemble on a failure that arrives after the ack quorum was met (BookKeeper #1591)', async () => {
    const t = await TestEnsemble.create({ root, candidates: 4 });
    let calls = 0;
    const log = await openManagedLog(t.asManager(), 'raft', {
      replicaFactory: faultyFactory('b2', async (_recs, inner) => {
        if (++calls < 3) return inner();
        await new Promise((r) => setTimeout(r, 100)); // slower than b0 and b1 ...
        throw new XdbmError(ErrorCode.IO_ERROR, 'late write error'); // ... and then it fails
      }),
    });
    await log.append(entry(1));
    await log.append(entry(2));
    const r = await log.append(entry(3)); // acknowledged by b0 + b1 before b2's error arrives
    expect(r.index).toBe(3);
    await until(() => log.stats().ensembleChanges.length === 1, 5000);
    expect(t.reports.map((x) => x.id)).toEqual(['b2']);
    const change = log.stats().ensembleChanges[0]!;
    expect(change.removed).toEqual(['b2']);
    expect(change.added).toEqual(['b3']);
    expect(change.firstIndex).toBe(4);
    await log.append(entry(4));
    await log.close(); // flushes: entry 4 reaches every member
    const b3 = new FileReplica({ endpointId: 'b3', rootDir: t.dirOf('b3'), logName: 'raft', segmentBytes: 1 << 20 });
    await b3.open();
    expect(await b3.read(4)).toEqual(entry(4));
    expect(b3.has(3)).toBe(false); // entries of the closed epoch stay where they were (no migration)
    await b3.close();
  });

  it('turns a write that never returns into XDBM_IO_TIMEOUT, reports it, and keeps appending', async () => {
    const t = await TestEnsemble.create({ root, candidates: 4 });
    let calls = 0;
    const log = await openManagedLog(t.asManager(), 'raft', {
      writeDeadlineMs: 150,
      replicaFactory: faultyFactory('b1', async (_recs, inner) => {
        if (++calls < 2) return inner();
        return new Promise<void>(() => {}); // hangs forever
      }),
    });
    await log.append(entry(1));
    const acked = await Promise.all([2, 3, 4, 5].map((i) => log.append(entry(i))));
    expect(acked.map((a) => a.index)).toEqual([2, 3, 4, 5]);
    await until(() => log.stats().ensembleChanges.length === 1, 5000);
    expect(t.reports).toEqual([expect.objectContaining({ id: 'b1', code: 'XDBM_IO_TIMEOUT' })]);
    expect(log.members()).toEqual(['b0', 'b2', 'b3']);
    for (let i = 1; i <= 5; i++) expect(await log.read(i)).toEqual(entry(i));
    await log.close();
  });

  it('sends no more I/O to a member whose earlier read is still hung past its deadline', async () => {
    const t = await TestEnsemble.create({ root, candidates: 4 });
    let hungReads = 0;
    let appendsAfterHang = 0;
    let hanging = false;
    const log = await openManagedLog(t.asManager(), 'raft', {
      writeDeadlineMs: 100,
      replicaFactory: (b, name) => {
        const real = new FileReplica({ endpointId: b.endpointId, rootDir: (b.config.target as { path: string }).path, logName: name, segmentBytes: 1 << 20 });
        if (b.endpointId !== 'b1') return real;
        return new Proxy(real, {
          get(obj, prop) {
            if (prop === 'read') return () => { hungReads++; hanging = true; return new Promise<Buffer>(() => {}); }; // never returns
            if (prop === 'append') return (recs: ReadonlyArray<ReplicaRecord>) => { if (hanging) appendsAfterHang++; return obj.append(recs); };
            const v = Reflect.get(obj, prop, obj);
            return typeof v === 'function' ? v.bind(obj) : v;
          },
        });
      },
    });
    for (let i = 1; i <= 12; i++) await log.append(entry(i));
    // Reads rotate over the members: b1 is asked first for every third index, but only once in all.
    for (let i = 1; i <= 12; i++) expect(await log.read(i)).toEqual(entry(i));
    expect(hungReads).toBe(1);
    // The writer does not queue a write behind the hung read either: b1 is failed at once and replaced.
    const acked = await Promise.all([13, 14, 15].map((i) => log.append(entry(i))));
    expect(acked.map((a) => a.index)).toEqual([13, 14, 15]);
    await until(() => !log.members().includes('b1'), 5000);
    expect(appendsAfterHang).toBe(0);
    expect(t.reports).toEqual([expect.objectContaining({ id: 'b1', code: 'XDBM_IO_TIMEOUT' })]);
    for (let i = 13; i <= 15; i++) expect(await log.read(i)).toEqual(entry(i));
    await log.close();
  });

  it('waits for the change instead of failing when two of three fail at once', async () => {
    const t = await TestEnsemble.create({ root, candidates: 5, replaceDelayMs: 100 });
    const failing = new Set(['b0', 'b1']);
    const log = await openManagedLog(t.asManager(), 'raft', {
      replicaFactory: (b, name) => {
        const real = faultyFactory('', async (_r, inner) => inner())(b, name);
        if (!failing.has(b.endpointId)) return real;
        return faultyFactory(b.endpointId, async () => { throw new XdbmError(ErrorCode.IO_ERROR, 'dead'); })(b, name);
      },
    });
    const acked = await Promise.all([1, 2, 3].map((i) => log.append(entry(i))));
    expect(acked.map((a) => a.index)).toEqual([1, 2, 3]);
    expect(log.members().sort()).toEqual(['b2', 'b3', 'b4']);
    for (let i = 1; i <= 3; i++) expect(await log.read(i)).toEqual(entry(i));
    await log.close();
  });

  it('follows a manual switch of the active set without any failure', async () => {
    const t = await TestEnsemble.create({ root, candidates: 4 });
    const log = await openManagedLog(t.asManager(), 'raft');
    for (let i = 1; i <= 5; i++) await log.append(entry(i));
    t.switchActive('b1', 'b3');
    await until(() => log.members().includes('b3'), 5000);
    expect(t.reports).toEqual([]);
    expect(log.stats().ensembleChanges[0]).toMatchObject({ removed: ['b1'], added: ['b3'], firstIndex: 6 });
    await log.append(entry(6));
    for (let i = 1; i <= 6; i++) expect(await log.read(i)).toEqual(entry(i));
    await log.close();
  });

  it('with enable_data_migration, re-sends entries of the open range the replacement misses', async () => {
    const t = await TestEnsemble.create({ root, candidates: 4 });
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const log = await openManagedLog(t.asManager(), 'raft', {
      enableDataMigration: true,
      replicaFactory: faultyFactory('b2', async (_recs, inner) => {
        if (++calls === 1) return inner();
        await gate; // b2 lags behind: entries 2.. are on b0 and b1 only
        throw new XdbmError(ErrorCode.IO_ERROR, 'lagging member fails');
      }),
    });
    await log.append(entry(1));
    for (let i = 2; i <= 4; i++) await log.append(entry(i));
    release();
    await until(() => log.stats().ensembleChanges.length === 1, 5000);
    expect(log.stats().ensembleChanges[0]!.firstIndex).toBe(2); // from the first entry below write quorum
    await log.append(entry(5));
    await log.close();
    const b3 = new FileReplica({ endpointId: 'b3', rootDir: t.dirOf('b3'), logName: 'raft', segmentBytes: 1 << 20 });
    await b3.open();
    for (let i = 2; i <= 5; i++) expect(await b3.read(i)).toEqual(entry(i));
    await b3.close();
  });
});

describe.skipIf(!etcdAvailable)('managed log on EtcdMetadataStore (real etcd; skipped without /usr/bin/etcd, CI installs etcd-server)', () => {
  let server: EtcdServer;
  beforeAll(async () => { server = await startEtcd(); }, 30_000);
  afterAll(async () => { await server?.stop(); });

  it('fences the first writer when a second opens the log', async () => {
    const t = await TestEnsemble.create({ root, candidates: 3 });
    const prefix = `/xdbm-log-${process.pid}/`;
    const sa = new EtcdMetadataStore({ endpoints: [server.clientUrl], prefix });
    const sb = new EtcdMetadataStore({ endpoints: [server.clientUrl], prefix });
    const a = await openManagedLog(t.asManager(), 'raft', { metadataStore: sa, writerId: 'A' });
    for (let i = 1; i <= 3; i++) await a.append(entry(i));
    const b = await openManagedLog(t.asManager(), 'raft', { metadataStore: sb, writerId: 'B' });
    expect(b.lastIndex()).toBe(3);
    await expect(a.append(entry(4))).rejects.toMatchObject({ code: 'XDBM_FENCED' });
    expect((await b.append(entry(4))).index).toBe(4);
    expect((await sb.get('raft'))?.meta.writerId).toBe('B');
    await a.close();
    await b.close();
    await sb.close();
    await sa.close();
  });

  it('keeps appends waiting, not failing, while the metadata store hangs for a moment', async () => {
    const t = await TestEnsemble.create({ root, candidates: 3 });
    const store = new EtcdMetadataStore({ endpoints: [server.clientUrl], prefix: `/xdbm-pause-${process.pid}/` });
    const log = await openManagedLog(t.asManager(), 'raft', { metadataStore: store, writeDeadlineMs: 300 });
    await log.append(entry(1));
    server.pause(); // the fencing check of the next round hangs for real
    const pending = [2, 3, 4].map((i) => log.append(entry(i)));
    await new Promise((r) => setTimeout(r, 700)); // longer than the check's deadline: it is retried
    server.resume();
    expect((await Promise.all(pending)).map((a) => a.index)).toEqual([2, 3, 4]);
    for (let i = 1; i <= 4; i++) expect(await log.read(i)).toEqual(entry(i));
    await log.close();
    await store.close();
  });
});
