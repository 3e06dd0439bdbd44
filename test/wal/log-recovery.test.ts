import { mkdtemp, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileReplica, logDir } from '../../src/wal/file-member.js';
import { openManagedLog } from '../../src/wal/log.js';
import { RECORD_HEADER_BYTES } from '../../src/wal/record-format.js';
import { TestEnsemble } from './helpers/test-ensemble.js';

const entry = (i: number): Buffer => Buffer.from(`entry-${i}-${'z'.repeat(i % 40)}`);

let root: string;
beforeEach(async () => { root = await mkdtemp(join(tmpdir(), 'xdbm-rec-')); });
afterEach(async () => { await rm(root, { recursive: true, force: true }); });

async function seeded(n: number, candidates = 3): Promise<TestEnsemble> {
  const t = await TestEnsemble.create({ root, candidates });
  const log = await openManagedLog(t.asManager(), 'raft');
  for (let i = 1; i <= n; i++) await log.append(entry(i));
  await log.close();
  return t;
}

async function replicaOn(t: TestEnsemble, id: string): Promise<FileReplica> {
  const r = new FileReplica({ endpointId: id, rootDir: t.dirOf(id), logName: 'raft', segmentBytes: 1 << 20 });
  await r.open();
  return r;
}

/** Cuts `bytes` off the end of the last segment of a member: a crash in the middle of a write. */
async function tearTail(t: TestEnsemble, id: string, bytes: number): Promise<void> {
  const dir = logDir(t.dirOf(id), 'raft');
  const last = (await readdir(dir)).filter((n) => n.endsWith('.wal')).sort().at(-1)!;
  const { size } = await stat(join(dir, last));
  await truncate(join(dir, last), size - bytes);
}

describe('log recovery after a crash', () => {
  it('drops an entry found on one member only, keeps one found on an ack quorum', async () => {
    const t = await seeded(10);
    const b0 = await replicaOn(t, 'b0');
    await b0.append([{ index: 11, payload: Buffer.from('only-on-b0') }]);
    await b0.close();
    let log = await openManagedLog(t.asManager(), 'raft');
    expect(log.lastIndex()).toBe(10);
    await log.close();
    const b0again = await replicaOn(t, 'b0');
    expect(b0again.has(11)).toBe(false); // the unacknowledged tail was cut
    await b0again.close();
    for (const id of ['b0', 'b1']) {
      const r = await replicaOn(t, id);
      await r.append([{ index: 11, payload: Buffer.from('on-a-quorum') }]);
      await r.close();
    }
    log = await openManagedLog(t.asManager(), 'raft');
    expect(log.lastIndex()).toBe(11);
    expect(await log.read(11)).toEqual(Buffer.from('on-a-quorum'));
    await log.append(entry(12));
    await log.close();
    const b2 = await replicaOn(t, 'b2');
    expect(await b2.read(11)).toEqual(Buffer.from('on-a-quorum')); // re-sent to the member that missed it
    await b2.close();
  });

  it('recovers at every crash point of the last record (torn tails on one or two members)', async () => {
    const lastLen = RECORD_HEADER_BYTES + entry(10).length;
    for (const cut of [1, 7, RECORD_HEADER_BYTES, lastLen - 1, lastLen]) {
      await rm(root, { recursive: true, force: true });
      const t = await seeded(10);
      await tearTail(t, 'b0', cut);
      let log = await openManagedLog(t.asManager(), 'raft');
      expect(log.lastIndex()).toBe(10); // still on b1 and b2: acknowledged entries survive
      await log.close();
      await tearTail(t, 'b0', RECORD_HEADER_BYTES + entry(10).length);
      await tearTail(t, 'b1', cut);
      log = await openManagedLog(t.asManager(), 'raft');
      // Now index 10 is intact on b2 only: not ack-quorum consistent, so it is not part of the log.
      expect({ cut, last: log.lastIndex() }).toEqual({ cut, last: 9 });
      for (let i = 1; i <= 9; i++) expect(await log.read(i)).toEqual(entry(i));
      expect((await log.append(Buffer.from('next'))).index).toBe(10);
      expect(await log.read(10)).toEqual(Buffer.from('next'));
      await log.close();
    }
  });

  it('with a member unreachable, keeps what the reachable ones hold and copies it to the replacement', async () => {
    const t = await seeded(10, 4);
    await rm(t.dirOf('b2'), { recursive: true });
    await writeFile(t.dirOf('b2'), 'gone'); // b2 cannot be opened any more
    await tearTail(t, 'b1', 3); // index 10 now intact on b0 alone
    const log = await openManagedLog(t.asManager(), 'raft');
    expect(t.failed.has('b2')).toBe(true);
    expect(log.members().sort()).toEqual(['b0', 'b1', 'b3']);
    expect(log.lastIndex()).toBe(10);
    await log.append(entry(11));
    for (let i = 1; i <= 11; i++) expect(await log.read(i)).toEqual(entry(i));
    await log.close();
    const b3 = await replicaOn(t, 'b3');
    expect(await b3.read(10)).toEqual(entry(10));
    await b3.close();
  });

  it('refuses to open (XDBM_QUORUM_LOST) when an ack quorum of the last ensemble cannot be read', async () => {
    const t = await seeded(5, 5);
    for (const id of ['b0', 'b1']) {
      await rm(t.dirOf(id), { recursive: true });
      await writeFile(t.dirOf(id), 'gone');
    }
    await expect(openManagedLog(t.asManager(), 'raft')).rejects.toMatchObject({ code: 'XDBM_QUORUM_LOST' });
  });
});
