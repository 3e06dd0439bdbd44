/**
 * Hot reload against a real daemon: `xdbm reload` of a broken file (exit 2, errors printed, daemon
 * keeps serving the old config), of a valid file (applied as a diff), SIGHUP, the file watch, and an
 * alert rule with a bad condition reported with its position.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterYaml, cli, ensureBuilt, startDaemon, tempDir, until, writeCluster, type DaemonHandle } from './helpers/harness.js';

describe('config reload', () => {
  let dir: string;
  let cfg: string;
  let d: DaemonHandle;
  const x = (...args: string[]) => cli([...args, '--socket', d.socket]);
  const endpoints = async (): Promise<string[]> =>
    (JSON.parse((await x('candidates', '--json')).stdout) as { endpointId: string }[]).map((c) => c.endpointId);

  beforeAll(async () => {
    ensureBuilt();
    dir = tempDir();
    cfg = writeCluster(dir, { nodes: 4 });
    d = await startDaemon(['--config', cfg, '--socket', path.join(dir, 'a.sock'), '--no-http', '--no-watch']);
  });

  afterAll(async () => {
    await d?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a broken file exits 2 with its errors (file:line:col) and the daemon keeps serving the old config', async () => {
    const bad = path.join(dir, 'broken.yaml');
    fs.writeFileSync(bad, clusterYaml(dir, { nodes: 4 }).replace('target_active_backends: 3', 'target_active_backends: three'));
    const activeBefore = (await x('active', '--json')).stdout;
    const r = await x('reload', bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/XDBM_CONFIG_INVALID/);
    expect(r.stderr).toMatch(new RegExp(`${bad.replace(/[.]/g, '\\.')}:2:\\d+ dynamic_backend_manager\\.target_active_backends`));
    const rj = await x('reload', bad, '--json');
    expect(rj.code).toBe(2);
    expect(JSON.parse(rj.stdout).error.details.issues.length).toBeGreaterThan(0);
    // still serving, same actives
    const after = await x('active', '--json');
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout).map((a: { endpointId: string }) => a.endpointId))
      .toEqual(JSON.parse(activeBefore).map((a: { endpointId: string }) => a.endpointId));
    expect(d.stderr()).toMatch(/config reload rejected; the running config stays/);
  });

  it('an alert rule with a bad condition is rejected with its position in the expression', async () => {
    const bad = path.join(dir, 'bad-alert.yaml');
    fs.writeFileSync(bad, clusterYaml(dir, {
      nodes: 4,
      extraYaml: [
        '  alert_rules:',
        '    - rule_name: Sneaky',
        '      condition: "process.exit() > 0"',
        '      severity: warning',
      ].join('\n'),
    }));
    const r = await x('reload', bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}:39:31 dynamic_backend_manager.alert_rules[0].condition: condition: function calls are not part of the grammar at position 13`);
    expect(r.stderr).toMatch(/:\d+:\d+ dynamic_backend_manager\.alert_rules\[0\]\.condition: condition: function calls are not part of the grammar at position 13/);
    expect((await x('alerts', '--json')).stdout).not.toContain('Sneaky');
  });

  it('a missing file exits 2', async () => {
    const r = await x('reload', path.join(dir, 'absent.yaml'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/XDBM_CONFIG_NOT_FOUND/);
  });

  it('a valid file is applied as a diff and becomes the current file', async () => {
    const next = writeCluster(dir, { nodes: 6 }, 'six.yaml');
    const r = await x('reload', next);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Configuration reloaded successfully from .*six\.yaml \(added 2, removed 0, changed 0\)/);
    expect(await endpoints()).toEqual(expect.arrayContaining(['local-05', 'local-06']));
    const j = JSON.parse((await x('reload', '--json')).stdout) as { file: string; applied: { added: string[] } };
    expect(j.file).toBe(next);
    expect(j.applied.added).toEqual([]);
    // repeated reloads leave the active set alone
    const before = (await x('active', '--json')).stdout;
    for (let i = 0; i < 3; i++) expect((await x('reload')).code).toBe(0);
    const ids = (s: string) => (JSON.parse(s) as { endpointId: string }[]).map((a) => a.endpointId).sort();
    expect(ids((await x('active', '--json')).stdout)).toEqual(ids(before));
  });

  it('a reload brings new alert rules in and keeps the seed defaults', async () => {
    const withRule = writeCluster(dir, {
      nodes: 6,
      extraYaml: ['  alert_rules:', '    - rule_name: TooFewHealthy', '      condition: healthy_backend_count < 2', '      severity: warning'].join('\n'),
    }, 'six.yaml');
    expect((await x('reload', withRule)).code).toBe(0);
    const rules = (JSON.parse((await x('alerts', '--json')).stdout) as { rules: { ruleName: string; severity: string }[] }).rules;
    expect(rules.map((r) => r.ruleName)).toEqual(expect.arrayContaining(['TooFewHealthy', 'NoHealthyBackends', 'HighFailoverRate']));
    expect(rules.find((r) => r.ruleName === 'TooFewHealthy')!.severity).toBe('warning');
  });

  it('SIGHUP reloads the current file', async () => {
    const current = path.join(dir, 'six.yaml');
    fs.writeFileSync(current, clusterYaml(dir, { nodes: 7 }));
    d.proc.kill('SIGHUP');
    await until(async () => (await endpoints()).includes('local-07'), 'local-07 after SIGHUP');
    expect(d.stderr()).toMatch(/"trigger":"SIGHUP"/);
  });
});

describe('config file watch', () => {
  it('reloads on change (debounced) and rejects a broken edit while serving on', async () => {
    ensureBuilt();
    const dir = tempDir();
    const cfg = writeCluster(dir, { nodes: 4 });
    const d = await startDaemon(['--config', cfg, '--socket', path.join(dir, 'w.sock'), '--no-http']);
    const x = (...args: string[]) => cli([...args, '--socket', d.socket]);
    try {
      fs.writeFileSync(cfg, clusterYaml(dir, { nodes: 5 }));
      await until(async () => (await x('candidates', '--json')).stdout.includes('local-05'), 'local-05 after the file changed');
      fs.writeFileSync(cfg, 'dynamic_backend_manager: [broken');
      await until(() => /"trigger":"file-watch".*config reload rejected/.test(d.stderr()), 'rejected watch reload in the log');
      const r = await x('candidates', '--json');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toHaveLength(5);
    } finally {
      await d.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('startup config checks and socket discovery', () => {
  it('refuses to start on a config with a bad alert condition (exit 2, line:col and position)', async () => {
    ensureBuilt();
    const dir = tempDir();
    try {
      const cfg = path.join(dir, 'bad.yaml');
      fs.writeFileSync(cfg, clusterYaml(dir, {
        nodes: 3,
        extraYaml: ['  alert_rules:', '    - rule_name: Typo', '      condition: healthy_backend_count =< 1', '      severity: critical'].join('\n'),
      }));
      const r = await cli(['daemon', '--config', cfg, '--socket', path.join(dir, 's.sock'), '--no-http']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`${cfg}:32:40 dynamic_backend_manager.alert_rules[0].condition: condition: unexpected character '=' (use '==' to compare) at position 23`);
      expect(r.stderr).toMatch(/fix: .*xdbm validate FILE/);
      expect(fs.existsSync(path.join(dir, 's.sock'))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the daemon uses admin.socket_path of its config, and the CLI finds it with --config or XDBM_SOCKET', async () => {
    ensureBuilt();
    const dir = tempDir();
    const sock = path.join(dir, 'from-config.sock');
    const cfg = path.join(dir, 'c.yaml');
    fs.writeFileSync(cfg, clusterYaml(dir, { nodes: 3, extraYaml: `  admin:\n    socket_path: ${sock}` }));
    const d = await startDaemon(['--config', cfg, '--no-http', '--no-watch']);
    try {
      expect(d.socket).toBe(sock);
      expect((await cli(['active', '--config', cfg])).code).toBe(0);
      expect((await cli(['active'], { XDBM_SOCKET: sock })).code).toBe(0);
    } finally {
      await d.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
