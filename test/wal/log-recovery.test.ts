/**
 * Recovery of a log after a writer crash, with the member files manipulated the way a crash leaves
 * them: a record written on some members only, a torn last record, a member that cannot be read.
 * The writer of epoch N writes e<N>/seg-*.wal; every open of an existing log fences the last epoch
 * (e<N> -> s<N>) and starts a new one.
 */
import { appendFile, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileMember, logDir } from '../../src/wal/file-member.js';
import { openManagedLog } from '../../src/wal/log.js';
import type { CopyRef } from '../../src/wal/member-log.js';
import { FileMetadataStore } from '../../src/wal/metadata/file-store.js';
import type { LogMetadata, MetadataStore } from '../../src/wal/metadata/types.js';
import { RECORD_HEADER_BYTES, encodeRecords } from '../../src/wal/record-format.js';
import { TestEnsemble } from './helpers/test-ensemble.js';

const entry = (i: number): Buffer => Buffer.from(`entry-${i}-${'z'.repeat(i % 40)}`);

let root: string;
beforeEach(async () => { root = await mkdtemp(join(tmpdir(), 'xdbm-rec-')); });
afterEach(async () => { await rm(root, { recursive: true, force: true }); });

/** A log of n entries written by the writer of epoch 1 (never reopened: its copies are e1/ on b0-b2). */
async function seeded(n: number, candidates = 3): Promise<TestEnsemble> {
  const t = await TestEnsemble.create({ root, candidates });
  const log = await openManagedLog(t.asManager(), 'raft');
  for (let i = 1; i <= n; i++) await log.append(entry(i));
  expect(log.members()).toEqual(['b0', 'b1', 'b2']);
  await log.close();
  return t;
}

async function memberOn(t: TestEnsemble, id: string): Promise<FileMember> {
  const m = new FileMember({ endpointId: id, rootDir: t.dirOf(id), logName: 'raft', segmentBytes: 1 << 20 });
  await m.open();
  return m;
}

async function lastSegment(t: TestEnsemble, id: string, copyDir: string): Promise<string> {
  const dir = join(logDir(t.dirOf(id), 'raft'), copyDir);
  return join(dir, (await readdir(dir)).filter((n) => n.endsWith('.wal')).sort().at(-1)!);
}

/** What a crashed writer leaves when its write of `index` reached this member only: the record is durable there. */
async function appendRaw(t: TestEnsemble, id: string, copyDir: string, index: number, payload: Buffer): Promise<void> {
  await appendFile(await lastSegment(t, id, copyDir), encodeRecords([{ index, payload }]));
}

/** Cuts `bytes` off the end of the last segment of a member: a crash in the middle of a write. */
async function tearTail(t: TestEnsemble, id: string, copyDir: string, bytes: number): Promise<number> {
  const path = await lastSegment(t, id, copyDir);
  const { size } = await stat(path);
  await truncate(path, size - bytes);
  return size - bytes;
}

async function makeUnreadable(t: TestEnsemble, id: string): Promise<void> {
  await rm(t.dirOf(id), { recursive: true });
  await writeFile(t.dirOf(id), 'gone'); // the backend root is a plain file now: the member cannot be opened
}

const E1: CopyRef = { epoch: 1, by: 1 };

describe('log recovery after a crash', () => {
  it('drops an entry found on one member only when all three answer (it cannot have been acknowledged)', async () => {
    const t = await seeded(10);
    await appendRaw(t, 'b0', 'e1', 11, Buffer.from('only-on-b0'));
    let log = await openManagedLog(t.asManager(), 'raft');
    expect(log.lastIndex()).toBe(10);
    // Index 11 is handed out again, in the new epoch, with the new payload.
    expect((await log.append(Buffer.from('next'))).index).toBe(11);
    expect(await log.read(11)).toEqual(Buffer.from('next'));
    await log.close();
    // Nothing was cut: the stray record is still on b0, in the fenced copy of epoch 1.
    const b0 = await memberOn(t, 'b0');
    expect(b0.copies().find((c) => c.epoch === 1 && c.by === 1)).toMatchObject({ fenced: true, lastIndex: 11 });
    expect(await b0.read(E1, 11)).toEqual(Buffer.from('only-on-b0'));
    await b0.close();
    // ... and readers never trust it: epoch 1's range ends at 10.
    log = await openManagedLog(t.asManager(), 'raft');
    expect(log.lastIndex()).toBe(11);
    expect(await log.read(11)).toEqual(Buffer.from('next'));
    for (let i = 1; i <= 10; i++) expect(await log.read(i)).toEqual(entry(i));
    await log.close();
  });

  it('keeps an entry found on an ack quorum of the last ensemble', async () => {
    const t = await seeded(10);
    for (const id of ['b0', 'b1']) await appendRaw(t, id, 'e1', 11, Buffer.from('on-a-quorum'));
    let log = await openManagedLog(t.asManager(), 'raft');
    expect(log.lastIndex()).toBe(11);
    expect(await log.read(11)).toEqual(Buffer.from('on-a-quorum'));
    expect((await log.append(entry(12))).index).toBe(12);
    await log.close();
    log = await openManagedLog(t.asManager(), 'raft');
    expect(log.lastIndex()).toBe(12);
    expect(await log.read(11)).toEqual(Buffer.from('on-a-quorum'));
    expect(await log.read(12)).toEqual(entry(12));
    await log.close();
  });

  it('recovers at every crash point of the last record: a torn tail on one member keeps it', async () => {
    const lastLen = RECORD_HEADER_BYTES + entry(10).length;
    for (let cut = 1; cut <= lastLen; cut++) {
      await rm(root, { recursive: true, force: true });
      const t = await seeded(10);
      const fullSize = (await stat(await lastSegment(t, 'b1', 'e1'))).size;
      const tornSize = await tearTail(t, 'b0', 'e1', cut);
      const log = await openManagedLog(t.asManager(), 'raft');
      // Still intact on b1 and b2: an ack quorum holds it, so it may have been acknowledged.
      expect({ cut, last: log.lastIndex() }).toEqual({ cut, last: 10 });
      for (let i = 1; i <= 10; i++) expect(await log.read(i)).toEqual(entry(i));
      expect((await log.append(entry(11))).index).toBe(11);
      expect(await log.read(11)).toEqual(entry(11));
      await log.close();
      // Recovery cut nothing: b1 and b2 keep their copies whole under s1. b0's copy does not hold all of
      // epoch 1, so the sealed epoch no longer names it and the writer may collect it as garbage; while
      // it is there, it is as the crash left it.
      for (const id of ['b1', 'b2']) expect((await stat(await lastSegment(t, id, 's1'))).size).toBe(fullSize);
      const b0Copies = await readdir(logDir(t.dirOf('b0'), 'raft'));
      if (b0Copies.includes('s1') && (await readdir(join(logDir(t.dirOf('b0'), 'raft'), 's1'))).length > 0) {
        expect((await stat(await lastSegment(t, 'b0', 's1'))).size).toBe(tornSize);
      }
    }
  });

  it('recovers at every crash point of the last record: torn tails on two members drop it', async () => {
    const lastLen = RECORD_HEADER_BYTES + entry(10).length;
    for (let cut = 1; cut <= lastLen; cut++) {
      await rm(root, { recursive: true, force: true });
      const t = await seeded(10);
      const sizes = new Map<string, number>();
      sizes.set('b0', await tearTail(t, 'b0', 'e1', cut));
      sizes.set('b1', await tearTail(t, 'b1', 'e1', lastLen + 1 - cut));
      const log = await openManagedLog(t.asManager(), 'raft');
      // Index 10 is intact on b2 only while every member answered: it was never acknowledged.
      expect({ cut, last: log.lastIndex() }).toEqual({ cut, last: 9 });
      for (let i = 1; i <= 9; i++) expect(await log.read(i)).toEqual(entry(i));
      expect((await log.append(Buffer.from('next'))).index).toBe(10);
      expect(await log.read(10)).toEqual(Buffer.from('next'));
      await log.close();
      for (const [id, size] of sizes) expect((await stat(await lastSegment(t, id, 's1'))).size).toBe(size);
      const b2 = await memberOn(t, 'b2');
      expect(await b2.read(E1, 10)).toEqual(entry(10)); // not destroyed either, only not trusted
      await b2.close();
    }
  });

  it('with a member unreachable, keeps what the reachable ones hold and copies it to the new ensemble before recording the epoch', async () => {
    const t = await seeded(10, 4);
    await makeUnreadable(t, 'b2');
    await tearTail(t, 'b1', 'e1', 3); // index 10 now intact on b0 alone (b2 may have had it too)
    // Watch every metadata change: when the new epoch is recorded, its members must already hold 10.
    const inner = new FileMetadataStore({ path: join(root, 'meta') });
    const seenAtRecord: { epoch: number; members: string[]; holding: string[] }[] = [];
    const store: MetadataStore = {
      kind: inner.kind,
      get: (n) => inner.get(n),
      list: () => inner.list(),
      close: () => inner.close(),
      compareAndSet: async (n: string, meta: LogMetadata, v: number) => {
        const last = meta.epochs.at(-1)!;
        if (last.epoch > 1 && last.firstIndex <= 10) {
          const holding: string[] = [];
          for (const id of last.members) {
            const m = await memberOn(t, id);
            const copy = { epoch: last.epoch, by: last.epoch };
            if (m.has(copy, 10) && (await m.read(copy, 10)).equals(entry(10))) holding.push(id);
            await m.close();
          }
          seenAtRecord.push({ epoch: last.epoch, members: [...last.members].sort(), holding: holding.sort() });
        }
        return inner.compareAndSet(n, meta, v);
      },
    };
    const log = await openManagedLog(t.asManager(), 'raft', { metadataStore: store });
    expect(log.members().sort()).toEqual(['b0', 'b1', 'b3']);
    expect(log.lastIndex()).toBe(10);
    expect(seenAtRecord).toHaveLength(1);
    expect(seenAtRecord[0]!.holding).toEqual(seenAtRecord[0]!.members);
    await log.append(entry(11));
    for (let i = 1; i <= 11; i++) expect(await log.read(i)).toEqual(entry(i));
    await log.close();
    await store.close();
    const b3 = await memberOn(t, 'b3');
    const mine = b3.copies().find((c) => c.epoch === seenAtRecord[0]!.epoch)!;
    expect(await b3.read(mine, 10)).toEqual(entry(10));
    await b3.close();
    // The file b0 held the only intact copy in is untouched.
    expect((await readFile(await lastSegment(t, 'b0', 's1'))).includes(entry(10))).toBe(true);
  });

  it('refuses to open (XDBM_QUORUM_LOST) when an ack quorum of the last ensemble cannot be read', async () => {
    const t = await seeded(5, 5);
    for (const id of ['b0', 'b1']) await makeUnreadable(t, id);
    await expect(openManagedLog(t.asManager(), 'raft')).rejects.toMatchObject({ code: 'XDBM_QUORUM_LOST' });
    // Nothing was created in place of the unreadable members (invariant 5).
    for (const id of ['b0', 'b1']) expect(await readFile(t.dirOf(id), 'utf8')).toBe('gone');
  });

  it('refuses to open (XDBM_QUORUM_LOST) when a member of the last ensemble lost its log directory and another is unreadable', async () => {
    const t = await seeded(5, 5);
    await rm(logDir(t.dirOf('b0'), 'raft'), { recursive: true }); // wiped: unreachable, not empty
    await makeUnreadable(t, 'b1');
    await expect(openManagedLog(t.asManager(), 'raft')).rejects.toMatchObject({ code: 'XDBM_QUORUM_LOST' });
    await expect(stat(logDir(t.dirOf('b0'), 'raft'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
