/**
 * The addon on regular files with O_DIRECT (/tmp is ext4 here): round trips, alignment and syscall
 * errors with their codes, deviceInfo, and that the asynchronous forms leave the event loop free.
 */
import { closeSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isXdbmError, XdbmError } from '../../src/errors.js';
import { loadNative } from '../../src/native/binding.js';
import type { NativeIo } from '../../src/native/types.js';
import { ADDON_PATH, NO_ADDON_REASON, tempDir } from './helpers.js';

describe.skipIf(!ADDON_PATH)(`addon on O_DIRECT files (${ADDON_PATH ? 'built' : NO_ADDON_REASON})`, () => {
  let n: NativeIo;
  let tmp: ReturnType<typeof tempDir>;
  const fds: number[] = [];
  const openFile = (name: string, write = true): number => {
    const fd = n.open(join(tmp.dir, name), { direct: true, write, create: write });
    fds.push(fd);
    return fd;
  };

  beforeAll(() => {
    n = loadNative();
    tmp = tempDir();
  });
  afterEach(() => {
    for (const fd of fds.splice(0)) {
      try { n.close(fd); } catch { /* closed by the test */ }
    }
  });
  afterAll(() => tmp.cleanup());

  it('writes and reads back 4 KiB blocks at several offsets, synchronously and asynchronously', async () => {
    const fd = openFile('rt.bin');
    const w = n.allocAligned(4096);
    const r = n.allocAligned(4096);
    for (const off of [0, 4096, 1 << 20, 8 * 4096]) {
      w.fill(off % 251 + 1);
      expect(n.pwriteSync(fd, w, off)).toBe(4096);
      expect(n.preadSync(fd, r, off)).toBe(4096);
      expect(r.equals(w)).toBe(true);
    }
    w.fill(0x3c);
    expect(await n.pwrite(fd, w, 12288)).toBe(4096);
    await n.fdatasync(fd);
    n.fdatasyncSync(fd);
    r.fill(0);
    expect(await n.pread(fd, r, 12288)).toBe(4096);
    expect(r.every((b) => b === 0x3c)).toBe(true);
    // What the kernel stored is what a buffered reader sees.
    const onDisk = readFileSync(join(tmp.dir, 'rt.bin'));
    expect(onDisk.subarray(12288, 12288 + 4096).equals(w)).toBe(true);
    expect(onDisk[1 << 20]).toBe((1 << 20) % 251 + 1);
  });

  it('returns a short count for a read at end of file', () => {
    const fd = openFile('short.bin');
    const b = n.allocAligned(8192);
    n.pwriteSync(fd, b.subarray(0, 4096), 0);
    expect(n.preadSync(fd, b, 0)).toBe(4096);
    expect(n.preadSync(fd, b, 4096)).toBe(0);
  });

  it('allocAligned gives zeroed buffers aligned as asked', () => {
    const b = n.allocAligned(10000, 65536);
    expect(b.length).toBe(10000);
    expect(b.every((x) => x === 0)).toBe(true);
    expect(n.isAligned!(b, 65536)).toBe(true);
    expect(n.isAligned!(b.subarray(512), 4096)).toBe(false);
    expect(() => n.allocAligned(4096, 3000)).toThrow(expect.objectContaining({ code: 'XDBM_INVALID_ARGUMENT' }));
  });

  it('rejects misaligned O_DIRECT buffer, length and offset before the syscall', async () => {
    const fd = openFile('align.bin');
    const ok = n.allocAligned(8192);
    const cases: Array<[Uint8Array, number]> = [
      [Buffer.alloc(100), 0], // length
      [ok.subarray(1, 4097), 0], // address
      [ok.subarray(0, 4096), 100], // offset
    ];
    for (const [buf, off] of cases) {
      let err: unknown;
      try { n.pwriteSync(fd, buf, off); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(XdbmError);
      expect(err).toMatchObject({ code: 'XDBM_INVALID_ARGUMENT', errno: 22, syscallCode: 'EINVAL' });
      expect((err as Error).message).toMatch(/aligned to 512/);
      await expect(n.pread(fd, buf, off)).rejects.toMatchObject({ code: 'XDBM_INVALID_ARGUMENT', errno: 22 });
    }
    expect(statSync(join(tmp.dir, 'align.bin')).size).toBe(0);
  });

  it('does not check alignment on an fd without O_DIRECT', () => {
    const path = join(tmp.dir, 'buffered.bin');
    const fd = n.open(path, { direct: false, write: true, create: true });
    fds.push(fd);
    expect(n.pwriteSync(fd, Buffer.from('hello'), 3)).toBe(5);
    expect(readFileSync(path).subarray(3).toString()).toBe('hello');
  });

  it('reports EBADF with code, errno, syscallCode and the fd in the message', async () => {
    const fd = openFile('badf.bin');
    n.close(fd);
    const b = n.allocAligned(4096);
    let err: unknown;
    try { n.pwriteSync(fd, b, 4096); } catch (e) { err = e; }
    expect(isXdbmError(err)).toBe(true);
    expect(err).toMatchObject({ code: 'XDBM_IO_ERROR', errno: 9, syscallCode: 'EBADF' });
    expect((err as Error).message).toMatch(new RegExp(`pwrite\\(fd ${fd}, offset 4096\\)`));
    await expect(n.fdatasync(fd)).rejects.toMatchObject({ code: 'XDBM_IO_ERROR', errno: 9, syscallCode: 'EBADF' });
    expect(() => n.close(fd)).toThrow(expect.objectContaining({ code: 'XDBM_IO_ERROR', syscallCode: 'EBADF' }));
  });

  it('reports ENOSPC from the kernel (/dev/full) as XDBM_NO_SPACE, sync and async', async () => {
    const fd = n.open('/dev/full', { direct: false, write: true });
    fds.push(fd);
    const b = n.allocAligned(4096);
    expect(() => n.pwriteSync(fd, b, 0)).toThrow(
      expect.objectContaining({ code: 'XDBM_NO_SPACE', errno: 28, syscallCode: 'ENOSPC' }),
    );
    await expect(n.pwrite(fd, b, 0)).rejects.toMatchObject({ code: 'XDBM_NO_SPACE', errno: 28, syscallCode: 'ENOSPC' });
    expect(() => n.pwriteSync(fd, b, 8192)).toThrow(/pwrite\(fd \d+, \/dev\/full, offset 8192\): ENOSPC/);
  });

  it('open of a missing path names the path and carries ENOENT', () => {
    const path = join(tmp.dir, 'missing', 'x.bin');
    let err: unknown;
    try { n.open(path, { direct: true, write: false }); } catch (e) { err = e; }
    expect(err).toMatchObject({ code: 'XDBM_IO_ERROR', errno: 2, syscallCode: 'ENOENT' });
    expect((err as Error).message).toContain(path);
  });

  it('rejects bad argument types with XDBM_INVALID_ARGUMENT, async forms reject instead of throwing', async () => {
    expect(() => n.pwriteSync(-1, Buffer.alloc(0), 0)).toThrow(expect.objectContaining({ code: 'XDBM_INVALID_ARGUMENT' }));
    expect(() => n.preadSync(0, 'x' as unknown as Uint8Array, 0)).toThrow(expect.objectContaining({ code: 'XDBM_INVALID_ARGUMENT' }));
    expect(() => n.open('/tmp/x', {} as never)).toThrow(expect.objectContaining({ code: 'XDBM_INVALID_ARGUMENT' }));
    const p = n.pwrite(0, Buffer.alloc(0), 1.5);
    await expect(p).rejects.toMatchObject({ code: 'XDBM_INVALID_ARGUMENT' });
  });

  it('deviceInfo of a regular file: fstat size and the O_DIRECT alignment the kernel reports', () => {
    const path = join(tmp.dir, 'info.bin');
    writeFileSync(path, Buffer.alloc(3 * 4096 + 17));
    const fd = openFile('info.bin', false);
    const info = n.deviceInfo(fd);
    expect(info).toMatchObject({ sizeBytes: 3 * 4096 + 17, isBlockDevice: false });
    expect([512, 1024, 2048, 4096]).toContain(info.logicalBlockBytes);
    expect(info.physicalBlockBytes).toBeGreaterThanOrEqual(info.logicalBlockBytes);
    // The reported alignment is accepted by O_DIRECT.
    const b = n.allocAligned(info.logicalBlockBytes);
    expect(n.preadSync(fd, b, info.logicalBlockBytes)).toBe(info.logicalBlockBytes);
  });

  it('deviceInfo on a closed fd fails with EBADF', () => {
    const fd = openSync(join(tmp.dir, 'closed.bin'), 'w');
    closeSync(fd);
    expect(() => n.deviceInfo(fd)).toThrow(expect.objectContaining({ code: 'XDBM_IO_ERROR', errno: 9, syscallCode: 'EBADF' }));
  });

  it('async calls leave the event loop free while a batch runs; the sync form blocks it', async () => {
    const fd = openFile('loop.bin');
    const job = {
      op: 'write' as const, blockBytes: 4096, queueDepth: 4, regionOffsetBytes: 0,
      regionLengthBytes: 8 << 20, durationMs: 300, random: true,
    };
    let ticks = 0;
    const timer = setInterval(() => { ticks++; }, 10);
    try {
      const res = await n.uringRun(fd, job);
      const ticksDuringAsync = ticks;
      expect(res.ops).toBeGreaterThan(0);
      expect(ticksDuringAsync).toBeGreaterThanOrEqual(5);
      ticks = 0;
      n.uringRunSync(fd, job);
      expect(ticks).toBe(0); // timers cannot fire inside a synchronous call
      // Many concurrent async pwrites on the libuv pool all complete.
      const b = n.allocAligned(4096);
      const all: Promise<number>[] = [];
      for (let i = 0; i < 2000; i++) all.push(n.pwrite(fd, b, (i % 512) * 4096));
      expect((await Promise.all(all)).every((x) => x === 4096)).toBe(true);
    } finally {
      clearInterval(timer);
    }
  });
});
