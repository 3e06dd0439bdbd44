/**
 * Device layout on a real loop block device (root only; skipped otherwise, CI runs as root).
 * The RawDevice here is a thin adapter over the device node with pwrite/pread + fdatasync, standing in
 * for BlockBackend (which does the same through the addon with O_DIRECT).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EndpointConfig } from '../../src/config/types.js';
import { DeviceReplica, type RawDevice } from '../../src/wal/device-replica.js';

const run = promisify(execFile);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const REGION_OFFSET = 1 << 20; // pretend the first MiB belongs to someone else
const REGION_BYTES = 4 << 20;

class LoopDevice implements RawDevice {
  constructor(readonly endpointId: string, readonly fh: FileHandle) {}
  dataRegion() { return { offsetBytes: REGION_OFFSET, lengthBytes: REGION_BYTES, logicalBlockBytes: 4096 }; }
  async writeRaw(offsetBytes: number, data: Uint8Array): Promise<void> {
    if (offsetBytes % 4096 !== 0 || data.length % 4096 !== 0) throw new Error(`unaligned write ${offsetBytes}+${data.length}`);
    if (offsetBytes < REGION_OFFSET || offsetBytes + data.length > REGION_OFFSET + REGION_BYTES) throw new Error('write outside the data region');
    await this.fh.write(data, 0, data.length, offsetBytes);
  }
  async readRaw(offsetBytes: number, lengthBytes: number): Promise<Buffer> {
    const b = Buffer.alloc(lengthBytes);
    await this.fh.read(b, 0, lengthBytes, offsetBytes);
    return b;
  }
  async flush(): Promise<void> { await this.fh.datasync(); }
}

const payload = (i: number): Buffer => Buffer.from(`dev-entry-${i}-${'y'.repeat(i * 13 % 3000)}`);

describe.skipIf(!isRoot)('DeviceReplica on a loop device (root: losetup)', () => {
  let dir: string;
  let loop: string;
  let fh: FileHandle;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'xdbm-dev-'));
    const img = join(dir, 'disk.img');
    const f = await open(img, 'w');
    await f.truncate(8 << 20);
    await f.close();
    loop = (await run('losetup', ['--find', '--show', img])).stdout.trim();
    fh = await open(loop, 'r+');
  });
  afterAll(async () => {
    await fh?.close();
    if (loop) await run('losetup', ['-d', loop]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  const fresh = async (): Promise<DeviceReplica> => {
    const r = new DeviceReplica({ endpointId: 'blk', device: new LoopDevice('blk', fh), logName: 'raft' });
    await r.open();
    return r;
  };

  it('formats, appends aligned batches, reads back and survives reopen', async () => {
    const r = await fresh();
    for (let i = 1; i <= 60; i += 4) await r.append([1, 2, 3, 4].map((k) => ({ index: i + k - 1, payload: payload(i + k - 1) })));
    expect(r.lastIndex()).toBe(60);
    const r2 = await fresh();
    expect(r2.firstIndex()).toBe(1);
    expect(r2.lastIndex()).toBe(60);
    for (let i = 1; i <= 60; i++) expect(await r2.read(i)).toEqual(payload(i));
  });

  it('drops a torn last batch and keeps everything before it', async () => {
    const r = await fresh();
    const last = r.lastIndex();
    await r.append([{ index: last + 1, payload: payload(last + 1) }, { index: last + 2, payload: payload(last + 2) }]);
    // Find the batch on the device and tear it: its second half zeroed (a write cut short).
    const r2 = await fresh();
    expect(r2.lastIndex()).toBe(last + 2);
    const probe = Buffer.alloc(4096);
    let off = REGION_OFFSET + 4096;
    let lastBatch = off;
    for (;;) {
      await fh.read(probe, 0, 4096, off);
      if (probe.readUInt32LE(0) !== 0x31425758) break;
      lastBatch = off;
      off += Math.ceil((24 + probe.readUInt32LE(16)) / 4096) * 4096;
    }
    await fh.write(Buffer.alloc(512, 0), 0, 512, lastBatch + 1024);
    await fh.datasync();
    const r3 = await fresh();
    expect(r3.lastIndex()).toBe(last);
    expect(await r3.read(last)).toEqual(payload(last));
    await r3.append([{ index: last + 1, payload: Buffer.from('after-tear') }]);
    const r4 = await fresh();
    expect(await r4.read(last + 1)).toEqual(Buffer.from('after-tear'));
  });

  it('truncates a suffix so that old batches beyond the cut never come back', async () => {
    const r = await fresh();
    const last = r.lastIndex();
    await r.truncateSuffix(30);
    expect(r.lastIndex()).toBe(29);
    await r.append([{ index: 30, payload: Buffer.from('new-30') }]);
    const r2 = await fresh();
    expect(r2.lastIndex()).toBe(30);
    expect(last).toBeGreaterThan(31);
    expect(await r2.read(30)).toEqual(Buffer.from('new-30'));
    expect(await r2.read(29)).toEqual(payload(29));
    await expect(r2.read(31)).rejects.toMatchObject({ code: 'XDBM_ENTRY_NOT_FOUND' });
  });

  it('reports a flipped byte as a checksum mismatch and a full area as XDBM_NO_SPACE', async () => {
    const r = await fresh();
    const b = Buffer.alloc(1);
    const at = REGION_OFFSET + 4096 + 24 + 20 + 3; // payload of the first record of the first batch
    await fh.read(b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, at);
    await expect(r.read(1)).rejects.toMatchObject({ code: 'XDBM_CHECKSUM_MISMATCH' });
    const big = Buffer.alloc(1 << 20, 7);
    let next = r.lastIndex() + 1;
    await expect((async () => { for (;;) await r.append([{ index: next++, payload: big }]); })()).rejects.toMatchObject({ code: 'XDBM_NO_SPACE' });
  });
});

describe.skipIf(!isRoot || !existsSync(join(process.cwd(), 'build', 'Release', 'xdbm_native.node')))(
  'DeviceReplica through the real BlockBackend (O_DIRECT addon) on a loop device (root + built addon: npx node-gyp rebuild --nodedir=/usr)',
  () => {
    let dir: string;
    let loop: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'xdbm-devblk-'));
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

    it('appends, reopens on a new backend instance and reads back, all within the data region', async () => {
      const { create } = await import('../../src/backends/block.js');
      const { replicaFor } = await import('../../src/wal/replica-factory.js');
      const endpoint = {
        endpointId: 'blk', type: 'block', connectionString: `block://${loop}`,
        target: { kind: 'block', devicePath: loop }, weight: 1, labels: {}, probeAreaBytes: 4 << 20,
      } as EndpointConfig;
      const b1 = create(endpoint);
      await b1.init();
      const r1 = replicaFor(b1, 'raft', { segmentBytes: 1 << 20 });
      expect(r1).toBeInstanceOf(DeviceReplica);
      await r1.open();
      for (let i = 1; i <= 40; i += 8) await r1.append(Array.from({ length: 8 }, (_, k) => ({ index: i + k, payload: payload(i + k) })));
      await r1.close();
      await b1.close();
      const b2 = create(endpoint);
      await b2.init();
      const r2 = replicaFor(b2, 'raft', { segmentBytes: 1 << 20 });
      await r2.open();
      expect(r2.lastIndex()).toBe(40);
      for (let i = 1; i <= 40; i++) expect(await r2.read(i)).toEqual(payload(i));
      await r2.close();
      await b2.close();
    });

    it('carries a managed log over a block device and two directories, through a restart', async () => {
      const { create } = await import('../../src/backends/block.js');
      const { openManagedLog } = await import('../../src/wal/log.js');
      const { TestEnsemble } = await import('./helpers/test-ensemble.js');
      const endpoint = {
        endpointId: 'blk', type: 'block', connectionString: `block://${loop}`,
        target: { kind: 'block', devicePath: loop }, weight: 1, labels: {}, probeAreaBytes: 4 << 20,
      } as EndpointConfig;
      const blk = create(endpoint);
      await blk.init();
      const t = await TestEnsemble.create({ root: join(dir, 'ens'), candidates: 2, extra: [blk] });
      let log = await openManagedLog(t.asManager(), 'mixed');
      expect(log.members()).toEqual(['blk', 'b0', 'b1']);
      const acked = await Promise.all(Array.from({ length: 100 }, (_, i) => log.append(payload(i + 1))));
      expect(acked.at(-1)!.index).toBe(100);
      await log.close();
      log = await openManagedLog(t.asManager(), 'mixed');
      expect(log.lastIndex()).toBe(100);
      for (let i = 1; i <= 100; i++) expect(await log.read(i)).toEqual(payload(i));
      await log.close();
      await blk.close();
    });
  },
);

describe.skipIf(!isRoot)('DeviceReplica ring on a loop device (root: losetup)', () => {
  let dir: string;
  let loop: string;
  let fh: FileHandle;
  const RING_BYTES = 256 * 1024; // small region: laps come quickly
  class SmallRegion extends LoopDevice {
    override dataRegion() { return { offsetBytes: REGION_OFFSET, lengthBytes: RING_BYTES, logicalBlockBytes: 4096 }; }
  }
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'xdbm-ring-'));
    const img = join(dir, 'disk.img');
    const f = await open(img, 'w');
    await f.truncate(8 << 20);
    await f.close();
    loop = (await run('losetup', ['--find', '--show', img])).stdout.trim();
    fh = await open(loop, 'r+');
  });
  afterAll(async () => {
    await fh?.close();
    if (loop) await run('losetup', ['-d', loop]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it('wraps around after truncatePrefix frees the head, across reopens, and fills up with XDBM_NO_SPACE', async () => {
    const fresh = async (): Promise<DeviceReplica> => {
      const r = new DeviceReplica({ endpointId: 'ring', device: new SmallRegion('ring', fh), logName: 'raft' });
      await r.open();
      return r;
    };
    let r = await fresh();
    const pl = (i: number): Buffer => Buffer.from(`ring-${i}-${'r'.repeat(5000 + (i % 3) * 1000)}`); // 2 blocks a batch
    let next = 1;
    for (let lap = 0; lap < 5; lap++) {
      for (let k = 0; k < 20; k++, next++) await r.append([{ index: next, payload: pl(next) }]);
      await r.truncatePrefix(next - 8); // keep the last 8
      r = await fresh();
      expect(r.lastIndex()).toBe(next - 1);
      expect(r.firstIndex()).toBe(next - 8);
      for (let i = next - 8; i < next; i++) expect(await r.read(i)).toEqual(pl(i));
    }
    await expect((async () => { for (;;) { await r.append([{ index: next, payload: pl(next) }]); next++; } })())
      .rejects.toMatchObject({ code: 'XDBM_NO_SPACE' });
    const full = await fresh();
    expect(full.lastIndex()).toBe(next - 1);
    expect(await full.read(next - 1)).toEqual(pl(next - 1));
  });
});
