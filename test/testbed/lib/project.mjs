// The one place the testbed reaches into the project's build (dist/). Fails with a clear message
// naming what is missing, so a testbed run tells "not built / not landed yet" from a real failure.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const PROJECT_ROOT = path.resolve(here, '..', '..', '..');
export const DIST = process.env.XDBM_DIST ?? path.join(PROJECT_ROOT, 'dist');

export class MissingPiece extends Error {
  constructor(what) {
    super(`project piece missing: ${what}`);
    this.code = 'TESTBED_MISSING_PIECE';
  }
}

async function importDist(rel) {
  const file = path.join(DIST, rel);
  if (!existsSync(file)) throw new MissingPiece(`${path.relative(PROJECT_ROOT, file)} (run npx tsc -p tsconfig.json)`);
  return import(pathToFileURL(file).href);
}

export async function loadConfig(file) {
  const m = await importDist('src/config/load.js');
  if (typeof m.loadConfigFile !== 'function') throw new MissingPiece('loadConfigFile in src/config/load.ts');
  return m.loadConfigFile(file);
}

/** BackendManager.open(config) (or new BackendManager(config)); not started. */
export async function openManager(config) {
  const m = await importDist('src/manager.js');
  const BM = m.BackendManager ?? m.default;
  if (typeof BM !== 'function') throw new MissingPiece('BackendManager in src/manager.ts');
  if (typeof BM.open === 'function') return BM.open(config);
  return new BM(config);
}

/** The replicated log over the manager's actives: manager.openLog(name) or openManagedLog(manager, name). */
export async function openLog(manager, name, opts = {}) {
  if (typeof manager.openLog === 'function') return manager.openLog(name, opts);
  const m = await importDist('src/wal/log.js');
  const open = m.openManagedLog ?? m.openLog;
  if (typeof open !== 'function') throw new MissingPiece('openManagedLog in src/wal/log.ts');
  return open(manager, name, opts);
}
