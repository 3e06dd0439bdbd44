/**
 * Probe I/O on a directory target (local file systems, NFS mounts). Everything is synchronous so a
 * hung file system blocks only this worker thread, never the process-wide libuv pool the main thread
 * needs (a hung NFS call in an async fs op would occupy a libuv thread of the whole process).
 * Local targets with `direct` write through the addon with O_DIRECT when the file system accepts it.
 */
import { closeSync, constants as C, fdatasyncSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { open as openAsync } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProbeTarget } from '../../src/backends/backend.js';
import { ErrorCode, XdbmError, fromSystemError } from '../../src/errors.js';
import { STRESS_FILE_BYTES } from '../../src/probes/task.js';
import type { NativeIo } from '../../src/native/types.js';
import type { ProbeContext } from '../probe-context.js';
import { roundUp, tryNative } from './native.js';
import type { ProbeIo, ProbeRegion, StressJob, StressOutcome } from './types.js';

type DirTarget = Extract<ProbeTarget, { kind: 'dir' }>;

const ALIGN_BYTES = 4096;
const STRESS_FILE = '_xdbm_probe_stress';
/** Time kept free before the deadline for the sync and clean-up after the load. */
const STRESS_END_MARGIN_MS = 10;

function checkName(name: string): void {
  if (name.length === 0 || name.includes('/') || name.includes('\0') || name === '.' || name === '..') {
    throw new XdbmError(ErrorCode.OUT_OF_PROBE_AREA, `probe object name ${JSON.stringify(name)} would leave the probe directory`);
  }
}

/** Creates a file with `bytes` of data on disk (written and synced, not sparse). */
function preallocate(path: string, bytes = STRESS_FILE_BYTES): void {
  const fd = openSync(path, C.O_WRONLY | C.O_CREAT | C.O_TRUNC, 0o644);
  try {
    const chunk = Buffer.alloc(Math.min(256 * 1024, bytes), 0xa5);
    for (let off = 0; off < bytes; off += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - off), off);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class FsIo implements ProbeIo {
  readonly alignBytes = ALIGN_BYTES;
  readonly #target: DirTarget;
  #native: NativeIo | undefined;
  #direct: boolean;

  constructor(target: DirTarget) {
    this.#target = target;
    this.#native = target.direct ? tryNative() : undefined;
    this.#direct = this.#native !== undefined;
  }

  get direct(): boolean {
    return this.#direct;
  }

  #path(name: string): string {
    checkName(name);
    return join(this.#target.dir, name);
  }

  alloc(lengthBytes: number): Buffer {
    return this.#direct && this.#native
      ? this.#native.allocAligned(roundUp(lengthBytes, ALIGN_BYTES), ALIGN_BYTES)
      : Buffer.alloc(lengthBytes);
  }

  writeObject(name: string, data: Uint8Array): void {
    const path = this.#path(name);
    if (this.#direct && this.#native && data.byteLength % ALIGN_BYTES === 0) {
      // O_DIRECT needs an aligned address too: copy a caller's plain buffer into an aligned one.
      if (this.#native.isAligned && !this.#native.isAligned(data, ALIGN_BYTES)) {
        const aligned = this.alloc(data.byteLength);
        aligned.set(data);
        data = aligned;
      }
      const n = this.#native;
      let fd: number;
      try {
        fd = n.open(path, { direct: true, write: true, create: true });
      } catch (e) {
        if ((e as { syscallCode?: string }).syscallCode !== 'EINVAL') throw e;
        this.#direct = false; // this file system refuses O_DIRECT: buffered from now on
        return this.writeObject(name, data);
      }
      try {
        let done = 0;
        while (done < data.byteLength) {
          const w = n.pwriteSync(fd, done === 0 ? data : data.subarray(done), done);
          if (w <= 0) throw new XdbmError(ErrorCode.IO_ERROR, `write ${name} made no progress`);
          done += w;
        }
        n.fdatasyncSync(fd);
      } finally {
        n.close(fd);
      }
      return;
    }
    try {
      const fd = openSync(path, C.O_WRONLY | C.O_CREAT | C.O_TRUNC, 0o644);
      try {
        let done = 0;
        while (done < data.byteLength) done += writeSync(fd, data, done, data.byteLength - done, done);
        fdatasyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      throw fromSystemError(e, `write ${path}`);
    }
  }

  readObject(name: string, lengthBytes: number): Buffer {
    const path = this.#path(name);
    try {
      const fd = openSync(path, C.O_RDONLY);
      try {
        const buf = Buffer.alloc(lengthBytes);
        let done = 0;
        while (done < lengthBytes) {
          const r = readSync(fd, buf, done, lengthBytes - done, done);
          if (r === 0) throw new XdbmError(ErrorCode.IO_ERROR, `read ${path}: end of file at ${done} of ${lengthBytes} bytes`);
          done += r;
        }
        return buf;
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      throw fromSystemError(e, `read ${path}`);
    }
  }

  deleteObject(name: string): void {
    const path = this.#path(name);
    try {
      unlinkSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fromSystemError(e, `delete ${path}`);
    }
  }

  /**
   * A laid-out file (written and synced first, untimed) written over in place: O_DIRECT through the
   * addon when the file system takes it, else buffered; each write followed by fdatasync. Removed on close.
   */
  region(name: string, lengthBytes: number): ProbeRegion {
    const path = this.#path(name);
    preallocate(path, roundUp(lengthBytes, ALIGN_BYTES));
    const n = this.#direct ? this.#native : undefined;
    let fd: number | undefined;
    if (n) {
      try {
        fd = n.open(path, { direct: true, write: true });
      } catch (e) {
        if ((e as { syscallCode?: string }).syscallCode !== 'EINVAL') throw e;
        this.#direct = false;
      }
    }
    if (n && fd !== undefined) {
      const nfd = fd;
      return {
        write: (off, data) => {
          let buf = data;
          if (n.isAligned && !n.isAligned(data, ALIGN_BYTES)) {
            const aligned = this.alloc(data.byteLength);
            aligned.set(data);
            buf = aligned;
          }
          const w = n.pwriteSync(nfd, buf, off);
          if (w !== buf.byteLength) throw new XdbmError(ErrorCode.IO_ERROR, `short write to ${path} at ${off}: ${w} of ${buf.byteLength} bytes`);
          n.fdatasyncSync(nfd);
        },
        close: () => { n.close(nfd); this.deleteObject(name); },
      };
    }
    const bfd = openSync(path, C.O_WRONLY);
    return {
      write: (off, data) => {
        try {
          let done = 0;
          while (done < data.byteLength) done += writeSync(bfd, data, done, data.byteLength - done, off + done);
          fdatasyncSync(bfd);
        } catch (e) {
          throw fromSystemError(e, `write ${path}`);
        }
      },
      close: () => { closeSync(bfd); this.deleteObject(name); },
    };
  }

  /**
   * Local targets with the addon: io_uring over one file (O_DIRECT when `direct`). NFS targets, or no
   * addon: `queueDepth` concurrent async fs writes. Those do use the libuv pool (that is how Node gets
   * concurrency from fs); a hung NFS server therefore holds up to queueDepth libuv threads until it
   * answers, which is why the monitor runs the stress probe rarely and never on a suspect backend.
   */
  async stress(job: StressJob, ctx: ProbeContext): Promise<StressOutcome> {
    const path = this.#path(STRESS_FILE);
    try {
      if (this.#native && this.#target.type !== 'nfs') return this.#stressUring(path, job, ctx);
      return await this.#stressFs(path, job, ctx);
    } finally {
      this.deleteObject(STRESS_FILE);
    }
  }

  #stressUring(path: string, job: StressJob, ctx: ProbeContext): StressOutcome {
    const n = this.#native!;
    preallocate(path);
    ctx.check('stress load');
    // the set-up took time out of the deadline: keep the load inside what is left
    const durationMs = Math.max(1, Math.min(job.durationMs, ctx.remainingMs() - STRESS_END_MARGIN_MS));
    let fd: number;
    let direct = this.#direct;
    try {
      fd = n.open(path, { direct, write: true });
    } catch (e) {
      if (!direct || (e as { syscallCode?: string }).syscallCode !== 'EINVAL') throw e;
      direct = false;
      fd = n.open(path, { direct: false, write: true });
    }
    try {
      const r = n.uringRunSync(fd, {
        op: 'write', blockBytes: job.blockBytes, queueDepth: job.queueDepth, regionOffsetBytes: 0,
        regionLengthBytes: STRESS_FILE_BYTES, durationMs, random: true, fillByte: 0x5a,
        stallTimeoutMs: Math.max(1, ctx.remainingMs()),
      });
      n.fdatasyncSync(fd);
      const latenciesUs: number[] = [];
      for (let i = 0; i < r.latenciesNs.length; i++) latenciesUs.push(r.latenciesNs[i]! / 1000);
      return {
        ops: r.ops, errors: r.errors, bytes: r.bytes, elapsedUs: r.elapsedNs / 1000, latenciesUs,
        firstErrno: r.firstErrno, engine: direct ? 'io_uring-direct' : 'io_uring',
      };
    } finally {
      n.close(fd);
    }
  }

  async #stressFs(path: string, job: StressJob, ctx: ProbeContext): Promise<StressOutcome> {
    preallocate(path);
    ctx.check('stress load');
    const fh = await openAsync(path, 'r+');
    const blocks = Math.floor(STRESS_FILE_BYTES / job.blockBytes);
    const out: StressOutcome = { ops: 0, errors: 0, bytes: 0, elapsedUs: 0, latenciesUs: [], firstErrno: 0, engine: 'fs-concurrent' };
    const t0 = process.hrtime.bigint();
    const endMs = Math.min(Date.now() + job.durationMs, ctx.task.deadlineMs - STRESS_END_MARGIN_MS);
    try {
      const lane = async (): Promise<void> => {
        const buf = Buffer.alloc(job.blockBytes, 0x5a);
        while (Date.now() < endMs) {
          ctx.check('stress write');
          const off = Math.floor(Math.random() * blocks) * job.blockBytes;
          const s = process.hrtime.bigint();
          try {
            await fh.write(buf, 0, job.blockBytes, off);
            out.ops++;
            out.bytes += job.blockBytes;
            out.latenciesUs.push(Number(process.hrtime.bigint() - s) / 1000);
          } catch (e) {
            out.errors++;
            if (out.firstErrno === 0) out.firstErrno = Math.abs((e as NodeJS.ErrnoException).errno ?? 5);
          }
        }
      };
      await Promise.all(Array.from({ length: job.queueDepth }, lane));
      await fh.datasync();
    } finally {
      await fh.close();
    }
    out.elapsedUs = Number(process.hrtime.bigint() - t0) / 1000;
    return out;
  }

  close(): void {
    // every operation opens and closes its own descriptor
  }
}
