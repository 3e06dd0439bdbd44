/** io_uring batches (raw syscalls, no liburing) on an O_DIRECT file. */
import { execFile } from 'node:child_process';
import { writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNative } from '../../src/native/binding.js';
import type { NativeIo, UringJob } from '../../src/native/types.js';
import { ADDON_PATH, NO_ADDON_REASON, tempDir } from './helpers.js';

const REGION_BYTES = 8 << 20;

describe.skipIf(!ADDON_PATH)(`io_uring jobs (${ADDON_PATH ? 'built' : NO_ADDON_REASON})`, () => {
  let n: NativeIo;
  let tmp: ReturnType<typeof tempDir>;
  let path: string;
  let fd: number;
  const job = (o: Partial<UringJob>): UringJob => ({
    op: 'write', blockBytes: 4096, queueDepth: 1, regionOffsetBytes: 0, regionLengthBytes: REGION_BYTES, random: true, ...o,
  });

  beforeAll(() => {
    n = loadNative();
    tmp = tempDir();
    path = join(tmp.dir, 'uring.bin');
    fd = n.open(path, { direct: true, write: true, create: true });
  });
  afterAll(() => {
    n.close(fd);
    tmp.cleanup();
  });

  for (const qd of [1, 32]) {
    it(`QD ${qd}: runs totalOps random 4 KiB writes and returns one latency per op`, () => {
      const r = n.uringRunSync(fd, job({ queueDepth: qd, totalOps: 500 }));
      expect(r).toMatchObject({ ops: 500, errors: 0, bytes: 500 * 4096, firstErrno: 0 });
      expect(r.latenciesNs).toBeInstanceOf(Float64Array);
      expect(r.latenciesNs.length).toBe(500);
      expect(r.latenciesNs.every((x) => x > 0 && Number.isFinite(x))).toBe(true);
      expect(r.elapsedNs).toBeGreaterThan(0);
    });
  }

  it('sequential writes then reads cover the region in order and read back the fill byte', async () => {
    const blocks = REGION_BYTES / 4096;
    const w = await n.uringRun(fd, job({ random: false, totalOps: blocks, queueDepth: 8, fillByte: 0xc3 }));
    expect(w.ops).toBe(blocks);
    const r = await n.uringRun(fd, job({ op: 'read', random: false, totalOps: blocks, queueDepth: 8 }));
    expect(r).toMatchObject({ ops: blocks, errors: 0, bytes: REGION_BYTES });
    const b = n.allocAligned(4096);
    for (const off of [0, REGION_BYTES / 2, REGION_BYTES - 4096]) {
      n.preadSync(fd, b, off);
      expect(b.every((x) => x === 0xc3)).toBe(true);
    }
  });

  it('stays inside its region: bytes before and after it are untouched', () => {
    const b = n.allocAligned(4096);
    b.fill(0x11);
    n.pwriteSync(fd, b, REGION_BYTES); // just after the region
    n.pwriteSync(fd, b, 4096 * 9); // just before the region below
    n.uringRunSync(fd, job({ regionOffsetBytes: 4096 * 10, regionLengthBytes: 4096 * 16, totalOps: 400, queueDepth: 16, fillByte: 0x77 }));
    for (const off of [REGION_BYTES, 4096 * 9]) {
      n.preadSync(fd, b, off);
      expect(b.every((x) => x === 0x11)).toBe(true);
    }
    n.preadSync(fd, b, 4096 * 10);
    expect(b.every((x) => x === 0x77)).toBe(true);
  });

  it('durationMs bounds a job without totalOps', async () => {
    const r = await n.uringRun(fd, job({ durationMs: 100, queueDepth: 4 }));
    expect(r.ops).toBeGreaterThan(0);
    expect(r.latenciesNs.length).toBe(r.ops + r.errors);
    expect(r.elapsedNs).toBeGreaterThanOrEqual(100e6 * 0.9);
  });

  it('counts failed operations with the first errno (reads past end of file are short: EIO)', () => {
    const ro = n.open(path, { direct: true, write: false });
    try {
      const r = n.uringRunSync(ro, job({ op: 'write', totalOps: 5, queueDepth: 2 }));
      expect(r).toMatchObject({ ops: 0, errors: 5, firstErrno: 9 }); // EBADF: fd not open for writing
      expect(r.latenciesNs.length).toBe(5);
      const past = n.uringRunSync(ro, job({ op: 'read', regionOffsetBytes: 1 << 30, totalOps: 3, random: false }));
      expect(past).toMatchObject({ ops: 0, errors: 3, firstErrno: 5 });
    } finally {
      n.close(ro);
    }
  });

  it('rejects bad jobs before any I/O', async () => {
    const bad: Array<Partial<UringJob>> = [
      { blockBytes: 1000 }, // O_DIRECT needs 512-byte multiples
      { queueDepth: 0 },
      { queueDepth: 100000 },
      { regionLengthBytes: 100 },
      { totalOps: undefined, durationMs: undefined },
      { op: 'trim' as never },
      { fillByte: 300 },
    ];
    for (const b of bad) {
      expect(() => n.uringRunSync(fd, job({ totalOps: 1, ...b })), JSON.stringify(b)).toThrow(
        expect.objectContaining({ code: 'XDBM_INVALID_ARGUMENT', errno: 22 }),
      );
      await expect(n.uringRun(fd, job({ totalOps: 1, ...b }))).rejects.toMatchObject({ code: 'XDBM_INVALID_ARGUMENT' });
    }
  });

  it('a hung operation (read of an empty FIFO) fails the job with XDBM_IO_TIMEOUT after stallTimeoutMs', async () => {
    const fifo = join(tmp.dir, 'hang.fifo');
    await promisify(execFile)('mkfifo', [fifo]);
    const rw = n.open(fifo, { direct: false, write: true }); // O_RDWR: open does not wait for a peer
    try {
      const hang = job({ op: 'read', regionLengthBytes: 4096, random: false, totalOps: 1, stallTimeoutMs: 150 });
      let err: unknown;
      try { n.uringRunSync(rw, hang); } catch (e) { err = e; }
      expect(err).toMatchObject({ code: 'XDBM_IO_TIMEOUT', errno: 110, syscallCode: 'ETIMEDOUT' });
      expect((err as Error).message).toMatch(/hang\.fifo.*1 operation\(s\) made no progress for 150 ms/);
      await expect(n.uringRun(rw, { ...hang, queueDepth: 4, totalOps: 4 })).rejects.toMatchObject({ code: 'XDBM_IO_TIMEOUT' });
      // Without the guard the same job would wait; with data available it completes.
      writeSync(rw, Buffer.alloc(4096, 1)); // pipes take no positional writes
      expect(n.uringRunSync(rw, hang)).toMatchObject({ ops: 1, errors: 0 });
    } finally {
      n.close(rw);
    }
  });

  it('fails with XDBM_IO_URING_UNAVAILABLE when io_uring_setup fails (out of fds), pwrite still works', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/uring-without-fds.mjs', import.meta.url));
    const { stdout } = await promisify(execFile)(
      'prlimit', ['--nofile=128:128', process.execPath, fixture, ADDON_PATH!, join(tmp.dir, 'nofds.bin')],
    );
    const out = JSON.parse(stdout);
    expect(out).toMatchObject({
      threw: true, code: 'XDBM_IO_URING_UNAVAILABLE', errno: 24, syscallCode: 'EMFILE', syscall: 'io_uring_setup', pwriteBytes: 4096,
    });
    expect(out.opened).toBeGreaterThan(0);
  });
});
