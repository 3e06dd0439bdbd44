/** Temp directories under os.tmpdir(): one helper instead of a mkdtemp in every suite. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh directory named `${prefix}XXXXXX` in the system temp dir. */
export function makeTempDir(prefix = 'xdbm-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Removes a directory tree; no error when it is already gone. */
export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** A fresh temp directory with its cleanup. */
export function tempDir(prefix = 'xdbm-test-'): { dir: string; cleanup: () => void } {
  const dir = makeTempDir(prefix);
  return { dir, cleanup: () => removeDir(dir) };
}
