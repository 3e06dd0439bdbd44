/**
 * Real block devices for tests: loop devices (losetup) over files in a temp dir. Needs root and the
 * loop driver; suites skip otherwise, saying so (CI and the testbed run as root with loop devices).
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir, removeDir } from './temp-dir.js';

const run = promisify(execFile);

/** What loop-device suites need, for their titles. */
export const LOOP_NEEDS = 'needs root and /dev/loop-control (runs as root in CI and on the testbed)';

/** Why loop devices cannot be used here, or undefined when they can. */
export const LOOP_SKIP_REASON: string | undefined =
  process.getuid?.() !== 0 ? 'not root (losetup needs root; runs as root in CI)'
  : !existsSync('/dev/loop-control') ? 'no /dev/loop-control (no loop driver; runs on hosts with loop devices)'
  : undefined;

export const canLoop = LOOP_SKIP_REASON === undefined;

function losetupArgs(file: string, sectorBytes?: number): string[] {
  return ['--find', '--show', ...(sectorBytes ? ['--sector-size', String(sectorBytes)] : []), file];
}

function checkDevice(stdout: string): string {
  const dev = stdout.trim();
  if (!dev.startsWith('/dev/loop')) throw new Error(`losetup printed ${JSON.stringify(stdout)}`);
  return dev;
}

/** Attaches `file` to a free loop device (retrying races with other losetup users); returns /dev/loopN. */
export async function attachLoop(file: string, sectorBytes?: number): Promise<string> {
  let last: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      return checkDevice((await run('losetup', losetupArgs(file, sectorBytes))).stdout);
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 50 * (attempt + 1))); // back off before the next try
    }
  }
  throw last;
}

/** Detaches a loop device; a device already gone is not an error (cleanup after a failed test). */
export async function detachLoop(dev: string | undefined): Promise<void> {
  if (!dev) return;
  await run('losetup', ['-d', dev]).catch(() => undefined); // already detached: nothing to undo
}

export interface LoopDevice {
  file: string;
  device: string;
  sizeBytes: number;
  /** Detaches the device and removes its file. */
  detach: () => void;
}

/** A file of sizeBytes filled with random bytes in a fresh temp dir, attached to a free loop device. */
export function makeLoopDevice(sizeBytes = 64 * 1024 * 1024): LoopDevice {
  const dir = makeTempDir('xdbm-loop-');
  const file = join(dir, 'disk.img');
  writeFileSync(file, randomBytes(sizeBytes));
  let device: string;
  try {
    device = checkDevice(execFileSync('losetup', losetupArgs(file), { encoding: 'utf8' }));
  } catch (e) {
    removeDir(dir);
    throw e;
  }
  let attached = true;
  return {
    file, device, sizeBytes,
    detach: () => {
      if (attached) execFileSync('losetup', ['--detach', device]);
      attached = false;
    },
  };
}
