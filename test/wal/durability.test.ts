/**
 * The eight ways the log used to lose acknowledged entries (issue: "the log must never lose an
 * acknowledged entry"), each reproduced through the public API on real directories, and the
 * invariants of src/wal/log.ts checked after each. Writer crashes and pauses of real processes are in
 * crash-process.test.ts; the seeded simulator is test/sim.
 */
import { mkdir, mkdtemp, open, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StorageBackend } from '../../src/backends/backend.js';
import { ErrorCode, XdbmError } from '../../src/errors.js';
import { FileMember, segmentName } from '../../src/wal/file-member.js';
import { openManagedLog, type ReplicatedLog } from '../../src/wal/log.js';
import type { CopyRef, MemberLog, ReplicaRecord } from '../../src/wal/member-log.js';
import { FileMetadataStore } from '../../src/wal/metadata/file-store.js';
import type { LogMetadata, MetadataStore, VersionedMetadata } from '../../src/wal/metadata/types.js';
import { RECORD_HEADER_BYTES } from '../../src/wal/record-format.js';
import { TestEnsemble } from './helpers/test-ensemble.js';
import { until } from '../support/until.js';

const entry = (i: number, tag = ''): Buffer => Buffer.from(`raft-${tag}${i}:${'y'.repeat(i % 37)}`);

let root: string;
beforeEach(async () => { root = await mkdtemp(join(tmpdir(), 'xdbm-dura-')); });
afterEach(async () => { await rm(root, { recursive: true, force: true }); });


/** Every acknowledged entry reads back byte-identical (invariant 1). */
async function expectAll(log: { read(i: number): Promise<Buffer> }, acked: Map<number, Buffer>): Promise<void> {
  const bad: number[] = [];
  for (const [i, want] of acked) {
    const got = await log.read(i).catch(() => undefined);
    if (!got || !got.equals(want)) bad.push(i);
  }
  expect(bad.slice(0, 10), `${bad.length} acknowledged entries unreadable or different`).toEqual([]);
}

async function appendMany(log: { append(p: Uint8Array): Promise<{ index: number }> }, n: number, tag = '', acked = new Map<number, Buffer>()): Promise<Map<number, Buffer>> {
  for (let k = 0; k < n; k += 100) {
    const batch = Array.from({ length: Math.min(100, n - k) }, (_, j) => entry(k + j, tag));
    const res = await Promise.all(batch.map((p) => log.append(p)));
    res.forEach((r, j) => acked.set(r.index, batch[j]!));
  }
  return acked;
}

function fileFactory(segmentBytes = 1 << 20) {
  return (b: StorageBackend, name: string): MemberLog =>
    new FileMember({ endpointId: b.endpointId, rootDir: (b.config.target as { path: string }).path, logName: name, segmentBytes });
}

describe('durability: the ways acknowledged entries were lost', () => {
  it('restart after compaction keeps everything above the first index', async () => {
    const t = await TestEnsemble.create({ root, candidates: 3 });
    const log = await openManagedLog(t.asManager(), 'raft', { segmentBytes: 4096 });
    const acked = await appendMany(log, 1000);
    await log.truncatePrefix(600);
    await log.close();
    const again = await openManagedLog(t.asManager(), 'raft', { segmentBytes: 4096 });
    expect(again.firstIndex()).toBe(600);
    expect(again.lastIndex()).toBe(1000);
    for (const i of [...acked.keys()]) if (i < 600) acked.delete(i);
    await expectAll(again, acked);
    expect((await again.append(Buffer.from('next'))).index).toBe(1001);
    await again.close();
    // And once more, after a second compaction inside the new epoch.
    const third = await openManagedLog(t.asManager(), 'raft', { segmentBytes: 4096 });
    await third.truncatePrefix(900);
    await third.close();
    const fourth = await openManagedLog(t.asManager(), 'raft', { segmentBytes: 4096 });
    expect(fourth.lastIndex()).toBe(1001);
    expect(await fourth.read(950)).toEqual(acked.get(950));
    await fourth.close();
  });

  it('a writer dropped right after open() on other members loses nothing (the new epoch is recorded after the data is safe)', async () => {
    const t = await TestEnsemble.create({ root, candidates: 5 });
    const log = await openManagedLog(t.asManager(), 'raft');
    const acked = await appendMany(log, 12_000);
    await log.close();
    // Reopen on {b0, b3, b4}: b1 and b2 are still candidates (reachable) but no longer active.
    t.switchActive('b1', 'b3');
    t.switchActive('b2', 'b4');
    const crashed = await openManagedLog(t.asManager(), 'raft', { rereplicateIntervalMs: 0 });
    expect(crashed.lastIndex()).toBe(12_000);
    // "Killed" here: never closed, its background work stopped by the next writer's fence.
    const again = await openManagedLog(t.asManager(), 'raft');
    expect(again.lastIndex()).toBe(12_000);
    await expectAll(again, acked);
    await again.close();
    await (crashed as ReplicatedLog).close();
  });

  it('a paused writer that wakes up cannot wipe or overwrite what the new writer acknowledged', async () => {
    const t = await TestEnsemble.create({ root, candidates: 3 });
    // Writer A's appends to members can be held (a SIGSTOP, a GC pause) and released later.
    let hold = false;
    const held: (() => void)[] = [];
    const pausing = (b: StorageBackend, name: string): MemberLog => {
      const real = fileFactory()(b, name);
      const append = real.append.bind(real);
      real.append = async (copy: CopyRef, recs: ReadonlyArray<ReplicaRecord>) => {
        if (hold) await new Promise<void>((r) => held.push(r));
        return append(copy, recs);
      };
      return real;
    };
    const a = await openManagedLog(t.asManager(), 'raft', { memberFactory: pausing, writerId: 'A' });
    const acked = await appendMany(a, 300, 'A');
    hold = true;
    const late = Promise.allSettled(Array.from({ length: 20 }, (_, k) => a.append(entry(k, 'late-A'))));
    await until(() => held.length >= 3, 'A paused with writes in flight', 5000);
    const b = await openManagedLog(t.asManager(), 'raft', { writerId: 'B' });
    expect(b.lastIndex()).toBe(300);
    await appendMany(b, 200, 'B', acked);
    // A wakes up: its held writes land now.
    hold = false;
    for (const r of held.splice(0)) r();
    const outcomes = await late;
    // Whatever A got acknowledged late must be what B recovered (nothing: B recovered up to 300).
    for (const o of outcomes) {
      if (o.status === 'fulfilled') expect(acked.get(o.value.index)).toEqual(entry(o.value.index - 301, 'late-A'));
      else expect((o.reason as XdbmError).code).toBe(ErrorCode.FENCED);
    }
    await expect(a.append(Buffer.from('more'))).rejects.toMatchObject({ code: ErrorCode.FENCED });
    await expectAll(b, acked);
    await b.close();
    await a.close();
    const c = await openManagedLog(t.asManager(), 'raft', { writerId: 'C' });
    expect(c.lastIndex()).toBe(500);
    await expectAll(c, acked);
    await c.close();
  });

  it('a member whose root is gone at reopen is unreachable, not empty: nothing is cut, nothing created there', async () => {
    const t = await TestEnsemble.create({ root, candidates: 4 });
    const log = await openManagedLog(t.asManager(), 'raft');
    const acked = await appendMany(log, 500);
    await log.close();
    const gone = log.members()[0]!;
    await rename(t.dirOf(gone), `${t.dirOf(gone)}.unmounted`);
    const again = await openManagedLog(t.asManager(), 'raft');
    expect(again.lastIndex()).toBe(500);
    await expect(stat(t.dirOf(gone))).rejects.toMatchObject({ code: 'ENOENT' });
    await appendMany(again, 50, 'after', acked);
    await expectAll(again, acked);
    await again.close();
    // The disk comes back: its copy is intact and the log reads through it.
    await rename(`${t.dirOf(gone)}.unmounted`, t.dirOf(gone));
    const third = await openManagedLog(t.asManager(), 'raft');
    await expectAll(third, acked);
    await third.close();
  });

  it('a member whose disk is not mounted (empty mount point) is unreachable, not an empty member', async () => {
    const t = await TestEnsemble.create({ root, candidates: 4 });
    const log = await openManagedLog(t.asManager(), 'raft');
    const acked = await appendMany(log, 400);
    await log.close();
    const [x] = log.members();
    await rename(join(t.dirOf(x!), 'wal'), join(root, 'hidden-wal')); // the mount point is there, empty
    // The manager's own check says so (XDBM_NOT_MOUNTED) and takes it out of the active set; the log's
    // recovery must not count it as an empty member of the last epoch either.
    t.reportDataPathError(x!, new XdbmError(ErrorCode.NOT_MOUNTED, 'not mounted'));
    await until(() => !t.active.includes(x!), `${x} leaves the active set`, 1000);
    const again = await openManagedLog(t.asManager(), 'raft');
    expect(again.lastIndex()).toBe(400);
    await expectAll(again, acked);
    await again.close();
    expect(await readdir(t.dirOf(x!))).toEqual([]); // nothing created in its place
    // Two of three unmounted: the end of the log cannot be known. Refuse; do not guess.
    await rename(join(root, 'hidden-wal'), join(t.dirOf(x!), 'wal'));
    t.recover(x!);
    const meta = (await new FileMetadataStore({ path: join(root, 'meta') }).get('raft'))!.meta;
    const lastMembers = meta.epochs.at(-1)!.members;
    for (const id of lastMembers.slice(0, 2)) await rename(join(t.dirOf(id), 'wal'), join(root, `hidden-${id}`));
    await expect(openManagedLog(t.asManager(), 'raft')).rejects.toMatchObject({ code: ErrorCode.QUORUM_LOST });
    for (const id of lastMembers.slice(0, 2)) await rename(join(root, `hidden-${id}`), join(t.dirOf(id), 'wal'));
    const back = await openManagedLog(t.asManager(), 'raft');
    await expectAll(back, acked);
    await back.close();
  });

  it('one damaged record header on one member is damage, not a torn tail: nothing after it is lost', async () => {
    const t = await TestEnsemble.create({ root, candidates: 3 });
    const log = await openManagedLog(t.asManager(), 'raft');
    const acked = await appendMany(log, 300);
    await log.close();
    // Damage the magic and index bytes of record 100 on every member but one: only one intact copy.
    for (const id of log.members().slice(0, 2)) {
      const seg = join(t.dirOf(id), 'wal', 'raft', 'e1', segmentName(1));
      let off = 0;
      for (let i = 1; i < 100; i++) off += RECORD_HEADER_BYTES + entry(i - 1).length;
      const fh = await open(seg, 'r+');
      await fh.write(Buffer.alloc(12, 0xee), 0, 12, off);
      await fh.close();
    }
    const again = await openManagedLog(t.asManager(), 'raft');
    expect(again.lastIndex()).toBe(300);
    await expectAll(again, acked);
    await again.close();
    const damaged = new FileMember({ endpointId: 'b0', rootDir: t.dirOf(log.members()[0]!), logName: 'raft', segmentBytes: 1 << 20 });
    await damaged.open();
    expect(damaged.damaged({ epoch: 1, by: 1 })).toEqual([100]);
    expect(damaged.lastIndex({ epoch: 1, by: 1 })).toBe(300);
    await damaged.close();
  });

  it('deleted metadata is refused with XDBM_LOG_CORRUPT, and the members keep their data', async () => {
    const t = await TestEnsemble.create({ root, candidates: 3 });
    const log = await openManagedLog(t.asManager(), 'raft');
    const acked = await appendMany(log, 100);
    await log.close();
    const doc = join(root, 'meta', 'raft.json');
    const saved = join(root, 'raft.json.saved');
    await rename(doc, saved);
    const err = await openManagedLog(t.asManager(), 'raft').catch((e: unknown) => e as XdbmError);
    expect(err).toMatchObject({ code: ErrorCode.LOG_CORRUPT });
    expect((err as XdbmError).message).toMatch(/b0|b1|b2/);
    expect((await readdir(join(t.dirOf('b0'), 'wal', 'raft'))).length).toBeGreaterThan(0);
    await rename(saved, doc);
    const again = await openManagedLog(t.asManager(), 'raft');
    await expectAll(again, acked);
    await again.close();
  });

  it('an unreachable metadata store holds ensemble changes, never hands an index out twice', async () => {
    const t = await TestEnsemble.create({ root, candidates: 4, failoverTimeoutMs: 400 });
    const inner = new FileMetadataStore({ path: join(root, 'meta') });
    let down = false;
    const store: MetadataStore = {
      kind: 'file',
      get: (n) => (down ? Promise.reject(new XdbmError(ErrorCode.IO_ERROR, 'store down')) : inner.get(n)),
      compareAndSet: (n, m, v) => (down ? Promise.reject(new XdbmError(ErrorCode.IO_ERROR, 'store down')) : inner.compareAndSet(n, m, v)),
      list: () => inner.list(),
      close: async () => undefined,
    };
    let slow = '';
    const slowFactory = (b: StorageBackend, name: string): MemberLog => {
      const real = fileFactory()(b, name);
      const append = real.append.bind(real);
      real.append = async (copy: CopyRef, recs: ReadonlyArray<ReplicaRecord>) => {
        if (b.endpointId === slow) await new Promise((r) => setTimeout(r, 700)); // past the write deadline
        return append(copy, recs);
      };
      return real;
    };
    const log = await openManagedLog(t.asManager(), 'raft', { metadataStore: store, memberFactory: slowFactory, writeDeadlineMs: 300 });
    const acked = await appendMany(log, 200);
    down = true;
    slow = log.members()[0]!;
    // One member times out and the store cannot record a change: the two others still make the quorum.
    await appendMany(log, 100, 'during', acked);
    // A second member fails (directory replaced by a file): no quorum and no change possible.
    const second = log.members().filter((m) => m !== slow)[0]!;
    await rename(t.dirOf(second), `${t.dirOf(second)}.gone`);
    await writeFile(t.dirOf(second), 'x');
    const failedOnes = await Promise.allSettled(Array.from({ length: 10 }, (_, k) => log.append(entry(k, 'lost'))));
    for (const o of failedOnes) if (o.status === 'fulfilled') acked.set(o.value.index, entry(failedOnes.indexOf(o), 'lost'));
    down = false;
    slow = '';
    await until(async () => (await log.append(Buffer.from('probe')).then((r) => { acked.set(r.index, Buffer.from('probe')); return true; }, () => false)), 'appends after the store is back', 10_000);
    await appendMany(log, 50, 'after', acked);
    await expectAll(log, acked);
    await log.close();
    await unlink(t.dirOf(second));
    await rename(`${t.dirOf(second)}.gone`, t.dirOf(second));
    const again = await openManagedLog(t.asManager(), 'raft', { metadataStore: store });
    await expectAll(again, acked);
    await again.close();
  });

  it('rolling failure of all three original members: re-replication keeps every entry readable', async () => {
    const t = await TestEnsemble.create({ root, candidates: 7 });
    const log = await openManagedLog(t.asManager(), 'raft', { rereplicateIntervalMs: 50 });
    const acked = await appendMany(log, 300);
    const originals = log.members();
    for (const [k, id] of originals.entries()) {
      await rename(t.dirOf(id), `${t.dirOf(id)}.dead`);
      await writeFile(t.dirOf(id), 'dead');
      await appendMany(log, 100, `after${k}`, acked);
      await until(() => !log.members().includes(id), `${id} replaced`, 5000);
      await until(() => log.stats().underReplicatedEntries === 0 && (log as ReplicatedLog).metadata().epochs.every((e) =>
        [...e.members, ...(e.copies ?? []).map((c) => c.member)].filter((m) => !t.failed.has(m)).length >= 2), `re-replicated after losing ${id}`, 10_000);
    }
    await expectAll(log, acked);
    await log.close();
    const again = await openManagedLog(t.asManager(), 'raft');
    await expectAll(again, acked);
    await again.close();
  });
});

describe('durability: what the metadata says', () => {
  it('records epochs with their copies and a claim per writer', async () => {
    const t = await TestEnsemble.create({ root, candidates: 4 });
    const a = await openManagedLog(t.asManager(), 'raft');
    await appendMany(a, 10);
    await a.close();
    const b = await openManagedLog(t.asManager(), 'raft');
    const meta: LogMetadata = (b as ReplicatedLog).metadata();
    expect(meta.format).toBe(2);
    expect(meta.claimedEpoch).toBe(2);
    expect(meta.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    expect(meta.epochs[1]!.firstIndex).toBe(11);
    // Epoch 1 was fenced on its members: e1 renamed to s1.
    for (const id of meta.epochs[0]!.members) {
      expect((await readdir(join(t.dirOf(id), 'wal', 'raft'))).sort()).toContain('s1');
    }
    await b.close();
    const v: VersionedMetadata | undefined = await new FileMetadataStore({ path: join(root, 'meta') }).get('raft');
    expect(v?.meta.writerId).toBe(meta.writerId);
  });

  it('never creates the log directory under a backend root that does not exist', async () => {
    const t = await TestEnsemble.create({ root, candidates: 3 });
    await rm(t.dirOf('b1'), { recursive: true });
    t.reportDataPathError('b1', new XdbmError(ErrorCode.NOT_FOUND, 'gone'));
    await until(() => !t.active.includes('b1'), 'b1 leaves', 1000);
    await mkdir(t.dirOf('b3'));
    t.backends.push((await import('./helpers/test-ensemble.js')).dirBackend('b3', t.dirOf('b3')));
    t.recover('b3');
    const log = await openManagedLog(t.asManager(), 'raft', { failoverTimeoutMs: 300 }).catch((e: unknown) => e);
    await expect(stat(t.dirOf('b1'))).rejects.toMatchObject({ code: 'ENOENT' });
    if (!(log instanceof Error)) await (log as ReplicatedLog).close();
  });
});
