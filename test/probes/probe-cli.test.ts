/** `xdbm probe` on a real temp dir, and on a real loop device when root. */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runProbeCommand } from '../../src/cli/commands/probe.js';
import { nativeAvailable } from '../../src/native/binding.js';
import { LOOP_NEEDS, builtOrExplain, canLoop, makeLoopDevice, removeDir, tempDir } from './helpers.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));
const dir = (): string => {
  const d = tempDir('xdbm-cli-');
  dirs.push(d);
  return d;
};
const CLI = join(import.meta.dirname, '../../dist/src/cli/main.js');

describe('xdbm probe on a directory', () => {
  it('basic --json prints the ProbeResult and exits 0', async () => {
    builtOrExplain();
    const d = dir();
    const out = await runProbeCommand({ connectionString: `file://${d}`, json: true });
    expect(out.exitCode, out.stderr + out.stdout).toBe(0);
    const r = JSON.parse(out.stdout);
    expect(r).toMatchObject({ kind: 'basic', ok: true, errors: 0, ops: 3 });
    expect(r.avgLatencyUs).toBeGreaterThan(0);
    // the probe area is the backend's .xdbm-probe directory, left empty
    expect(readdirSync(join(d, '.xdbm-probe'))).toEqual([]);
  });

  it('performance prints latency avg/p50/p99, bandwidth, IOPS and errors', async () => {
    const out = await runProbeCommand({ connectionString: `file://${dir()}`, type: 'performance', timeoutMs: '20000' });
    expect(out.exitCode, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/performance probe of file:\/\/.* \(local\): OK/);
    expect(out.stdout).toMatch(/avg [\d,]+ us\s+p50 [\d,]+ us\s+p99 [\d,]+ us/);
    expect(out.stdout).toMatch(/bandwidth\s+[\d.,]+ MB\/s\s+IOPS [\d,]+/);
    expect(out.stdout).toMatch(/ops\s+100\s+errors 0/);
  });

  it.each([
    { name: 'unknown scheme', args: { connectionString: 'foo://x' }, code: 'XDBM_BAD_CONNECTION_STRING' },
    { name: 'relative block path', args: { connectionString: 'block://dev/sda' }, code: 'XDBM_BAD_CONNECTION_STRING' },
    { name: 'unknown type', args: { connectionString: 'file:///tmp', type: 'deep' }, code: 'XDBM_INVALID_ARGUMENT' },
    { name: 'bad timeout', args: { connectionString: 'file:///tmp', timeoutMs: 'soon' }, code: 'XDBM_INVALID_ARGUMENT' },
    { name: 'bad probe area', args: { connectionString: 'file:///tmp', probeAreaMb: '-1' }, code: 'XDBM_INVALID_ARGUMENT' },
  ])('bad input ($name) exits 2 with a clear message', async ({ args, code }) => {
    const out = await runProbeCommand(args);
    expect(out.exitCode).toBe(2);
    expect(out.stderr).toContain(`[${code}]`);
    const j = await runProbeCommand({ ...args, json: true });
    expect(j.exitCode).toBe(2);
    expect(JSON.parse(j.stdout).error.code).toBe(code);
  });

  it('exits 1 when the backend cannot be probed', async () => {
    // a directory path that runs through a regular file: init fails with ENOTDIR
    const file = join(dir(), 'plain-file');
    writeFileSync(file, 'x');
    const out = await runProbeCommand({ connectionString: `file://${file}/sub`, json: true });
    expect(out.exitCode).toBe(1);
    expect(JSON.parse(out.stdout).error.code).toBe('XDBM_IO_ERROR');
  });

  it.skipIf(!existsSync(CLI))('the real binary runs `xdbm probe` (skipped until dist/src/cli/main.js is built)', () => {
    const r = spawnSync(process.execPath, [CLI, 'probe', `file://${dir()}`, '--type', 'stress', '--duration-ms', '50', '--json'], {
      encoding: 'utf8', timeout: 30_000,
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: 'stress', ok: true, errors: 0 });
  });
});

describe.skipIf(!(canLoop && nativeAvailable()))(`xdbm probe on a loop device (${LOOP_NEEDS}, and the addon built)`, () => {
  it('block:///dev/loopN --type performance --json works', async () => {
    const loop = makeLoopDevice();
    try {
      const out = await runProbeCommand({ connectionString: `block://${loop.device}`, type: 'performance', json: true, timeoutMs: 30_000 });
      expect(out.exitCode, out.stdout + out.stderr).toBe(0);
      const r = JSON.parse(out.stdout);
      expect(r).toMatchObject({ kind: 'performance', ok: true, ops: 100, errors: 0 });
      expect(r.iops).toBeGreaterThan(0);
      if (existsSync(CLI)) {
        const c = spawnSync(process.execPath, [CLI, 'probe', `block://${loop.device}`, '--type', 'basic', '--probe-area-mb', '2'], {
          encoding: 'utf8', timeout: 30_000,
        });
        expect(c.status, c.stdout + c.stderr).toBe(0);
        expect(c.stdout).toContain('(block): OK');
      }
    } finally {
      loop.detach();
      removeDir(dirname(loop.file));
    }
  });
});
