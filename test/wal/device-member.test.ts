/**
 * DeviceMember (the device ring under the MemberLog contract) on real loop block devices.
 * Root + losetup only; skipped otherwise (CI runs as root). The RawDevice here is a thin adapter over
 * the device node with pwrite/pread + fdatasync, standing in for BlockBackend (same calls, O_DIRECT).
 * Two adapters over two file handles on the same loop device play two processes (old and new writer).
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EndpointConfig } from '../../src/config/types.js';
import { DeviceMember, type RawDevice } from '../../src/wal/device-member.js';
import type { CopyRef } from '../../src/wal/member-log.js';

const run = promisify(execFile);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasLosetup = (() => {
  try {
    execFileSync('losetup', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const SKIP = !isRoot || !hasLosetup;
const SKIP_REASON = !isRoot ? 'needs root (loop devices)' : !hasLosetup ? 'needs losetup' : '';

const B = 4096;
const REGION_OFFSET = 1 << 20; // the first MiB belongs to someone else
const RING_AT = REGION_OFFSET + 7 * B; // superblock, 2 fence slots, 2 head slots, 2 link slots
const BATCH_MAGIC = 0x32425758;

class LoopDevice implements RawDevice {
  writes = 0;
  constructor(readonly endpointId: string, readonly fh: FileHandle, readonly regionBytes: number) {}
  dataRegion() { return { offsetBytes: REGION_OFFSET, lengthBytes: this.regionBytes, logicalBlockBytes: B }; }
  async writeRaw(offsetBytes: number, data: Uint8Array): Promise<void> {
    if (offsetBytes % B !== 0 || data.length % B !== 0) throw new Error(`unaligned write ${offsetBytes}+${data.length}`);
    if (offsetBytes < REGION_OFFSET || offsetBytes + data.length > REGION_OFFSET + this.regionBytes) throw new Error('write outside the data region');
    this.writes++;
    await this.fh.write(data, 0, data.length, offsetBytes);
  }
  async readRaw(offsetBytes: number, lengthBytes: number): Promise<Buffer> {
    const b = Buffer.alloc(lengthBytes);
    await this.fh.read(b, 0, lengthBytes, offsetBytes);
    return b;
  }
  async flush(): Promise<void> { await this.fh.datasync(); }
}

/** A LoopDevice whose next write can be held in flight until released. */
class GatedLoop extends LoopDevice {
  #gate: Promise<void> | undefined;
  held: Promise<void> = Promise.resolve();
  #heldNow: () => void = () => undefined;
  hold(): () => void {
    let open!: () => void;
    this.#gate = new Promise((r) => { open = r; });
    this.held = new Promise((r) => { this.#heldNow = r; });
    return () => { this.#gate = undefined; open(); };
  }
  override async writeRaw(offsetBytes: number, data: Uint8Array): Promise<void> {
    const g = this.#gate;
    if (g) {
      this.#heldNow();
      await g;
    }
    await super.writeRaw(offsetBytes, data);
  }
}

const payload = (c: CopyRef, i: number): Buffer => Buffer.from(`e${c.epoch}b${c.by}-entry-${i}-${'y'.repeat((i * 131) % 3000)}`);
const recs = (c: CopyRef, from: number, n: number) => Array.from({ length: n }, (_, k) => ({ index: from + k, payload: payload(c, from + k) }));

/** Batch headers found on the medium (block starts with the batch magic), in offset order. */
async function rawBatches(fh: FileHandle, regionBytes: number): Promise<Array<{ at: number; seq: number; epoch: number; by: number; first: number; count: number; total: number }>> {
  const b = Buffer.alloc(regionBytes);
  await fh.read(b, 0, regionBytes, REGION_OFFSET);
  const out = [];
  for (let o = RING_AT - REGION_OFFSET; o + B <= regionBytes; o += B) {
    if (b.readUInt32LE(o) !== BATCH_MAGIC) continue;
    out.push({
      at: REGION_OFFSET + o, seq: b.readUInt32LE(o + 8), epoch: b.readUInt32LE(o + 16), by: b.readUInt32LE(o + 20),
      first: b.readUInt32LE(o + 24), count: b.readUInt32LE(o + 32), total: Math.ceil((80 + b.readUInt32LE(o + 36)) / B) * B,
    });
  }
  return out;
}

async function regionHash(fh: FileHandle, regionBytes: number): Promise<string> {
  const b = Buffer.alloc(regionBytes);
  await fh.read(b, 0, regionBytes, REGION_OFFSET);
  return createHash('sha256').update(b).digest('hex');
}

describe.skipIf(SKIP)(`DeviceMember on a loop device${SKIP ? ` (skipped: ${SKIP_REASON})` : ''}`, () => {
  const REGION = 8 << 20;
  const MAX_BATCH = 64 << 10;
  let dir: string;
  let loop: string;
  let fh: FileHandle;
  let fh2: FileHandle;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'xdbm-devmember-'));
    const img = join(dir, 'disk.img');
    const f = await open(img, 'w');
    await f.truncate(REGION_OFFSET + REGION + (1 << 20));
    await f.close();
    loop = (await run('losetup', ['--find', '--show', img])).stdout.trim();
    fh = await open(loop, 'r+');
    fh2 = await open(loop, 'r+');
  });
  afterAll(async () => {
    await fh?.close();
    await fh2?.close();
    if (loop) await run('losetup', ['-d', loop]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await fh.write(Buffer.alloc(REGION), 0, REGION, REGION_OFFSET);
    await fh.datasync();
  });

  const member = async (h: FileHandle = fh, logName = 'raft'): Promise<DeviceMember> => {
    const m = new DeviceMember({ endpointId: 'blk', device: new LoopDevice('blk', h, REGION), logName, maxBatchBytes: MAX_BATCH });
    await m.open();
    return m;
  };

  it('open() on a zeroed device finds no copies and writes nothing', async () => {
    const dev = new LoopDevice('blk', fh, REGION);
    const m = new DeviceMember({ endpointId: 'blk', device: dev, logName: 'raft', maxBatchBytes: MAX_BATCH });
    await m.open();
    expect(m.copies()).toEqual([]);
    expect(m.hasData()).toBe(false);
    expect(m.lastIndex({ epoch: 1, by: 1 })).toBe(0);
    expect(dev.writes).toBe(0);
    const b = Buffer.alloc(REGION);
    await fh.read(b, 0, REGION, REGION_OFFSET);
    expect(b.every((x) => x === 0)).toBe(true);
    // fence() on a blank device records the fence (formatting it): a stale writer cannot create an unfenced copy later.
    const stale = await member(fh2);
    await m.fence(5);
    expect(m.hasData()).toBe(false);
    await expect(stale.create({ epoch: 5, by: 5 })).rejects.toMatchObject({ code: 'XDBM_FENCED' });
    await expect((await member(fh2)).create({ epoch: 5, by: 5 })).rejects.toMatchObject({ code: 'XDBM_FENCED' });
    await (await member(fh2)).create({ epoch: 6, by: 6 });
  });

  it('open() on a damaged superblock fails with XDBM_LOG_CORRUPT and writes nothing', async () => {
    const m = await member();
    await m.create({ epoch: 1, by: 1 });
    await m.append({ epoch: 1, by: 1 }, recs({ epoch: 1, by: 1 }, 1, 3));
    const one = Buffer.alloc(1);
    await fh.read(one, 0, 1, REGION_OFFSET + 20); // inside the name
    one[0] = one[0]! ^ 0x10;
    await fh.write(one, 0, 1, REGION_OFFSET + 20);
    await fh.datasync();
    const before = await regionHash(fh, REGION);
    const dev = new LoopDevice('blk', fh, REGION);
    const m2 = new DeviceMember({ endpointId: 'blk', device: dev, logName: 'raft', maxBatchBytes: MAX_BATCH });
    await expect(m2.open()).rejects.toMatchObject({ code: 'XDBM_LOG_CORRUPT', message: expect.stringContaining(`offset ${REGION_OFFSET}`) });
    expect(dev.writes).toBe(0);
    expect(await regionHash(fh, REGION)).toBe(before);
    // Foreign bytes (not a superblock at all) are not formatted over either.
    await fh.write(Buffer.alloc(B, 0x5a), 0, B, REGION_OFFSET);
    await expect((await Promise.resolve(new DeviceMember({ endpointId: 'blk', device: dev, logName: 'raft' }))).open()).rejects.toMatchObject({ code: 'XDBM_LOG_CORRUPT' });
    expect(dev.writes).toBe(0);
  });

  it('both fence, head or link slots destroyed: XDBM_LOG_CORRUPT naming the offsets, nothing written', async () => {
    const m = await member();
    await m.create({ epoch: 1, by: 1 });
    await m.append({ epoch: 1, by: 1 }, recs({ epoch: 1, by: 1 }, 1, 2));
    await m.truncatePrefix(2); // head slot 1 written too
    for (const [a, b] of [[1, 2], [3, 4], [5, 6]] as const) {
      const saved = Buffer.alloc(2 * B);
      await fh.read(saved, 0, 2 * B, REGION_OFFSET + a * B);
      await fh.write(Buffer.alloc(2 * B, 0x77), 0, 2 * B, REGION_OFFSET + a * B);
      const dev = new LoopDevice('blk', fh, REGION);
      await expect(new DeviceMember({ endpointId: 'blk', device: dev, logName: 'raft' }).open())
        .rejects.toMatchObject({ code: 'XDBM_LOG_CORRUPT', message: expect.stringContaining(String(REGION_OFFSET + a * B)) });
      expect(dev.writes).toBe(0);
      await fh.write(saved, 0, 2 * B, REGION_OFFSET + a * B);
      expect(b).toBe(a + 1);
    }
    expect(await (await member()).read({ epoch: 1, by: 1 }, 2)).toEqual(payload({ epoch: 1, by: 1 }, 2));
  });

  it("a device holding another log: no copies of this one, and create() refuses naming the other log", async () => {
    const a = await member(fh, 'alpha');
    await a.create({ epoch: 1, by: 1 });
    await a.append({ epoch: 1, by: 1 }, recs({ epoch: 1, by: 1 }, 1, 2));
    const b = await member(fh, 'beta');
    expect(b.hasData()).toBe(false);
    expect(b.copies()).toEqual([]);
    await expect(b.create({ epoch: 1, by: 1 })).rejects.toMatchObject({ code: 'XDBM_INVALID_ARGUMENT', message: expect.stringContaining('alpha') });
    const a2 = await member(fh, 'alpha');
    expect(await a2.read({ epoch: 1, by: 1 }, 2)).toEqual(payload({ epoch: 1, by: 1 }, 2));
  });

  it('round-trips several copies interleaved; the same index in different copies does not clash; reopen finds them', async () => {
    const c2: CopyRef = { epoch: 2, by: 2 };
    const r1: CopyRef = { epoch: 1, by: 2 }; // re-replication copy of epoch 1 made by writer 2
    const c3: CopyRef = { epoch: 3, by: 3 };
    const m = await member();
    await m.create(c2);
    await m.create(r1);
    for (let k = 0; k < 5; k++) {
      await m.append(r1, recs(r1, 1 + k * 4, 4)); // 1..20
      await m.append(c2, recs(c2, 15 + k * 3, 3)); // 15..29: 15..20 also in r1
    }
    await m.append(c2, recs(c2, 40, 2)); // jump forward inside a copy
    await expect(m.append(c2, recs(c2, 30, 1))).rejects.toMatchObject({ code: 'XDBM_INVALID_ARGUMENT' });
    await m.create(c3);
    await m.append(c3, recs(c3, 28, 5)); // overlaps c2's 28, 29
    const check = (x: DeviceMember) => {
      const cs = x.copies().sort((a, b) => a.by - b.by || a.epoch - b.epoch);
      expect(cs).toEqual([
        { epoch: 1, by: 2, firstIndex: 1, lastIndex: 20, fenced: false },
        { epoch: 2, by: 2, firstIndex: 15, lastIndex: 41, fenced: false },
        { epoch: 3, by: 3, firstIndex: 28, lastIndex: 32, fenced: false },
      ]);
    };
    check(m);
    const m2 = await member(fh2);
    check(m2);
    expect(m2.hasData()).toBe(true);
    for (let i = 1; i <= 20; i++) expect(await m2.read(r1, i)).toEqual(payload(r1, i));
    for (let i = 15; i <= 29; i++) expect(await m2.read(c2, i)).toEqual(payload(c2, i));
    for (let i = 28; i <= 32; i++) expect(await m2.read(c3, i)).toEqual(payload(c3, i));
    expect(m2.has(c2, 35)).toBe(false);
    await expect(m2.read(c2, 35)).rejects.toMatchObject({ code: 'XDBM_ENTRY_NOT_FOUND' });
    expect(m2.damaged(c2)).toEqual([]);
    // c3's first batch went one fence gap past the tail (its writer is newer than everything on the device).
    const raw = await rawBatches(fh, REGION);
    const firstC3 = raw.find((b) => b.by === 3)!;
    const lastBefore = raw.filter((b) => b.by < 3).reduce((a, b) => (b.at > a.at ? b : a));
    expect(firstC3.at - (lastBefore.at + lastBefore.total)).toBeGreaterThanOrEqual(MAX_BATCH);
    // A flipped byte in the header of the last batch before that gap loses nothing past the gap.
    const one = Buffer.alloc(1);
    await fh.read(one, 0, 1, lastBefore.at + 17);
    one[0] = one[0]! ^ 0x02;
    await fh.write(one, 0, 1, lastBefore.at + 17);
    await fh.datasync();
    const m3 = await member(fh2);
    expect(m3.damaged(c2)).toEqual([40, 41]);
    for (let i = 28; i <= 32; i++) expect(await m3.read(c3, i)).toEqual(payload(c3, i));
    for (let i = 15; i <= 29; i++) expect(await m3.read(c2, i)).toEqual(payload(c2, i));
    // and a flipped byte in its body instead: the records whose checksums hold stay readable
    await fh.write(Buffer.from([one[0]! ^ 0x02]), 0, 1, lastBefore.at + 17);
    await fh.read(one, 0, 1, lastBefore.at + 80 + 30);
    await fh.write(Buffer.from([one[0]! ^ 0x40]), 0, 1, lastBefore.at + 80 + 30);
    await fh.datasync();
    const m4 = await member(fh2);
    expect(m4.damaged(c2)).toEqual([40]);
    expect(await m4.read(c2, 41)).toEqual(payload(c2, 41));
    for (let i = 28; i <= 32; i++) expect(await m4.read(c3, i)).toEqual(payload(c3, i));
  });

  it('fence: the fenced writer gets XDBM_FENCED, the new writer starts past the gap, late writes never hide its records', async () => {
    const old: CopyRef = { epoch: 3, by: 3 };
    const nu: CopyRef = { epoch: 4, by: 4 };
    // The old writer: its device can hold a write in flight (a paused process, a slow path).
    const gated = new GatedLoop('blk', fh, REGION);
    const w1 = new DeviceMember({ endpointId: 'blk', device: gated, logName: 'raft', maxBatchBytes: MAX_BATCH });
    await w1.open();
    await w1.create(old);
    for (let i = 1; i <= 40; i += 5) await w1.append(old, recs(old, i, 5)); // 1..40
    const oldTail = (await rawBatches(fh, REGION)).reduce((a, b) => (b.at > a.at ? b : a));
    const oldEnd = oldTail.at + oldTail.total;
    // Its next append, a whole max-size batch, is held inside writeRaw.
    const release = gated.hold();
    const big = [{ index: 41, payload: Buffer.alloc(MAX_BATCH - 80 - 20 - B, 0x33) }];
    const late = w1.append(old, big);
    late.catch(() => undefined);
    await gated.held;

    const w2 = await member(fh2); // the recoverer / new writer, another handle on the device
    await w2.fence(3);
    expect(w2.copies().find((c) => c.by === 3)?.fenced).toBe(true);
    await expect(w2.create(old)).rejects.toMatchObject({ code: 'XDBM_FENCED' });
    await w2.create(nu);
    for (let i = 41; i <= 60; i += 4) await w2.append(nu, recs(nu, i, 4)); // 41..60
    const firstNew = (await rawBatches(fh, REGION)).filter((b) => b.by === 4).reduce((a, b) => (b.at < a.at ? b : a));
    expect(firstNew.at).toBeGreaterThanOrEqual(oldEnd + MAX_BATCH);

    // The late write lands at the old tail (durable) but is refused: it is beyond what the metadata trusts.
    release();
    await expect(late).rejects.toMatchObject({ code: 'XDBM_FENCED' });
    await expect(w1.append(old, recs(old, 42, 2))).rejects.toMatchObject({ code: 'XDBM_FENCED' });
    const landed = (await rawBatches(fh, REGION)).find((b) => b.at === oldEnd);
    expect(landed).toMatchObject({ epoch: 3, by: 3, first: 41 });
    let r = await member();
    for (let i = 41; i <= 60; i++) expect(await r.read(nu, i)).toEqual(payload(nu, i));
    for (let i = 1; i <= 40; i++) expect(await r.read(old, i)).toEqual(payload(old, i));
    expect(r.lastIndex(nu)).toBe(60);
    // and raw garbage over the whole gap a late write could reach
    await fh.write(Buffer.alloc(MAX_BATCH + B, 0xab), 0, MAX_BATCH + B, oldEnd);
    await fh.datasync();
    r = await member();
    for (let i = 41; i <= 60; i++) expect(await r.read(nu, i)).toEqual(payload(nu, i));
    expect(r.damaged(nu)).toEqual([]);
    // a late write destroying one link slot (a stale writer's own link write) keeps the jump
    await fh.write(Buffer.alloc(B, 0xcd), 0, B, REGION_OFFSET + 5 * B);
    await fh.datasync();
    r = await member();
    for (let i = 41; i <= 60; i++) expect(await r.read(nu, i)).toEqual(payload(nu, i));

    // The new writer goes on; a later fence of epoch 4 works the same way.
    await w2.append(nu, recs(nu, 61, 3));
    const w3 = await member();
    await expect(w3.create(nu)).rejects.toMatchObject({ code: 'XDBM_INVALID_ARGUMENT' }); // another writer's copy
    await expect(w3.append(nu, recs(nu, 64, 1))).rejects.toMatchObject({ code: 'XDBM_INVALID_ARGUMENT' });
    await w3.fence(4);
    await expect(w2.append(nu, recs(nu, 64, 1))).rejects.toMatchObject({ code: 'XDBM_FENCED' });
    await w3.create({ epoch: 5, by: 5 });
    await w3.append({ epoch: 5, by: 5 }, recs({ epoch: 5, by: 5 }, 64, 3));
    const r2 = await member(fh2);
    for (let i = 1; i <= 40; i++) expect(await r2.read(old, i)).toEqual(payload(old, i));
    for (let i = 41; i <= 63; i++) expect(await r2.read(nu, i)).toEqual(payload(nu, i));
    for (let i = 64; i <= 66; i++) expect(await r2.read({ epoch: 5, by: 5 }, i)).toEqual(payload({ epoch: 5, by: 5 }, i));
    expect(r2.copies().find((c) => c.by === 4)?.fenced).toBe(true);
    expect(r2.copies().find((c) => c.by === 5)?.fenced).toBe(false);
  });

  it("fence right after the old writer formatted the device: its first write, held in flight, never hides the new writer's", async () => {
    const gated = new GatedLoop('blk', fh, REGION);
    const w1 = new DeviceMember({ endpointId: 'blk', device: gated, logName: 'raft', maxBatchBytes: MAX_BATCH });
    await w1.open();
    const old: CopyRef = { epoch: 1, by: 1 };
    await w1.create(old); // formats
    const release = gated.hold();
    const late = w1.append(old, [{ index: 1, payload: Buffer.alloc(MAX_BATCH - 80 - 20 - B, 0x11) }]);
    late.catch(() => undefined);
    await gated.held;
    const w2 = await member(fh2);
    await w2.fence(1);
    const nu: CopyRef = { epoch: 2, by: 2 };
    await w2.create(nu);
    await w2.append(nu, recs(nu, 1, 4));
    release();
    await expect(late).rejects.toMatchObject({ code: 'XDBM_FENCED' });
    const r = await member();
    for (let i = 1; i <= 4; i++) expect(await r.read(nu, i)).toEqual(payload(nu, i));
    expect(r.lastIndex(old)).toBe(1); // the late batch reads as the stale copy's: the metadata decides
  });

  it("an append that resolved between the fencer's open() and its fence() is seen by the fencer", async () => {
    const e1: CopyRef = { epoch: 1, by: 1 };
    const w = await member();
    await w.create(e1);
    await w.append(e1, recs(e1, 1, 3));
    const fencer = await member(fh2); // scans up to 3
    await w.append(e1, recs(e1, 4, 1)); // resolves: durable before the fence
    await fencer.fence(1);
    await expect(w.append(e1, recs(e1, 5, 1))).rejects.toMatchObject({ code: 'XDBM_FENCED' });
    expect(fencer.lastIndex(e1)).toBe(4);
    expect(await fencer.read(e1, 4)).toEqual(payload(e1, 4));
  });

  it('fence slots: one destroyed slot keeps the fence', async () => {
    const c: CopyRef = { epoch: 2, by: 2 };
    const w = await member();
    await w.create(c);
    await w.append(c, recs(c, 1, 2));
    const f = await member(fh2);
    await f.fence(2);
    await fh.write(Buffer.alloc(B, 0), 0, B, REGION_OFFSET + B); // a stale write over slot 1
    await fh.datasync();
    await expect(w.append(c, recs(c, 3, 1))).rejects.toMatchObject({ code: 'XDBM_FENCED' });
    expect((await member()).copies()[0]?.fenced).toBe(true);
  });

  it('a flipped byte in a middle batch header loses nothing after it; damaged() names the hit indexes', async () => {
    const c: CopyRef = { epoch: 1, by: 1 };
    const m = await member();
    await m.create(c);
    for (let i = 1; i <= 60; i += 3) await m.append(c, recs(c, i, 3)); // 20 batches
    const raw = await rawBatches(fh, REGION);
    const hit = raw[9]!; // indexes 28..30
    const one = Buffer.alloc(1);
    await fh.read(one, 0, 1, hit.at + 25); // inside firstIndex
    one[0] = one[0]! ^ 0x04;
    await fh.write(one, 0, 1, hit.at + 25);
    // and a flipped payload byte in another batch: only that record is damaged
    const body = raw[14]!; // 43..45
    await fh.read(one, 0, 1, body.at + 80 + 20 + 5);
    one[0] = one[0]! ^ 0x01;
    await fh.write(one, 0, 1, body.at + 80 + 20 + 5);
    // and a flipped record magic (framing lost) in a third: only that record is damaged
    const rm = raw[16]!; // 49..51: damage the second record's magic
    const hdr = Buffer.alloc(B);
    await fh.read(hdr, 0, B, rm.at);
    const second = rm.at + 80 + 20 + hdr.readUInt32LE(80 + 12);
    await fh.read(one, 0, 1, second);
    one[0] = one[0]! ^ 0x80;
    await fh.write(one, 0, 1, second);
    await fh.datasync();
    const r = await member();
    expect(r.damaged(c)).toEqual([28, 29, 30, 43, 50]);
    expect(r.lastIndex(c)).toBe(60);
    for (let i = 1; i <= 60; i++) {
      if ([28, 29, 30, 43, 50].includes(i)) await expect(r.read(c, i)).rejects.toMatchObject({ code: 'XDBM_CHECKSUM_MISMATCH' });
      else expect(await r.read(c, i)).toEqual(payload(c, i));
    }
    // A torn last batch is a tail, not damage.
    const last = raw.at(-1)!;
    await fh.write(Buffer.alloc(B, 0), 0, B, last.at);
    await fh.datasync();
    const t = await member();
    expect(t.lastIndex(c)).toBe(57);
    expect(t.damaged(c)).toEqual([28, 29, 30, 43, 50]);
    const c2: CopyRef = { epoch: 2, by: 2 };
    await t.create(c2);
    await t.append(c2, recs(c2, 58, 1));
    const t2 = await member();
    expect(await t2.read(c2, 58)).toEqual(payload(c2, 58));
    expect(await t2.read(c, 57)).toEqual(payload(c, 57));
  });
});

describe.skipIf(SKIP)(`DeviceMember ring on a loop device${SKIP ? ` (skipped: ${SKIP_REASON})` : ''}`, () => {
  const RING = 256 * 1024; // small region: laps come quickly
  const MAX_BATCH = 16 * 1024;
  let dir: string;
  let loop: string;
  let fh: FileHandle;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'xdbm-devring-'));
    const img = join(dir, 'disk.img');
    const f = await open(img, 'w');
    await f.truncate(4 << 20);
    await f.close();
    loop = (await run('losetup', ['--find', '--show', img])).stdout.trim();
    fh = await open(loop, 'r+');
  });
  afterAll(async () => {
    await fh?.close();
    if (loop) await run('losetup', ['-d', loop]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  const member = async (): Promise<DeviceMember> => {
    const m = new DeviceMember({ endpointId: 'ring', device: new LoopDevice('ring', fh, RING), logName: 'raft', maxBatchBytes: MAX_BATCH });
    await m.open();
    return m;
  };
  const pl = (i: number): Buffer => Buffer.from(`ring-${i}-${'r'.repeat(5000 + (i % 3) * 1000)}`); // 2 blocks a batch

  it('fills up with XDBM_NO_SPACE, truncatePrefix frees space, wraps across reopens and across writer changes', async () => {
    let epoch = 1;
    let c: CopyRef = { epoch, by: epoch };
    let w = await member(); // the writer
    await w.create(c);
    let next = 1;
    await expect((async () => { for (;;) { await w.append(c, [{ index: next, payload: pl(next) }]); next++; } })())
      .rejects.toMatchObject({ code: 'XDBM_NO_SPACE' });
    expect(next).toBeGreaterThan(20);
    let r = await member(); // a reader, reopened
    expect(r.lastIndex(c)).toBe(next - 1);
    const held = new Map<number, CopyRef>();
    for (let i = 1; i < next; i++) held.set(i, c);
    for (let lap = 0; lap < 6; lap++) {
      if (lap % 2 === 0) {
        // a writer change on the reopened instance: fence, then a new copy that starts past a fence gap
        w = r;
        await w.fence(epoch);
        epoch++;
        c = { epoch, by: epoch };
        await w.create(c);
      }
      await w.truncatePrefix(next - 6); // keep the last 6
      for (let k = 0; k < 12; k++, next++) {
        await w.append(c, [{ index: next, payload: pl(next) }]);
        held.set(next, c);
      }
      r = await member();
      expect(r.lastIndex(c)).toBe(next - 1);
      for (let i = next - 6; i < next; i++) expect(await r.read(held.get(i)!, i)).toEqual(pl(i));
    }
    await expect((async () => { for (;;) { await w.append(c, [{ index: next, payload: pl(next) }]); held.set(next, c); next++; } })())
      .rejects.toMatchObject({ code: 'XDBM_NO_SPACE' });
    const full = await member();
    expect(full.lastIndex(c)).toBe(next - 1);
    expect(await full.read(c, next - 1)).toEqual(pl(next - 1));
  });
});

const hasAddon = existsSync(join(process.cwd(), 'build', 'Release', 'xdbm_native.node'));
describe.skipIf(SKIP || !hasAddon)(
  `DeviceMember through the real BlockBackend (O_DIRECT addon) on a loop device${SKIP || !hasAddon ? ` (skipped: ${SKIP_REASON || 'addon not built: npx node-gyp rebuild --nodedir=/usr'})` : ''}`,
  () => {
    let dir: string;
    let loop: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'xdbm-devmemblk-'));
      const img = join(dir, 'disk.img');
      const f = await open(img, 'w');
      await f.truncate(32 << 20);
      await f.close();
      loop = (await run('losetup', ['--find', '--show', img])).stdout.trim();
    });
    afterAll(async () => {
      if (loop) await run('losetup', ['-d', loop]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    });

    it('two backend instances: the old writer is fenced, the new one writes past the gap, a third reads both', async () => {
      const { create } = await import('../../src/backends/block.js');
      const endpoint = {
        endpointId: 'blk', type: 'block', connectionString: `block://${loop}`,
        target: { kind: 'block', devicePath: loop }, weight: 1, labels: {}, probeAreaBytes: 4 << 20,
      } as EndpointConfig;
      const backends = [create(endpoint), create(endpoint), create(endpoint)];
      for (const b of backends) await b.init();
      const mk = async (b: (typeof backends)[number]) => {
        const m = new DeviceMember({ endpointId: 'blk', device: b as unknown as RawDevice, logName: 'raft', maxBatchBytes: 256 << 10 });
        await m.open();
        return m;
      };
      try {
        const old: CopyRef = { epoch: 1, by: 1 };
        const nu: CopyRef = { epoch: 2, by: 2 };
        const w1 = await mk(backends[0]!);
        expect(w1.hasData()).toBe(false);
        await w1.create(old);
        for (let i = 1; i <= 40; i += 8) await w1.append(old, recs(old, i, 8));
        const w2 = await mk(backends[1]!);
        expect(w2.lastIndex(old)).toBe(40);
        await w2.fence(1);
        await expect(w1.append(old, recs(old, 41, 8))).rejects.toMatchObject({ code: 'XDBM_FENCED' });
        await w2.create(nu);
        for (let i = 41; i <= 80; i += 8) await w2.append(nu, recs(nu, i, 8));
        const r = await mk(backends[2]!);
        for (let i = 1; i <= 40; i++) expect(await r.read(old, i)).toEqual(payload(old, i));
        for (let i = 41; i <= 80; i++) expect(await r.read(nu, i)).toEqual(payload(nu, i));
        expect(r.copies().map((c) => [c.by, c.fenced])).toEqual(expect.arrayContaining([[1, true], [2, false]]));
      } finally {
        for (const b of backends) await b.close();
      }
    });
  },
);
