/** Real resources for probe tests: temp dirs, FIFOs that hang, loop devices. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, constants as C, existsSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { ProbeTarget } from '../../src/backends/backend.js';
import { makeTempDir } from '../support/temp-dir.js';

export { removeDir } from '../support/temp-dir.js';

export const DIST_WORKER = join(import.meta.dirname, '../../dist/workers/probe-worker.js');
export const CRASH_WORKER = join(import.meta.dirname, 'fixtures/crashing-worker.mjs');

export function builtOrExplain(): void {
  if (!existsSync(DIST_WORKER)) throw new Error(`${DIST_WORKER} missing: run \`npx tsc -p tsconfig.json\` before the probe tests`);
}

export function tempDir(prefix = 'xdbm-probe-'): string {
  return makeTempDir(prefix);
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

// Loop devices: one implementation for all suites, in test/support.
export { canLoop, LOOP_NEEDS, makeLoopDevice, type LoopDevice } from '../support/loop-device.js';

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

