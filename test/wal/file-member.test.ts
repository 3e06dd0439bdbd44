/**
 * The FileMember contract (member-log.ts M1-M4) on real directories.
 */
import { mkdtemp, open, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileMember, logDir, segmentName } from '../../src/wal/file-member.js';
import type { CopyRef } from '../../src/wal/member-log.js';
import { RECORD_HEADER_BYTES } from '../../src/wal/record-format.js';

const payload = (i: number): Buffer => Buffer.from(`entry-${i}-`.repeat((i % 7) + 1));

let root: string;
beforeEach(async () => { root = await mkdtemp(join(tmpdir(), 'xdbm-fmem-')); });
afterEach(async () => { await rm(root, { recursive: true, force: true }); });

const E1: CopyRef = { epoch: 1, by: 1 };

function member(segmentBytes = 1 << 20, rootDir = root): FileMember {
  return new FileMember({ endpointId: 'm1', rootDir, logName: 'raft', segmentBytes });
}

async function opened(segmentBytes = 1 << 20): Promise<FileMember> {
  const m = member(segmentBytes);
  await m.open();
  return m;
}

async function fill(m: FileMember, copy: CopyRef, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i += 5) {
    const batch = [];
    for (let j = i; j < i + 5 && j <= to; j++) batch.push({ index: j, payload: payload(j) });
    await m.append(copy, batch);
  }
}

async function filled(n: number, segmentBytes = 1 << 20, copy: CopyRef = E1): Promise<FileMember> {
  const m = await opened(segmentBytes);
  await m.create(copy);
  await fill(m, copy, 1, n);
  return m;
}

const copyDir = (name: string): string => join(logDir(root, 'raft'), name);
const segPath = (dir: string, base: number): string => join(copyDir(dir), segmentName(base));

async function listTree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

describe('FileMember M1: open() only reads', () => {
  it('fails with XDBM_NOT_FOUND on a missing root and creates nothing', async () => {
    const missing = join(root, 'not-mounted');
    const m = member(1 << 20, missing);
    await expect(m.open()).rejects.toMatchObject({ code: 'XDBM_NOT_FOUND' });
    await expect(stat(missing)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(root)).toEqual([]);
  });

  it('fails with XDBM_NOT_FOUND when the root is a file', async () => {
    const file = join(root, 'plain-file');
    await writeFile(file, 'x');
    await expect(member(1 << 20, file).open()).rejects.toMatchObject({ code: 'XDBM_NOT_FOUND' });
    expect(await readFile(file, 'utf8')).toBe('x');
  });

  it('on a root without the log directory: no copies, no data, nothing created', async () => {
    const m = await opened();
    expect(m.copies()).toEqual([]);
    expect(m.hasData()).toBe(false);
    expect(m.lastIndex(E1)).toBe(0);
    await expect(m.read(E1, 1)).rejects.toMatchObject({ code: 'XDBM_ENTRY_NOT_FOUND' });
    await m.close();
    expect(await readdir(root)).toEqual([]);
  });

  it('does not cut a torn tail or create anything when it opens an existing log', async () => {
    const m = await filled(10);
    await m.close();
    const full = (await stat(segPath('e1', 1))).size;
    await truncate(segPath('e1', 1), full - 3);
    const before = await listTree(root);
    const m2 = await opened();
    expect(m2.lastIndex(E1)).toBe(9);
    await m2.close();
    expect(await listTree(root)).toEqual(before);
    expect((await stat(segPath('e1', 1))).size).toBe(full - 3);
  });
});

describe('FileMember M2: copies, appends, segments', () => {
  it('creates, appends, reads and reopens several copies ({1,1}, {2,2}, {1,3})', async () => {
    const m = await opened();
    const copies: [CopyRef, number, number][] = [[{ epoch: 1, by: 1 }, 1, 12], [{ epoch: 2, by: 2 }, 13, 20], [{ epoch: 1, by: 3 }, 4, 12]];
    for (const [c, from, to] of copies) {
      await m.create(c);
      await fill(m, c, from, to);
    }
    expect(m.hasData()).toBe(true);
    await m.close();
    expect((await readdir(logDir(root, 'raft'))).sort()).toEqual(['c1-3', 'e1', 'e2']);
    const m2 = await opened();
    const infos = m2.copies().map(({ epoch, by, firstIndex, lastIndex, fenced }) => ({ epoch, by, firstIndex, lastIndex, fenced }));
    expect(infos.sort((a, b) => a.epoch - b.epoch || a.by - b.by)).toEqual([
      { epoch: 1, by: 1, firstIndex: 1, lastIndex: 12, fenced: false },
      { epoch: 1, by: 3, firstIndex: 4, lastIndex: 12, fenced: false },
      { epoch: 2, by: 2, firstIndex: 13, lastIndex: 20, fenced: false },
    ]);
    for (const [c, from, to] of copies) {
      for (let i = from; i <= to; i++) {
        expect(m2.has(c, i)).toBe(true);
        expect(await m2.read(c, i)).toEqual(payload(i));
      }
      expect(m2.has(c, to + 1)).toBe(false);
      await expect(m2.read(c, to + 1)).rejects.toMatchObject({ code: 'XDBM_ENTRY_NOT_FOUND' });
      expect(m2.damaged(c)).toEqual([]);
    }
    expect(m2.has({ epoch: 1, by: 3 }, 3)).toBe(false);
    await m2.close();
  });

  it('rolls segments at segmentBytes and reads across them after a reopen', async () => {
    const m = await filled(40, 256);
    await m.close();
    const segs = (await readdir(copyDir('e1'))).sort();
    expect(segs.length).toBeGreaterThan(3);
    expect(segs[0]).toBe(segmentName(1));
    for (const s of segs) {
      // A segment goes over segmentBytes by at most one batch (5 records here).
      expect((await stat(join(copyDir('e1'), s))).size).toBeLessThan(256 + 5 * (RECORD_HEADER_BYTES + 80));
    }
    const m2 = await opened(256);
    expect(m2.lastIndex(E1)).toBe(40);
    for (let i = 1; i <= 40; i++) expect(await m2.read(E1, i)).toEqual(payload(i));
    await m2.close();
  });

  it('refuses an append that goes back, and lets indexes jump forward', async () => {
    const m = await filled(5);
    await expect(m.append(E1, [{ index: 5, payload: payload(5) }])).rejects.toMatchObject({ code: 'XDBM_INVALID_ARGUMENT' });
    await expect(m.append(E1, [{ index: 3, payload: payload(3) }])).rejects.toMatchObject({ code: 'XDBM_INVALID_ARGUMENT' });
    await m.append(E1, [{ index: 9, payload: payload(9) }]);
    expect(m.lastIndex(E1)).toBe(9);
    expect(await m.read(E1, 9)).toEqual(payload(9));
    for (let i = 1; i <= 5; i++) expect(await m.read(E1, i)).toEqual(payload(i));
    await m.close();
  });

  it('never overwrites: another instance cannot create or append to a copy that holds data', async () => {
    const m = await filled(5);
    const bytes = await readFile(segPath('e1', 1));
    const other = await opened();
    await expect(other.create(E1)).rejects.toBeDefined(); // found on the medium: another writer's copy
    await expect(other.append(E1, [{ index: 6, payload: payload(6) }])).rejects.toMatchObject({ code: 'XDBM_INVALID_ARGUMENT' });
    await other.close();
    await m.close();
    expect(await readFile(segPath('e1', 1))).toEqual(bytes);
  });

  it('a create() racing with a non-empty copy made after open() fails (mkdir EEXIST, not empty)', async () => {
    const late = await opened(); // sees no copy yet
    const m = await filled(3);
    await expect(late.create(E1)).rejects.toBeDefined();
    await late.close();
    await m.close();
    const m2 = await opened();
    for (let i = 1; i <= 3; i++) expect(await m2.read(E1, i)).toEqual(payload(i));
    await m2.close();
  });

  it('creates segment files exclusively: an existing segment file is never opened for writing', async () => {
    const m = await opened();
    await m.create(E1);
    // Someone else's file already sits where the first segment would go.
    await writeFile(segPath('e1', 1), 'not mine');
    await expect(m.append(E1, [{ index: 1, payload: payload(1) }])).rejects.toMatchObject({ syscallCode: 'EEXIST' });
    expect(await readFile(segPath('e1', 1), 'utf8')).toBe('not mine');
    await m.close();
  });
});

describe('FileMember M3: storage-side fence', () => {
  it('fence(5) by another instance fails the writer\'s next append; everything it acknowledged is seen', async () => {
    const E5: CopyRef = { epoch: 5, by: 5 };
    const a = await opened();
    await a.create(E5);
    const ok: number[] = [];
    for (let i = 1; i <= 6; i++) { await a.append(E5, [{ index: i, payload: payload(i) }]); ok.push(i); }
    const b = await opened();
    await b.fence(5);
    await expect(a.append(E5, [{ index: 7, payload: payload(7) }])).rejects.toMatchObject({ code: 'XDBM_FENCED' });
    expect((await readdir(logDir(root, 'raft'))).sort()).toEqual(['s5']);
    await b.close();
    const b2 = await opened();
    const info = b2.copies().find((c) => c.epoch === 5 && c.by === 5)!;
    expect(info.fenced).toBe(true);
    // The failed append's record may be durable on s5 (it was written before the check); it was never
    // acknowledged, and readers trust a copy only for the range the metadata gives it.
    expect(info.lastIndex).toBeGreaterThanOrEqual(ok.at(-1)!);
    for (const i of ok) expect(await b2.read(E5, i)).toEqual(payload(i));
    // Idempotent.
    const last = b2.lastIndex(E5);
    await b2.fence(5);
    expect(b2.lastIndex(E5)).toBe(last);
    expect((await readdir(logDir(root, 'raft'))).sort()).toEqual(['s5']);
    await b2.close();
    await a.close();
  });

  it('fails a segment roll after the fence too (no new segment under e<N>)', async () => {
    const E5: CopyRef = { epoch: 5, by: 5 };
    const a = await opened(64);
    await a.create(E5);
    await a.append(E5, [{ index: 1, payload: Buffer.alloc(100, 1) }]); // over segmentBytes: next append rolls
    const b = await opened();
    await b.fence(5);
    await expect(a.append(E5, [{ index: 2, payload: payload(2) }])).rejects.toMatchObject({ code: 'XDBM_FENCED' });
    expect(await readdir(copyDir('s5'))).toEqual([segmentName(1)]);
    await a.close();
    await b.close();
  });

  it('a create() of e5 after another instance fenced 5 fails with XDBM_FENCED', async () => {
    const E5: CopyRef = { epoch: 5, by: 5 };
    const a = await opened();
    await a.create(E1); // the log directory exists on this member (it is in an ensemble)
    const b = await opened();
    await b.fence(5); // nothing of epoch 5 yet: leaves s5 in its place
    await expect(a.create(E5)).rejects.toMatchObject({ code: 'XDBM_FENCED' });
    await a.close();
    await b.close();
    // The fence's s5 survives and the lost create leaves nothing that reads as data.
    const c = await opened();
    expect(c.hasData()).toBe(false);
    expect(c.copies().find((x) => x.epoch === 5)?.fenced).toBe(true);
    await c.close();
  });

  // src bug (file-member.ts create): open() registers s5 under key e5 (copyKey), so create(E5) finds an
  // "existing" copy and throws XDBM_INVALID_ARGUMENT ("belongs to another writer") instead of
  // XDBM_FENCED (member-log.ts: "XDBM_FENCED if the copy was fenced"). members.ts chooseEnsemble then
  // reports the healthy member to the manager (reportDataPathError) and excludes it, instead of
  // stopping the fenced writer. Remove `.fails` once fixed.
  it('a create() of e5 by an instance opened after the fence also fails with XDBM_FENCED', async () => {
    const E5: CopyRef = { epoch: 5, by: 5 };
    const b = await opened();
    await b.create(E1);
    await b.fence(5);
    const a = await opened(); // its scan found s5
    await expect(a.create(E5)).rejects.toMatchObject({ code: 'XDBM_FENCED' });
    await a.close();
    await b.close();
  });

  it('a fence racing appends: every append that resolved is on the fenced copy, none after', async () => {
    const E5: CopyRef = { epoch: 5, by: 5 };
    const a = await opened();
    await a.create(E5);
    const ok: number[] = [];
    let failed: unknown;
    const writer = (async () => {
      for (let i = 1; i <= 2000 && !failed; i++) {
        try { await a.append(E5, [{ index: i, payload: payload(i) }]); ok.push(i); } catch (e) { failed = e; }
      }
    })();
    while (ok.length < 10) await new Promise((r) => setImmediate(r));
    const b = await opened();
    await b.fence(5);
    await writer;
    expect(failed).toMatchObject({ code: 'XDBM_FENCED' });
    await b.close();
    const b2 = await opened();
    for (const i of ok) expect(await b2.read(E5, i)).toEqual(payload(i));
    await b2.close();
    await a.close();
  });
});

describe('FileMember M3 under races', () => {
  it('an append racing a fence fails, and every append that resolved is on the fenced copy, even when it rolls a segment', async () => {
    // segmentBytes 1: every append creates a new segment (open O_EXCL, fsync of the copy directory),
    // so the fence's rename lands inside a roll as often as inside a write.
    const codes = new Map<string, number>();
    for (let round = 0; round < 20; round++) {
      const E: CopyRef = { epoch: 10 + round, by: 10 + round };
      const a = await opened(1);
      await a.create(E);
      const ok: number[] = [];
      let failed: unknown;
      const writer = (async () => {
        for (let i = 1; i <= 500 && !failed; i++) {
          try { await a.append(E, [{ index: i, payload: payload(i) }]); ok.push(i); } catch (e) { failed = e; }
        }
      })();
      const target = 1 + (round % 7);
      while (ok.length < target && !failed) await new Promise((r) => setImmediate(r));
      const b = await opened();
      await b.fence(E.epoch);
      await writer;
      const code = String((failed as { code?: string })?.code);
      codes.set(code, (codes.get(code) ?? 0) + 1);
      await b.close();
      const b2 = await opened();
      for (const i of ok) expect(await b2.read(E, i)).toEqual(payload(i));
      await b2.close();
      await a.close();
    }
    // Every round ends in XDBM_FENCED, also when the fence lands inside a segment roll
    // (pinned deterministically in file-member-fence-window.test.ts).
    expect(Object.fromEntries(codes)).toEqual({ XDBM_FENCED: 20 });
  });
});

describe('FileMember M4: damage and torn tails', () => {
  async function lastRecordOffset(n: number): Promise<number> {
    let off = 0;
    for (let i = 1; i < n; i++) off += RECORD_HEADER_BYTES + payload(i).length;
    return off;
  }

  async function poke(path: string, offset: number, xor = 0xff): Promise<void> {
    const fh = await open(path, 'r+');
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, offset);
    b[0] ^= xor;
    await fh.write(b, 0, 1, offset);
    await fh.close();
  }

  it('a flipped payload byte in a middle record: later records readable, damaged() lists it', async () => {
    const m = await filled(10);
    await m.close();
    await poke(segPath('e1', 1), (await lastRecordOffset(5)) + RECORD_HEADER_BYTES + 2);
    const m2 = await opened();
    expect(m2.lastIndex(E1)).toBe(10);
    expect(m2.damaged(E1)).toEqual([5]);
    expect(m2.has(E1, 5)).toBe(false);
    await expect(m2.read(E1, 5)).rejects.toMatchObject({ code: expect.stringMatching(/XDBM_ENTRY_NOT_FOUND|XDBM_CHECKSUM_MISMATCH/) });
    for (const i of [1, 2, 3, 4, 6, 7, 8, 9, 10]) expect(await m2.read(E1, i)).toEqual(payload(i));
    await m2.close();
  });

  for (const [what, at] of [['magic', 0], ['index', 4]] as const) {
    it(`a damaged middle record header (${what} byte): later records readable, damaged() lists it`, async () => {
      const m = await filled(10);
      await m.close();
      await poke(segPath('e1', 1), (await lastRecordOffset(5)) + at);
      const m2 = await opened();
      expect(m2.lastIndex(E1)).toBe(10);
      expect(m2.damaged(E1)).toEqual([5]);
      expect(m2.has(E1, 5)).toBe(false);
      await expect(m2.read(E1, 5)).rejects.toBeDefined();
      for (const i of [1, 2, 3, 4, 6, 7, 8, 9, 10]) expect(await m2.read(E1, i)).toEqual(payload(i));
      await m2.close();
    });
  }

  it('a damaged first record of a segment: damaged() lists it, the segment\'s later records stay readable', async () => {
    const m = await filled(20, 200); // several records per segment
    await m.close();
    const segs = (await readdir(copyDir('e1'))).sort();
    const base = Number(/seg-(\d+)/.exec(segs[1]!)![1]);
    await poke(segPath('e1', base), RECORD_HEADER_BYTES + 1);
    const m2 = await opened(200);
    expect(m2.lastIndex(E1)).toBe(20);
    expect(m2.damaged(E1)).toEqual([base]);
    for (let i = 1; i <= 20; i++) if (i !== base) expect(await m2.read(E1, i)).toEqual(payload(i));
    await m2.close();
  });

  // src bug (file-member.ts #scanCopy): a segment with no intact record is skipped (`records.length
  // === 0 -> continue`) and the gap it leaves between its neighbours is never added to damaged(), so
  // the damage is silent (has() false, nothing in damaged(), stats.damagedRecords not counted). The
  // same for a fully damaged first segment (the copy then seems to start later). Remove `.fails` once fixed.
  it('a middle segment whose only record is damaged: damaged() lists it (M4), later segments readable', async () => {
    const m = await opened(1); // every append starts a new segment: one record per segment
    await m.create(E1);
    for (let i = 1; i <= 10; i++) await m.append(E1, [{ index: i, payload: payload(i) }]);
    await m.close();
    await poke(segPath('e1', 5), RECORD_HEADER_BYTES + 1);
    const m2 = await opened(1);
    expect(m2.lastIndex(E1)).toBe(10);
    expect(m2.has(E1, 5)).toBe(false);
    for (const i of [1, 2, 3, 4, 6, 7, 8, 9, 10]) expect(await m2.read(E1, i)).toEqual(payload(i));
    expect(m2.damaged(E1)).toEqual([5]);
    await m2.close();
  });

  it('a torn tail at every byte offset of the last record: earlier records intact, nothing cut', async () => {
    const m = await filled(10);
    await m.close();
    const path = segPath('e1', 1);
    const full = (await stat(path)).size;
    const lastLen = RECORD_HEADER_BYTES + payload(10).length;
    const original = await readFile(path);
    for (let cut = 1; cut <= lastLen; cut++) {
      await writeFile(path, original.subarray(0, full - cut));
      const m2 = await opened();
      expect({ cut, last: m2.lastIndex(E1) }).toEqual({ cut, last: 9 });
      expect(m2.has(E1, 10)).toBe(false);
      expect(m2.damaged(E1)).toEqual([]);
      for (let i = 1; i <= 9; i++) expect(await m2.read(E1, i)).toEqual(payload(i));
      await expect(m2.read(E1, 10)).rejects.toMatchObject({ code: 'XDBM_ENTRY_NOT_FOUND' });
      await m2.close();
      expect((await stat(path)).size).toBe(full - cut);
    }
  });

  it('truncatePrefix drops whole segments below the index and keeps the last segment', async () => {
    const m = await filled(40, 256);
    const segs = (await readdir(copyDir('e1'))).sort();
    await m.truncatePrefix(1_000); // beyond everything: the last segment still stays
    expect(await readdir(copyDir('e1'))).toEqual([segs.at(-1)]);
    expect(m.lastIndex(E1)).toBe(40);
    expect(await m.read(E1, 40)).toEqual(payload(40));
    await m.close();
    const m2 = await opened(256);
    expect(m2.lastIndex(E1)).toBe(40);
    expect(m2.copies()[0]!.firstIndex).toBe(Number(/seg-(\d+)/.exec(segs.at(-1)!)![1]));
    await m2.close();
  });

  it('truncatePrefix keeps segments that still hold indexes at or above the bound', async () => {
    const m = await filled(40, 256);
    await m.truncatePrefix(20);
    expect(m.has(E1, 20)).toBe(true);
    for (let i = 20; i <= 40; i++) expect(await m.read(E1, i)).toEqual(payload(i));
    expect(m.copies()[0]!.firstIndex).toBeGreaterThan(1);
    expect(m.copies()[0]!.firstIndex).toBeLessThanOrEqual(20);
    await m.close();
  });
});

describe('FileMember collect()', () => {
  it('removes unnamed copies below the given epoch only', async () => {
    const m = await opened();
    const all: CopyRef[] = [{ epoch: 1, by: 1 }, { epoch: 2, by: 2 }, { epoch: 1, by: 3 }, { epoch: 3, by: 3 }, { epoch: 4, by: 4 }];
    for (const c of all) { await m.create(c); await fill(m, c, 1, 3); }
    await m.fence(2); // a fenced copy is collected under s<N>
    // keep only {1,1}; consider copies with by < 4: {2,2}, {1,3}, {3,3} go, {4,4} stays (not older)
    await m.collect((c) => c.epoch === 1 && c.by === 1, 4);
    // The fenced copy's segments go; its empty s2 stays as a tombstone (a fenced writer's late append
    // must still find the fence, not a vanished directory).
    expect((await readdir(logDir(root, 'raft'))).sort()).toEqual(['e1', 'e4', 's2']);
    expect(await readdir(join(logDir(root, 'raft'), 's2'))).toEqual([]);
    expect(m.copies().filter((c) => c.lastIndex > 0).map((c) => `${c.epoch}/${c.by}`).sort()).toEqual(['1/1', '4/4']);
    for (let i = 1; i <= 3; i++) expect(await m.read({ epoch: 4, by: 4 }, i)).toEqual(payload(i));
    await m.close();
    const m2 = await opened();
    expect(m2.copies().filter((c) => c.lastIndex > 0).map((c) => `${c.epoch}/${c.by}`).sort()).toEqual(['1/1', '4/4']);
    await m2.close();
  });
});
