/** `xdbm validate FILE [--json]`: summary and exit 0, or every issue as file:line:col and exit 2. */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { register, runValidate } from '../../src/cli/commands/validate.js';
import { BASE } from './helpers.js';
import { makeTempDir, removeDir } from '../support/temp-dir.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SEED = path.join(ROOT, 'examples/seed-sample.yaml');
const dir = makeTempDir('xdbm-validate-');
afterAll(() => removeDir(dir));

const BAD = path.join(dir, 'bad.yaml');
writeFileSync(BAD, BASE.replace('target_active_backends: 3', 'target_active_backends: 0').replace('    - node_id: n2', '    - node_id: n1'));

describe('runValidate', () => {
  it('valid file: one-line summary, exit 0', async () => {
    const out = await runValidate(SEED);
    expect(out).toEqual({ exitCode: 0, stdout: 'ok: 10 nodes, 19 endpoints, target 3, policy weighted_score\n', stderr: '' });
  });

  it('invalid file: every issue as file:line:col path: message, exit 2', async () => {
    const out = await runValidate(BAD);
    expect(out.exitCode).toBe(2);
    const lines = out.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^${BAD.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:27 dynamic_backend_manager\\.target_active_backends: `));
    expect(lines[1]).toContain(':10:16 dynamic_backend_manager.candidate_nodes[1].node_id: duplicate node_id');
    expect(out.stderr).toContain('2 errors');
  });

  it('missing file: exit 2 with a clear message', async () => {
    const out = await runValidate(path.join(dir, 'absent.yaml'));
    expect(out.exitCode).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(/absent\.yaml not found \[XDBM_CONFIG_NOT_FOUND\]/);
  });

  it('--json: summary or issues as JSON', async () => {
    const ok = JSON.parse((await runValidate(SEED, { json: true })).stdout);
    expect(ok).toMatchObject({ ok: true, summary: { nodes: 10, endpoints: 19, target: 3, policy: 'weighted_score', failureDomain: 'node', domains: 10 } });
    const bad = await runValidate(BAD, { json: true });
    expect(bad.exitCode).toBe(2);
    const body = JSON.parse(bad.stdout);
    expect(body.ok).toBe(false);
    expect(body.code).toBe('XDBM_CONFIG_INVALID');
    expect(body.issues.map((i: { line: number }) => i.line)).toEqual([2, 10]);
  });
});

describe('register()', () => {
  it('adds `validate <file> [--json]` to a commander program and sets the exit code', async () => {
    const program = new Command().exitOverride();
    register(program);
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const writeErr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const saved = process.exitCode;
    try {
      await program.parseAsync(['node', 'xdbm', 'validate', BAD, '--json']);
      expect(process.exitCode).toBe(2);
      expect(JSON.parse(String(write.mock.calls[0]![0])).issues).toHaveLength(2);
    } finally {
      write.mockRestore();
      writeErr.mockRestore();
      process.exitCode = saved;
    }
  });
});

const built = existsSync(path.join(ROOT, 'dist/src/cli/main.js')) && existsSync(path.join(ROOT, 'dist/src/cli/commands/validate.js'));
describe('the built CLI', () => {
  it.skipIf(!built)('spawns `node dist/src/cli/main.js validate` (skipped when dist/src/cli/main.js or commands/validate.js is not built: run `npm run build`)', () => {
    const main = path.join(ROOT, 'dist/src/cli/main.js');
    const good = spawnSync(process.execPath, [main, 'validate', SEED], { encoding: 'utf8', timeout: 30_000 });
    expect(good.status).toBe(0);
    expect(good.stdout).toBe('ok: 10 nodes, 19 endpoints, target 3, policy weighted_score\n');
    const bad = spawnSync(process.execPath, [main, 'validate', BAD], { encoding: 'utf8', timeout: 30_000 });
    expect(bad.status).toBe(2);
    expect(bad.stdout).toContain(`${BAD}:2:27 dynamic_backend_manager.target_active_backends:`);
    const missing = spawnSync(process.execPath, [main, 'validate', path.join(dir, 'absent.yaml')], { encoding: 'utf8', timeout: 30_000 });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('not found');
  });
});

describe('alert conditions', () => {
  it('are checked by the alert parser, with the column inside the condition', async () => {
    const file = path.join(dir, 'alerts.yaml');
    writeFileSync(file, BASE + '  alert_rules:\n    - rule_name: Mine\n      condition: healthy_backend_count < < 2\n      severity: info\n');
    const out = await runValidate(file);
    expect(out.exitCode).toBe(2);
    const col = '      condition: healthy_backend_count < < 2'.indexOf('< 2') + 1;
    expect(out.stdout).toMatch(new RegExp(`:24:${col} dynamic_backend_manager\\.alert_rules\\[0\\]\\.condition: condition: `));
    writeFileSync(file, BASE + '  alert_rules:\n    - rule_name: Mine\n      condition: "healthy_backend_count < 2"\n      severity: info\n');
    expect((await runValidate(file)).exitCode).toBe(0);
  });
});

describe('--node', () => {
  it('checks a single-node file as `xdbm nodes add` reads it', async () => {
    const file = path.join(dir, 'node.yaml');
    writeFileSync(file, 'node_id: n9\naddress: 10.0.0.9\nendpoints:\n  - { endpoint_id: e9, type: local, connection_string: "file:d9" }\n');
    expect(await runValidate(file, { node: true })).toEqual({ exitCode: 0, stdout: 'ok: node n9, 1 endpoint (e9)\n', stderr: '' });
    writeFileSync(file, 'node_id: n9\naddress: 10.0.0.9\nendpoints:\n  - { endpoint_id: e9, type: local, connection_string: "file:d9", wieght: 1 }\n');
    const bad = await runValidate(file, { node: true });
    expect(bad.exitCode).toBe(2);
    expect(bad.stdout).toBe(`${file}:4:67 endpoints[0].wieght: unknown key 'wieght' (did you mean 'weight'?); valid keys here: endpoint_id, type, connection_string, weight, labels, mount_point, probe_area_mb, nvme, io_timeout_ms\n`);
  });
});
