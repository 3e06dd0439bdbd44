import { mkdtemp, open, readdir, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileReplica, segmentName } from '../../src/wal/file-member.js';
import { RECORD_HEADER_BYTES } from '../../src/wal/record-format.js';

const payload = (i: number): Buffer => Buffer.from(`entry-${i}-`.repeat((i % 7) + 1));

let root: string;
beforeEach(async () => { root = await mkdtemp(join(tmpdir(), 'xdbm-frep-')); });
afterEach(async () => { await rm(root, { recursive: true, force: true }); });

async function filled(n: number, segmentBytes = 1 << 20): Promise<FileReplica> {
  const r = new FileReplica({ endpointId: 'e1', rootDir: root, logName: 'raft', segmentBytes });
  await r.open();
  for (let i = 1; i <= n; i += 5) {
    const batch = [];
    for (let j = i; j < i + 5 && j <= n; j++) batch.push({ index: j, payload: payload(j) });
    await r.append(batch);
  }
  return r;
}

async function reopen(segmentBytes = 1 << 20): Promise<FileReplica> {
  const r = new FileReplica({ endpointId: 'e1', rootDir: root, logName: 'raft', segmentBytes });
  await r.open();
  return r;
}

const segPath = (base: number): string => join(root, 'wal', 'raft', segmentName(base));

describe('FileReplica', () => {
  it('appends, reads back and survives reopen', async () => {
    const r = await filled(23);
    expect(r.lastIndex()).toBe(23);
    await r.close();
    const r2 = await reopen();
    expect(r2.firstIndex()).toBe(1);
    expect(r2.lastIndex()).toBe(23);
    for (let i = 1; i <= 23; i++) expect(await r2.read(i)).toEqual(payload(i));
    await expect(r2.read(24)).rejects.toMatchObject({ code: 'XDBM_ENTRY_NOT_FOUND' });
    await r2.close();
  });

  it('cuts a torn tail at every possible crash point of the last record', async () => {
    const r = await filled(10);
    await r.close();
    const full = (await stat(segPath(1))).size;
    const lastLen = RECORD_HEADER_BYTES + payload(10).length;
    const tail = Buffer.alloc(lastLen);
    { const fh = await open(segPath(1), 'r'); await fh.read(tail, 0, lastLen, full - lastLen); await fh.close(); }
    for (let cut = 1; cut < lastLen; cut++) {
      await truncate(segPath(1), full - cut);
      const r2 = await reopen();
      expect(r2.lastIndex()).toBe(9);
      expect((await stat(segPath(1))).size).toBe(full - lastLen);
      expect(await r2.read(9)).toEqual(payload(9));
      await r2.append([{ index: 10, payload: payload(10) }]);
      expect(await r2.read(10)).toEqual(payload(10));
      await r2.close();
      const r3 = await reopen();
      expect(r3.lastIndex()).toBe(10);
      expect(await r3.read(10)).toEqual(payload(10));
      await r3.truncateSuffix(10); // back to the torn state's shape for the next cut
      await r3.close();
      await rm(segPath(10), { force: true });
      await truncate(segPath(1), full - lastLen);
      const fh = await open(segPath(1), 'r+');
      await fh.write(tail, 0, tail.length, full - lastLen);
      await fh.close();
    }
  });

  it('treats a flipped byte in the last record as torn, and in a middle record as a checksum mismatch', async () => {
    const r = await filled(10);
    await r.close();
    const size = (await stat(segPath(1))).size;
    const fh = await open(segPath(1), 'r+');
    await fh.write(Buffer.from([0xff]), 0, 1, size - 2); // inside payload of index 10
    await fh.write(Buffer.from([0x00]), 0, 1, RECORD_HEADER_BYTES + 1); // payload of index 1
    await fh.close();
    const r2 = await reopen();
    expect(r2.lastIndex()).toBe(9);
    await expect(r2.read(1)).rejects.toMatchObject({ code: 'XDBM_CHECKSUM_MISMATCH' });
    expect(await r2.read(2)).toEqual(payload(2));
    await r2.close();
  });

  it('rolls segments, truncates suffix and prefix, and starts a new run after a gap', async () => {
    const r = await filled(40, 200);
    const segs = (await readdir(join(root, 'wal', 'raft'))).length;
    expect(segs).toBeGreaterThan(3);
    await r.truncateSuffix(18);
    expect(r.lastIndex()).toBe(17);
    await r.append([{ index: 18, payload: Buffer.from('new-18') }]);
    expect(await r.read(18)).toEqual(Buffer.from('new-18'));
    await r.truncatePrefix(12);
    await expect(r.read(11)).rejects.toMatchObject({ code: 'XDBM_ENTRY_NOT_FOUND' });
    expect(await r.read(12)).toEqual(payload(12));
    await r.append([{ index: 100, payload: Buffer.from('after-gap') }]);
    expect(r.has(50)).toBe(false);
    expect(r.lastIndex()).toBe(100);
    // Appending at or below lastIndex drops the suffix first (a member re-joining a later epoch).
    await r.append([{ index: 15, payload: Buffer.from('again-15') }]);
    expect(r.lastIndex()).toBe(15);
    await r.close();
    const r2 = await reopen(200);
    expect(r2.lastIndex()).toBe(15);
    expect(await r2.read(15)).toEqual(Buffer.from('again-15'));
    expect(await r2.read(14)).toEqual(payload(14));
    await r2.close();
  });

  it('reports I/O failures with a stable code when its directory is gone', async () => {
    const r = await filled(3);
    await r.close();
    await rm(join(root, 'wal'), { recursive: true });
    await rm(root, { recursive: true });
    await (await open(root, 'w')).close(); // root is now a file: mkdir fails with ENOTDIR
    const r2 = new FileReplica({ endpointId: 'e1', rootDir: root, logName: 'raft', segmentBytes: 1 << 20 });
    await expect(r2.open()).rejects.toMatchObject({ code: 'XDBM_IO_ERROR' });
  });
});
