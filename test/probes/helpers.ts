/** Real resources for probe tests: temp dirs, FIFOs that hang, loop devices. */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants as C, existsSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProbeTarget } from '../../src/backends/backend.js';

export const DIST_WORKER = join(import.meta.dirname, '../../dist/workers/probe-worker.js');
export const CRASH_WORKER = join(import.meta.dirname, 'fixtures/crashing-worker.mjs');

export function builtOrExplain(): void {
  if (!existsSync(DIST_WORKER)) throw new Error(`${DIST_WORKER} missing: run \`npx tsc -p tsconfig.json\` before the probe tests`);
}

export function tempDir(prefix = 'xdbm-probe-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function dirTarget(endpointId: string, dir: string, direct = true): ProbeTarget {
  return { kind: 'dir', endpointId, type: 'local', dir, direct };
}

/** A FIFO named like the basic probe's object: opening it for write blocks until a reader comes. */
export function hangingDir(): { dir: string; release: () => void } {
  const dir = tempDir('xdbm-hang-');
  const fifo = join(dir, '_health_check_');
  execFileSync('mkfifo', [fifo]);
  return {
    dir,
    // A reader lets the stuck open() in the worker return; closing it lets the thread finish and exit.
    release: () => {
      const fd = openSync(fifo, C.O_RDONLY | C.O_NONBLOCK);
      setTimeout(() => closeSync(fd), 100);
    },
  };
}

export const canLoop = process.getuid?.() === 0 && existsSync('/dev/loop-control');
export const LOOP_SKIP_REASON = 'needs root and /dev/loop-control (runs as root in CI and on the testbed)';

export interface LoopDevice {
  file: string;
  device: string;
  sizeBytes: number;
  detach: () => void;
}

/** A sparse file of sizeBytes filled with random bytes, attached to a free loop device. */
export function makeLoopDevice(sizeBytes = 64 * 1024 * 1024): LoopDevice {
  const dir = tempDir('xdbm-loop-');
  const file = join(dir, 'disk.img');
  writeFileSync(file, randomBytes(sizeBytes));
  const device = execFileSync('losetup', ['--find', '--show', file], { encoding: 'utf8' }).trim();
  let attached = true;
  return {
    file, device, sizeBytes,
    detach: () => {
      if (attached) execFileSync('losetup', ['--detach', device]);
      attached = false;
    },
  };
}

/** sha256 of bytes [startBytes, endBytes) of a file. */
export function sha256Range(file: string, startBytes: number, endBytes: number): string {
  const h = createHash('sha256');
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    let pos = startBytes;
    while (pos < endBytes) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, endBytes - pos), pos);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
