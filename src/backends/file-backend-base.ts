/**
 * File I/O shared by the local and nfs backends: objects are files directly under a root directory.
 * Names are flat (no '/', no '..', no NUL). Probe and warm-up names (isProbeName) live in the probe
 * area, the `.xdbm-probe` directory under the root, so a probe never touches a data file.
 * Every operation maps fs errors with fromSystemError and is bounded by ioTimeoutMs when set.
 */
import { constants as C } from 'node:fs';
import { mkdir, open, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { EndpointConfig } from '../config/types.js';
import { ErrorCode, XdbmError, fromSystemError } from '../errors.js';
import { BackendBase, type ProbeTarget } from './backend.js';
import { withIoTimeout } from './io-timeout.js';

export const PROBE_DIR_NAME = '.xdbm-probe';
/** Name prefixes reserved for probes and warm-up (the seed's `_health_check_`, `_perf_test_N`, `_warmup_test`). */
export const PROBE_NAME_PREFIXES = ['_health_check_', '_perf_test_', '_warmup_', '_xdbm_probe_'] as const;

export function isProbeName(name: string): boolean {
  return PROBE_NAME_PREFIXES.some((p) => name.startsWith(p));
}

export function validateName(name: string): void {
  if (
    typeof name !== 'string' || name === '' || name === '.' || name === '..' ||
    name.includes('/') || name.includes('\\') || name.includes('\0') || name.includes('..') || name.length > 255
  ) {
    throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `invalid object name ${JSON.stringify(name)}: flat names only`);
  }
}

function checkRange(offsetBytes: number, lengthBytes: number): void {
  if (!Number.isSafeInteger(offsetBytes) || offsetBytes < 0 || !Number.isSafeInteger(lengthBytes) || lengthBytes < 0) {
    throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `invalid range offset=${offsetBytes} length=${lengthBytes}`);
  }
}

export abstract class FileBackendBase extends BackendBase {
  constructor(config: EndpointConfig, private readonly ioTimeoutMs: number | undefined) {
    super(config);
  }

  /** Root directory of this backend's objects. */
  abstract get rootDir(): string;

  get probeDir(): string {
    return join(this.rootDir, PROBE_DIR_NAME);
  }

  pathOf(name: string): string {
    validateName(name);
    return isProbeName(name) ? join(this.probeDir, name) : join(this.rootDir, name);
  }

  /** Runs one fs operation under the deadline, mapping errors to XDBM codes. */
  protected async io<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await withIoTimeout(fn(), this.ioTimeoutMs, `${this.endpointId}: ${what}`);
    } catch (e) {
      throw fromSystemError(e, `${this.endpointId}: ${what}`);
    }
  }

  /**
   * Checks that the root exists and is a directory, then creates the probe directory inside it. The
   * root itself is never created: a missing root is a disk not mounted or a typo, and creating it
   * would write the log onto whatever file system lies underneath (the root file system).
   */
  protected async initDirs(): Promise<void> {
    await this.io(`init ${this.rootDir}`, async () => {
      const st = await stat(this.rootDir).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT' || e.code === 'ENOTDIR') {
          throw new XdbmError(ErrorCode.NOT_FOUND, `${this.endpointId}: backend root ${this.rootDir} does not exist; it is never created: create it (or mount its disk) first`,
            { syscallCode: e.code, errno: e.errno, cause: e });
        }
        throw e;
      });
      if (!st.isDirectory()) throw new XdbmError(ErrorCode.NOT_FOUND, `${this.endpointId}: backend root ${this.rootDir} is not a directory`);
      await mkdir(this.probeDir).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
    });
  }

  protected override async doClose(): Promise<void> {
    // Every operation opens and closes its own handle: nothing is held between calls.
  }

  async write(name: string, offsetBytes: number, data: Uint8Array): Promise<void> {
    this.assertOpen();
    const path = this.pathOf(name);
    checkRange(offsetBytes, data.byteLength);
    await this.io(`write ${name}`, async () => {
      const fh = await open(path, C.O_WRONLY | C.O_CREAT, 0o644);
      try {
        let done = 0;
        while (done < data.byteLength) {
          const { bytesWritten } = await fh.write(data, done, data.byteLength - done, offsetBytes + done);
          if (bytesWritten === 0) throw new XdbmError(ErrorCode.IO_ERROR, `${this.endpointId}: write ${name} made no progress`);
          done += bytesWritten;
        }
      } finally {
        await fh.close();
      }
    });
  }

  async read(name: string, offsetBytes: number, lengthBytes: number): Promise<Buffer> {
    this.assertOpen();
    const path = this.pathOf(name);
    checkRange(offsetBytes, lengthBytes);
    return this.io(`read ${name}`, async () => {
      const fh = await open(path, C.O_RDONLY);
      try {
        const buf = Buffer.alloc(lengthBytes);
        let done = 0;
        while (done < lengthBytes) {
          const { bytesRead } = await fh.read(buf, done, lengthBytes - done, offsetBytes + done);
          if (bytesRead === 0) {
            throw new XdbmError(ErrorCode.IO_ERROR, `${this.endpointId}: read ${name} past end of file at ${offsetBytes + done}`, {
              details: { offsetBytes, lengthBytes, readBytes: done },
            });
          }
          done += bytesRead;
        }
        return buf;
      } finally {
        await fh.close();
      }
    });
  }

  /** Removes the object; a missing object is not an error (delete is idempotent). */
  async delete(name: string): Promise<void> {
    this.assertOpen();
    const path = this.pathOf(name);
    await this.io(`delete ${name}`, async () => {
      await unlink(path).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    });
  }

  /** fsync of the named file, or of the root directory (new and removed names) when no name. */
  async sync(name?: string): Promise<void> {
    this.assertOpen();
    const path = name === undefined ? this.rootDir : this.pathOf(name);
    await this.io(`sync ${name ?? this.rootDir}`, async () => {
      const fh = await open(path, C.O_RDONLY);
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    });
  }

  probeTarget(): ProbeTarget {
    return { kind: 'dir', endpointId: this.endpointId, type: this.type, dir: this.probeDir, direct: this.type === 'local' };
  }
}
