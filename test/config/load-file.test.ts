/** loadConfigFile: relative paths resolve against the file's directory; a missing file is XDBM_CONFIG_NOT_FOUND. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { loadConfigFile } from '../../src/config/load.js';
import { BASE } from './helpers.js';
import { makeTempDir, removeDir } from '../support/temp-dir.js';

const dir = makeTempDir('xdbm-config-');
afterAll(() => removeDir(dir));

describe('loadConfigFile', () => {
  it('resolves file: relative paths, metadata and socket paths against the config directory', async () => {
    const sub = path.join(dir, 'etc');
    mkdirSync(sub, { recursive: true });
    const file = path.join(sub, 'xdbm.yaml');
    writeFileSync(file, BASE.replace('file:///srv/e1', 'file:../var/e1') + '  admin:\n    socket_path: xdbm.sock\n');
    const cfg = await loadConfigFile(file);
    expect(cfg.candidateNodes[0]!.endpoints[0]!.target).toEqual({ kind: 'file', path: path.join(dir, 'var/e1') });
    expect(cfg.wal.metadata).toEqual({ type: 'file', path: path.join(sub, 'data/xdbm-meta.json') });
    expect(cfg.admin.socketPath).toBe(path.join(sub, 'xdbm.sock'));
    expect(cfg.sourcePath).toBe(file);
  });

  it('missing file: XDBM_CONFIG_NOT_FOUND naming it', async () => {
    const missing = path.join(dir, 'nope.yaml');
    await expect(loadConfigFile(missing)).rejects.toMatchObject({ code: ErrorCode.CONFIG_NOT_FOUND, message: expect.stringContaining(missing) });
    await expect(loadConfigFile(dir)).rejects.toMatchObject({ code: ErrorCode.CONFIG_NOT_FOUND });
  });

  it('an invalid file names itself in every issue', async () => {
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, BASE.replace('target_active_backends: 3', 'target_active_backends: 0'));
    await expect(loadConfigFile(file)).rejects.toMatchObject({
      code: ErrorCode.CONFIG_INVALID,
      details: { sourceName: file, issues: [expect.objectContaining({ path: 'dynamic_backend_manager.target_active_backends', line: 2, column: 27 })] },
    });
  });
});
