/**
 * Real faults on real file systems for the chaos suite (root only): small tmpfs mounts (ENOSPC,
 * read-only remount), an ext4 image on a loop device (fsfreeze: writes really block), byte flips.
 * Commands run through execFile with argv arrays: no shell, no strings from input.
 */
import { execFile } from 'node:child_process';
import { mkdir, open, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

export async function mountTmpfs(dir: string, sizeBytes: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir]);
}

export async function mountExt4Image(image: string, dir: string, sizeBytes: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  const fh = await open(image, 'w');
  await fh.truncate(sizeBytes);
  await fh.close();
  await run('mkfs.ext4', ['-q', '-F', image]);
  await run('mount', ['-o', 'loop', image, dir]);
}

export async function remount(dir: string, mode: 'ro' | 'rw'): Promise<void> {
  await run('mount', ['-o', `remount,${mode}`, dir]);
}

export async function unmount(dir: string): Promise<void> {
  await run('umount', [dir]).catch(() => run('umount', ['-l', dir]).catch(() => undefined));
}

/**
 * ext4 `remount,abort`: the journal aborts and the file system turns read-only under its open files,
 * so the next write fails with EROFS (a plain `remount,ro` is refused with EBUSY while files are open
 * for writing). Reads keep working. Undo with unmount + mount.
 */
export async function abortExt4(dir: string): Promise<void> {
  await run('mount', ['-o', 'remount,abort', dir]);
}

/** fsfreeze -f: every later write to the file system blocks until thaw(). */
export async function freeze(dir: string): Promise<void> {
  await run('fsfreeze', ['-f', dir]);
}

export async function thaw(dir: string): Promise<void> {
  await run('fsfreeze', ['-u', dir]).catch(() => undefined);
}

/** Writes filler until the file system is full (ENOSPC). */
export async function fillUp(dir: string): Promise<void> {
  const fh = await open(join(dir, 'filler.bin'), 'a');
  const chunk = Buffer.alloc(1 << 20, 0xee);
  try {
    for (;;) await fh.write(chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

export async function unfill(dir: string): Promise<void> {
  await rm(join(dir, 'filler.bin'), { force: true });
}

let moved = 0;

/**
 * Makes a directory disappear (renamed aside on the same file system, so its data survives like a
 * disk that is unplugged and plugged back); the returned function puts it back.
 */
export async function removeDir(dir: string): Promise<() => Promise<void>> {
  const aside = `${dir}.gone-${process.pid}-${moved++}`;
  await rename(dir, aside);
  return async () => {
    await rm(dir, { recursive: true, force: true });
    await rename(aside, dir);
  };
}

/** Replaces a directory by a plain file: every later I/O under it fails (ENOTDIR / ENOENT). */
export async function dirToFile(dir: string): Promise<() => Promise<void>> {
  const back = await removeDir(dir);
  await writeFile(dir, 'no longer a directory');
  return back;
}

/** Flips one byte in the middle of every segment file under `walDir`; returns how many it flipped. */
export async function flipSegmentBytes(walDir: string): Promise<number> {
  let n = 0;
  // Segments live in one directory per copy (e<N>, s<N>, c<N>-<K>) under the log's directory.
  const copies = (await readdir(walDir).catch(() => [] as string[])).map((d) => join(walDir, d));
  for (const dir of copies) {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.wal')) continue;
    const fh = await open(join(dir, name), 'r+');
    try {
      const { size } = await fh.stat();
      if (size < 64) continue;
      const at = Math.floor(size / 2);
      const b = Buffer.alloc(1);
      await fh.read(b, 0, 1, at);
      b[0] = b[0]! ^ 0xff;
      await fh.write(b, 0, 1, at);
      n++;
    } finally {
      await fh.close();
    }
  }
  }
  return n;
}
