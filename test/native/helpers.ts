/** Shared pieces of the native tests: temp files on /tmp (ext4, O_DIRECT works) and real loop devices. */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { addonPath } from '../../src/native/binding.js';

const run = promisify(execFile);

export const ADDON_PATH = addonPath();
export const NO_ADDON_REASON = 'native addon not built (npx node-gyp rebuild --nodedir=/usr)';

/** Loop devices need root and /dev/loop-control (true in CI containers run as root). */
export const LOOP_SKIP_REASON: string | undefined =
  process.getuid?.() !== 0 ? 'not root (losetup needs root; runs as root in CI)'
  : !existsSync('/dev/loop-control') ? 'no /dev/loop-control (no loop driver; runs on hosts with loop devices)'
  : undefined;

/** A fresh temp directory; remove with the returned cleanup. */
export function tempDir(prefix = 'xdbm-native-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Attaches `file` to a free loop device (retrying races with other losetup users); returns /dev/loopN. */
export async function attachLoop(file: string, sectorBytes?: number): Promise<string> {
  const args = ['-f', '--show'];
  if (sectorBytes) args.push('--sector-size', String(sectorBytes));
  args.push(file);
  let last: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const { stdout } = await run('losetup', args);
      const dev = stdout.trim();
      if (dev.startsWith('/dev/loop')) return dev;
      last = new Error(`losetup printed ${JSON.stringify(stdout)}`);
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
    }
  }
  throw last;
}

export async function detachLoop(dev: string | undefined): Promise<void> {
  if (!dev) return;
  await run('losetup', ['-d', dev]).catch(() => undefined);
}
