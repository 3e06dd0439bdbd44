/**
 * Terminating a worker that is inside an addon call (what the pool does to a probe past its deadline or
 * aborted by the caller) must not take the process down. Runs in a child process, so a crash fails this
 * test instead of the whole run. Needs the addon (build/Release/xdbm_native.node).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nativeAvailable } from '../../src/native/binding.js';
import { builtOrExplain, removeDir, tempDir } from './helpers.js';

const dir = tempDir();
afterAll(() => removeDir(dir));

describe('worker termination inside the addon', () => {
  it.skipIf(!nativeAvailable())('the process survives a probe worker terminated mid io_uring batch (needs the addon: skipped until node-gyp has built it)', () => {
    builtOrExplain();
    const r = spawnSync(process.execPath, [join(import.meta.dirname, 'fixtures/terminate-in-addon.mjs'), dir], {
      encoding: 'utf8', timeout: 30_000,
    });
    // 134 = SIGABRT: "terminate called after throwing an instance of 'Napi::Error'" -> build the addon
    // with NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS so throwing into a terminating worker is skipped.
    expect(r.stderr).not.toContain('terminate called');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toEqual({ code: 'XDBM_PROBE_ABORTED', busy: false });
  });
});
