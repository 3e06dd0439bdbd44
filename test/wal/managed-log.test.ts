import { mkdtemp, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { segmentName } from '../../src/wal/file-member.js';
import { openManagedLog } from '../../src/wal/log.js';
import { RECORD_HEADER_BYTES } from '../../src/wal/record-format.js';
import { TestEnsemble } from './helpers/test-ensemble.js';

const entry = (i: number): Buffer => Buffer.from(`raft-entry-${i}:${'x'.repeat(i % 50)}`);

let root: string;
beforeEach(async () => { root = await mkdtemp(join(tmpdir(), 'xdbm-mlog-')); });
afterEach(async () => { await rm(root, { recursive: true, force: true }); });

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Breaks a backend for real: its directory is replaced by a plain file, so every I/O fails. */
async function breakDir(dir: string): Promise<void> {
  // Moved away in one step (the log may be writing there right now), then replaced by a file.
  await rename(dir, `${dir}.broken`);
  await writeFile(dir, 'not a directory');
}

describe('managed log', () => {
  it('assigns indexes in call order, acknowledges in order, reads back, recovers after reopen', async () => {
    const t = await TestEnsemble.create({ root, candidates: 3 });
    const log = await openManagedLog(t.asManager(), 'raft');
    const order: number[] = [];
    const res = await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(entry(i + 1)).then((r) => { order.push(r.index); return r; })));
    expect(res.map((r) => r.index)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(order).toEqual(res.map((r) => r.index));
    expect(log.lastIndex()).toBe(200);
    for (const i of [1, 77, 200]) expect(await log.read(i)).toEqual(entry(i));
    await expect(log.read(201)).rejects.toMatchObject({ code: 'XDBM_ENTRY_NOT_FOUND' });
    await log.close();
    await expect(log.append(entry(1))).rejects.toMatchObject({ code: 'XDBM_CLOSED' });
    const again = await openManagedLog(t.asManager(), 'raft');
    expect(again.lastIndex()).toBe(200);
    expect((await again.append(entry(201))).index).toBe(201);
    for (let i = 1; i <= 201; i++) expect(await again.read(i)).toEqual(entry(i));
    await again.close();
  });

  it('keeps appending through the loss of a member and re-sends in-flight entries to the replacement', async () => {
    const t = await TestEnsemble.create({ root, candidates: 5, replaceDelayMs: 50 });
    const log = await openManagedLog(t.asManager(), 'raft', { writeDeadlineMs: 1000 });
    const first = log.members();
    for (let i = 1; i <= 50; i++) await log.append(entry(i));
    await breakDir(t.dirOf(first[1]!));
    const acked = await Promise.all(Array.from({ length: 300 }, (_, i) => log.append(entry(51 + i))));
    expect(acked.at(-1)!.index).toBe(350);
    await until(() => log.stats().ensembleChanges.length === 1, 5000);
    expect((await log.append(entry(351))).index).toBe(351);
    expect(t.reports.map((r) => r.id)).toContain(first[1]);
    expect(log.members()).not.toContain(first[1]);
    expect(log.members()).toHaveLength(3);
    const changes = log.stats().ensembleChanges;
    expect(changes).toHaveLength(1);
    expect(changes[0]!.removed).toEqual([first[1]]);
    for (let i = 1; i <= 351; i++) expect(await log.read(i)).toEqual(entry(i));
    await log.close();
    const again = await openManagedLog(t.asManager(), 'raft');
    expect(again.lastIndex()).toBe(351);
    for (let i = 1; i <= 351; i += 7) expect(await again.read(i)).toEqual(entry(i));
    await again.close();
  });

  it('fails with XDBM_QUORUM_LOST only when fewer than ackQuorum members can be had', async () => {
    const t = await TestEnsemble.create({ root, candidates: 3, failoverTimeoutMs: 300 });
    const log = await openManagedLog(t.asManager(), 'raft', { writeDeadlineMs: 500 });
    await log.append(entry(1));
    await breakDir(t.dirOf('b0'));
    // One of three gone and no replacement: two remain, which is the ack quorum, so appends go on.
    expect((await log.append(entry(2))).index).toBe(2);
    expect((await log.append(entry(3))).index).toBe(3);
    await breakDir(t.dirOf('b1'));
    await expect(log.append(entry(4))).rejects.toMatchObject({ code: 'XDBM_QUORUM_LOST' });
    await log.close();
  });

  it('fences a writer once a second one opens the log', async () => {
    const t = await TestEnsemble.create({ root, candidates: 3 });
    const a = await openManagedLog(t.asManager(), 'raft', { writerId: 'A' });
    await a.append(entry(1));
    const b = await openManagedLog(t.asManager(), 'raft', { writerId: 'B' });
    await expect(a.append(entry(2))).rejects.toMatchObject({ code: 'XDBM_FENCED' });
    await expect(a.append(entry(3))).rejects.toMatchObject({ code: 'XDBM_FENCED' });
    expect(b.lastIndex()).toBe(1);
    expect((await b.append(entry(2))).index).toBe(2);
    expect(await b.read(1)).toEqual(entry(1));
    await a.close();
    await b.close();
  });

  it('reads another copy when one fails its checksum on disk', async () => {
    const t = await TestEnsemble.create({ root, candidates: 3 });
    const log = await openManagedLog(t.asManager(), 'raft');
    for (let i = 1; i <= 5; i++) await log.append(entry(i));
    const firstTried = log.members()[1 % log.members().length]!; // reads rotate over copies by index
    const seg = join(t.dirOf(firstTried), 'wal', 'raft', 'e1', segmentName(1));
    const fh = await open(seg, 'r+');
    await fh.write(Buffer.from([0x5a]), 0, 1, RECORD_HEADER_BYTES + 2); // payload byte of index 1
    await fh.close();
    expect(await log.read(1)).toEqual(entry(1));
    expect(log.stats().checksumFailures).toBe(1);
    expect(log.stats().readFallbacks).toBe(1);
    await log.close();
  });

  it('truncates a suffix after a conflict and a prefix after a snapshot', async () => {
    const t = await TestEnsemble.create({ root, candidates: 3 });
    const log = await openManagedLog(t.asManager(), 'raft', { segmentBytes: 256 });
    for (let i = 1; i <= 40; i++) await log.append(entry(i));
    await log.truncateSuffix(31);
    expect(log.lastIndex()).toBe(30);
    expect((await log.append(Buffer.from('new-31'))).index).toBe(31);
    expect(await log.read(31)).toEqual(Buffer.from('new-31'));
    await log.truncatePrefix(20);
    expect(log.firstIndex()).toBe(20);
    await expect(log.read(19)).rejects.toMatchObject({ code: 'XDBM_ENTRY_NOT_FOUND' });
    expect(await log.read(20)).toEqual(entry(20));
    await log.close();
    const again = await openManagedLog(t.asManager(), 'raft', { segmentBytes: 256 });
    expect(again.lastIndex()).toBe(31);
    expect(again.firstIndex()).toBe(20);
    expect(await again.read(31)).toEqual(Buffer.from('new-31'));
    await again.close();
    expect((await stat(join(t.dirOf('b0'), 'wal', 'raft'))).isDirectory()).toBe(true);
  });
});
