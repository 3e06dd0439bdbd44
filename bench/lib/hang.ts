/**
 * A directory whose I/O can be made to hang: an ext4 file system on a loop device (sparse file),
 * frozen with fsfreeze: every write and fdatasync blocks until it is thawed (this kernel has no
 * device-mapper, so dm suspend is not available). Root, losetup, mkfs.ext4 and fsfreeze needed.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, rmSync } from 'node:fs';

export interface HangableDir {
  dir: string;
  /** Starts the freeze without blocking the event loop; resolves when fsfreeze returned. */
  suspend: () => Promise<void>;
  resume: () => void;
  remove: () => void;
}

const run = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

export function hangSupported(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  for (const c of ['losetup', 'fsfreeze', 'mkfs.ext4', 'mount']) {
    try { run('sh', ['-c', `command -v ${c}`]); } catch { return `${c} not found`; }
  }
  return null;
}

export function makeHangableDir(dir: string, _tag: string, sizeBytes = 64 * 1024 * 1024): HangableDir {
  const img = `${dir}.img`;
  const undo: Array<() => void> = [];
  const remove = (): void => { for (const u of undo.reverse()) { try { u(); } catch { /* best effort */ } } undo.length = 0; };
  try {
    run('truncate', ['-s', String(sizeBytes), img]);
    undo.push(() => rmSync(img, { force: true }));
    const loop = run('losetup', ['--find', '--show', img]);
    undo.push(() => run('losetup', ['-d', loop]));
    run('mkfs.ext4', ['-q', '-F', loop]);
    mkdirSync(dir, { recursive: true });
    run('mount', [loop, dir]);
    undo.push(() => {
      try { run('fsfreeze', ['-u', dir]); } catch { /* not frozen */ }
      run('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    });
  } catch (e) {
    remove();
    throw e;
  }
  return {
    dir,
    suspend: async () => { await promisify(execFile)('fsfreeze', ['-f', dir]); },
    resume: () => { run('fsfreeze', ['-u', dir]); },
    remove,
  };
}
