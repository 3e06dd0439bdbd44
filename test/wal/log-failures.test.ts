/**
 * Failure handling of the managed log. Faults here are injected into the member layer (a real
 * FileMember behind a Proxy on append(copy, records) (pure logic:
 * timing of a failure relative to the ack quorum, a write that never returns); the chaos suite does the
 * same with real file systems.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StorageBackend } from '../../src/backends/backend.js';
import { ErrorCode, XdbmError } from '../../src/errors.js';
import { FileMember } from '../../src/wal/file-member.js';
import { openManagedLog } from '../../src/wal/log.js';
import { EtcdMetadataStore } from '../../src/wal/metadata/etcd-store.js';
import type { CopyRef, MemberLog, ReplicaRecord } from '../../src/wal/member-log.js';
import { etcdAvailable, startEtcd, type EtcdServer } from './helpers/etcd-server.js';
import { TestEnsemble } from './helpers/test-ensemble.js';

const entry = (i: number): Buffer => Buffer.from(`e-${i}`);

let root: string;
beforeEach(async () => { root = await mkdtemp(join(tmpdir(), 'xdbm-lfail-')); });
afterEach(async () => { await rm(root, { recursive: true, force: true }); });

type Behaviour = (records: ReadonlyArray<ReplicaRecord>, inner: () => Promise<void>, copy: CopyRef) => Promise<void>;

function realMember(b: StorageBackend, name: string): FileMember {
  const t = b.config.target as { path: string };
  return new FileMember({ endpointId: b.endpointId, rootDir: t.path, logName: name, segmentBytes: 1 << 20 });
}

/** A member on directory `id` of the ensemble, opened read-side to look at what the log left there. */
async function memberOn(t: TestEnsemble, id: string): Promise<FileMember> {
  const m = new FileMember({ endpointId: id, rootDir: t.dirOf(id), logName: 'raft', segmentBytes: 1 << 20 });
  await m.open();
  return m;
}

/** A real FileMember whose append goes through `behaviour` for the chosen endpoint. */
function faultyFactory(target: string, behaviour: Behaviour) {
  return (b: StorageBackend, name: string): MemberLog => {
    const real = realMember(b, name);
    if (b.endpointId !== target) return real;
    return new Proxy(real, {
      get(obj, prop) {
        if (prop === 'append') return (copy: CopyRef, recs: ReadonlyArray<ReplicaRecord>) => behaviour(recs, () => obj.append(copy, recs), copy);
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
      memberFactory: faultyFactory('b2', async (_recs, inner) => {
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
    const b3 = await memberOn(t, 'b3');
    // Entry 4 is in the new epoch's copy on b3, written by that epoch's writer.
    const current: CopyRef = { epoch: change.epoch, by: change.epoch };
    expect(await b3.read(current, 4)).toEqual(entry(4));
    expect(b3.has(current, 3)).toBe(false); // the new epoch's range starts at 4
    await b3.close();
    const again = await openManagedLog(t.asManager(), 'raft');
    for (let i = 1; i <= 4; i++) expect(await again.read(i)).toEqual(entry(i));
    await again.close();
  });

  it('turns a write that never returns into XDBM_IO_TIMEOUT, reports it, and keeps appending', async () => {
    const t = await TestEnsemble.create({ root, candidates: 4 });
    let calls = 0;
    const log = await openManagedLog(t.asManager(), 'raft', {
      // Long enough that a real datasync on a loaded machine never misses it: only the hang does.
      writeDeadlineMs: 1000,
      memberFactory: faultyFactory('b1', async (_recs, inner) => {
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
      writeDeadlineMs: 1000, // see above: only the hung read may miss it
      memberFactory: (b, name) => {
        const real = realMember(b, name);
        if (b.endpointId !== 'b1') return real;
        return new Proxy(real, {
          get(obj, prop) {
            if (prop === 'read') return () => { hungReads++; hanging = true; return new Promise<Buffer>(() => {}); }; // never returns
            if (prop === 'append') return (copy: CopyRef, recs: ReadonlyArray<ReplicaRecord>) => { if (hanging) appendsAfterHang++; return obj.append(copy, recs); };
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
      memberFactory: (b, name) => {
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

  it('re-replicates a sealed epoch left with fewer than ackQuorum healthy copies (replaces enable_data_migration)', async () => {
    // ackQuorum 2 of 3: after b2 and then b0 fail, epoch 1 (entries 1-10) is on b1 alone among healthy
    // members. Re-replication must copy it to current members before the originals can all go.
    const t = await TestEnsemble.create({ root, candidates: 6 });
    const dead = new Set<string>();
    const log = await openManagedLog(t.asManager(), 'raft', {
      rereplicateIntervalMs: 50,
      memberFactory: (b, name) => {
        const real = realMember(b, name);
        return new Proxy(real, {
          get(obj, prop) {
            if (prop === 'append') {
              return (copy: CopyRef, recs: ReadonlyArray<ReplicaRecord>) =>
                dead.has(b.endpointId) ? Promise.reject(new XdbmError(ErrorCode.IO_ERROR, `${b.endpointId} is dead`)) : obj.append(copy, recs);
            }
            const v = Reflect.get(obj, prop, obj);
            return typeof v === 'function' ? v.bind(obj) : v;
          },
        });
      },
    });
    expect(log.members()).toEqual(['b0', 'b1', 'b2']);
    for (let i = 1; i <= 10; i++) await log.append(entry(i));
    dead.add('b2');
    await log.append(entry(11));
    await until(() => log.stats().ensembleChanges.length === 1, 5000);
    for (let i = 12; i <= 20; i++) await log.append(entry(i));
    dead.add('b0');
    await log.append(entry(21));
    await until(() => log.stats().ensembleChanges.length === 2, 5000);
    expect(log.members().sort()).toEqual(['b1', 'b3', 'b4']);
    // Entries of the sealed epochs end up with ackQuorum healthy copies again.
    await until(() => log.stats().rereplicatedEntries > 0 && log.stats().underReplicatedEntries === 0, 10_000);
    for (let i = 22; i <= 25; i++) await log.append(entry(i));
    // The last original member leaves too (a manual switch: no failure involved).
    t.switchActive('b1', 'b5');
    await until(() => log.members().includes('b5') && !log.members().includes('b1'), 5000);
    await log.append(entry(26));
    await until(() => log.stats().underReplicatedEntries === 0, 10_000);
    await log.close();
    // Every original member is now destroyed: what is left is what the log copied elsewhere.
    for (const id of ['b0', 'b1', 'b2']) {
      await rm(t.dirOf(id), { recursive: true, force: true });
      await writeFile(t.dirOf(id), 'gone');
    }
    const again = await openManagedLog(t.asManager(), 'raft', { rereplicateIntervalMs: 0 });
    expect(again.lastIndex()).toBe(26);
    for (let i = 1; i <= 26; i++) expect(await again.read(i)).toEqual(entry(i));
    await again.close();
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
