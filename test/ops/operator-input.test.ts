/**
 * Operator input the daemon and CLI must judge right: decimal-only weights, an over-long socket path,
 * the token-file hint, relative paths in `nodes add`, a non-YAML file given to reload, and a reload
 * summary that counts manager-wide settings. Real daemon, real CLI processes, real files.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, clusterYaml, cli, ensureBuilt, startDaemon, tempDir, until, writeCluster, type DaemonHandle } from './helpers/harness.js';

describe('operator input against a running daemon', () => {
  let dir: string;
  let cfg: string;
  let d: DaemonHandle;
  const x = (...args: string[]) => cli([...args, '--socket', d.socket]);

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

  it.each(['0x1', '0b1', '1e0', ' 1', '+1', '.', ''])('weight %j is refused (decimal numbers only), exit 2', async (w) => {
    const r = await x('weight', 'local-01', w);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/weight must be a number from 0 to 1/);
  });

  it('decimal weights are accepted', async () => {
    for (const w of ['0.5', '1', '0', '.25', '1.0']) expect((await x('weight', 'local-02', w)).code).toBe(0);
  });

  it('nodes add resolves a relative file: path against the config file\'s directory, not the daemon\'s', async () => {
    fs.mkdirSync(path.join(dir, 'rel-root'));
    const nodeDir = path.join(dir, 'elsewhere');
    fs.mkdirSync(nodeDir);
    const nodeFile = path.join(nodeDir, 'node.yaml');
    fs.writeFileSync(nodeFile, ['node_id: node-rel', 'address: 127.0.0.42', 'endpoints:', '  - endpoint_id: local-rel', '    type: local', '    connection_string: file:rel-root'].join('\n') + '\n');
    const add = await x('nodes', 'add', nodeFile);
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    const st = JSON.parse((await x('status', 'local-rel', '--json')).stdout) as { connectionString: string };
    expect(st.connectionString).toBe(`file://${path.join(dir, 'rel-root')}`);
    expect((await x('nodes', 'remove', 'node-rel')).code).toBe(0);
  });

  it('reload of a file that is no YAML config quotes none of its lines, in the answer or the log', async () => {
    const secret = path.join(dir, 'shadow');
    fs.writeFileSync(secret, 'root:$y$j9T$SECRETHASH:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n');
    const bin = path.join(dir, 'binary');
    fs.writeFileSync(bin, Buffer.from([0, 1, 0x53, 0x45, 0x43, 0x52, 0x45, 0x54, 0x58, 0xff, 0x0a]));
    for (const f of [secret, bin]) {
      const r = await x('reload', f);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/XDBM_CONFIG_INVALID/);
      expect(r.stderr + r.stdout).not.toMatch(/SECRET|daemon:\*/);
    }
    expect(d.stderr()).toMatch(/config reload rejected/);
    expect(d.stderr()).not.toMatch(/SECRET|daemon:\*/);
  });

  it('the reload summary counts a changed target_active_backends', async () => {
    fs.writeFileSync(cfg, clusterYaml(dir, { nodes: 4 }).replace('target_active_backends: 3', 'target_active_backends: 2'));
    const r = await x('reload');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\(added 0, removed 0, changed 1\)/);
    expect(r.stdout).toContain('settings: target_active_backends 3 -> 2');
  });
});

describe('daemon start-up refusals', () => {
  it('a socket path over 107 bytes is refused up front, leaving no file behind', async () => {
    ensureBuilt();
    const dir = tempDir();
    try {
      const cfg = writeCluster(dir, { nodes: 3 });
      const deep = path.join(dir, 'x'.repeat(60), 'y'.repeat(60));
      const sock = path.join(deep, 'd.sock');
      const r = await cli(['daemon', '--config', cfg, '--socket', sock, '--no-http', '--no-watch']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/more than the 107 a Unix socket allows/);
      expect(fs.existsSync(path.join(dir, 'x'.repeat(60)))).toBe(false);
      expect(fs.readdirSync(dir).filter((n) => !n.startsWith('be-') && n !== 'xdbm.yaml')).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing token file gets a hint about the token file, not about YAML', async () => {
    ensureBuilt();
    const dir = tempDir();
    try {
      const cfg = writeCluster(dir, { nodes: 3 });
      const r = await cli(['daemon', '--config', cfg, '--socket', path.join(dir, 't.sock'), '--http', '127.0.0.1:0', '--token-file', path.join(dir, 'absent-token'), '--no-watch']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/token file/);
      expect(r.stderr).not.toMatch(/YAML/);
      expect(r.stderr).toMatch(/fix: write a long random token/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('what the daemon reports at start and in `xdbm stats`', () => {
  it('no alert fires before every backend has been probed; `xdbm stats` takes its counts from one snapshot', async () => {
    ensureBuilt();
    const dir = tempDir();
    const rule = ['  alert_rules:', '    - rule_name: NotAllHealthy', '      condition: "healthy_backend_count < 4"', '      severity: critical',
      '      evaluation_interval_sec: 1', '      consecutive_threshold: 1'].join('\n');
    const cfg = writeCluster(dir, { nodes: 4, healthIntervalMs: 200, extraYaml: rule });
    const d = await startDaemon(['--config', cfg, '--socket', path.join(dir, 's.sock'), '--no-http', '--no-watch']);
    try {
      const stats = async () => JSON.parse((await cli(['stats', '--json', '--socket', d.socket])).stdout) as { stats: { healthy: number; unknown: number }; monitoring: { healthy_backend_count: number } };
      await until(async () => (await stats()).stats.healthy === 4, 'all four HEALTHY');
      expect(d.stderr()).not.toMatch(/ALERT firing: NotAllHealthy/);
      // make one backend flap (its root goes and comes back) while reading stats: both counts agree every time
      const root = path.join(dir, 'be-02');
      for (let i = 0; i < 25; i++) {
        if (i % 5 === 0) fs.rmSync(root, { recursive: true, force: true });
        if (i % 5 === 3) fs.mkdirSync(root, { recursive: true });
        const s = await stats();
        expect(s.monitoring.healthy_backend_count).toBe(s.stats.healthy);
      }
    } finally {
      await d.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a broken default config is not reported as a dead daemon', () => {
  it('`xdbm reload` with a broken config/default.yaml exits 2 with the config error and where the socket was looked for', async () => {
    ensureBuilt();
    // a copy of the built package whose config/default.yaml is broken (the repository's stays untouched)
    const pkg = tempDir('xdbm-pkg-');
    try {
      fs.cpSync(path.join(ROOT, 'dist'), path.join(pkg, 'dist'), { recursive: true });
      fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
      fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
      if (fs.existsSync(path.join(ROOT, 'build'))) fs.symlinkSync(path.join(ROOT, 'build'), path.join(pkg, 'build'));
      fs.mkdirSync(path.join(pkg, 'config'));
      fs.writeFileSync(path.join(pkg, 'config', 'default.yaml'), 'dynamic_backend_manager:\n  target_active_backends: three\n');
      const runtime = path.join(pkg, 'run');
      fs.mkdirSync(runtime);
      const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile(process.execPath, [path.join(pkg, 'dist/src/cli/main.js'), 'reload'], { env: { ...process.env, XDBM_SOCKET: '', XDG_RUNTIME_DIR: runtime } }, (e, _o, stderr) => {
          resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stderr });
        });
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/XDBM_CONFIG_INVALID/);
      expect(r.stderr).toContain(path.join(runtime, 'xdbm', 'xdbm.sock'));
      expect(r.stderr).toMatch(/default\.yaml \(where admin\.socket_path is read\) is invalid/);
      expect(r.stderr).toMatch(/target_active_backends/);
    } finally {
      fs.rmSync(pkg, { recursive: true, force: true });
    }
  });
});

describe('one manager per backend root', () => {
  it('a second daemon on the same data with another --socket is refused; the lock goes with the first daemon', async () => {
    ensureBuilt();
    const dir = tempDir();
    try {
      const cfg = writeCluster(dir, { nodes: 3 });
      const first = await startDaemon(['--config', cfg, '--socket', path.join(dir, 'one.sock'), '--no-http', '--no-watch']);
      try {
        expect(fs.existsSync(path.join(dir, 'be-01', '.xdbm-manager.lock'))).toBe(true);
        const second = await cli(['daemon', '--config', cfg, '--socket', path.join(dir, 'two.sock'), '--no-http', '--no-watch']);
        expect(second.code).not.toBe(0);
        expect(second.stderr).toMatch(/XDBM_DAEMON_ALREADY_RUNNING/);
        expect(second.stderr).toMatch(new RegExp(`backend root ${dir}/be-0\\d is managed by another xdbm daemon .*pid ${first.proc.pid}`));
        expect(fs.existsSync(path.join(dir, 'two.sock'))).toBe(false);
        // the first one is untouched
        expect((await cli(['active', '--socket', first.socket])).code).toBe(0);
      } finally {
        await first.stop();
      }
      expect(fs.existsSync(path.join(dir, 'be-01', '.xdbm-manager.lock'))).toBe(false);
      // a lock left by a dead process is taken over
      fs.writeFileSync(path.join(dir, 'be-02', '.xdbm-manager.lock'), JSON.stringify({ host: os.hostname(), pid: 2 ** 22 + 12345, socket: 'gone', sinceMs: 0 }));
      const third = await startDaemon(['--config', cfg, '--socket', path.join(dir, 'three.sock'), '--no-http', '--no-watch']);
      await third.stop();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('runtime changes survive a reload', () => {
  it('weight, nodes add and nodes remove are saved into the config file (comments kept); reload says what it keeps', async () => {
    ensureBuilt();
    const dir = tempDir();
    try {
      const cfg = path.join(dir, 'xdbm.yaml');
      fs.mkdirSync(path.join(dir, 'be-05'));
      const aliased = ['    - node_id: node-05', '      address: 127.0.0.5', '      endpoints:', '        - *ep5'].join('\n');
      fs.writeFileSync(cfg, '# operator notes: keep this comment\n' +
        `x-ep5: &ep5 { endpoint_id: local-05, type: local, connection_string: "file://${dir}/be-05", weight: 1 }\n` +
        clusterYaml(dir, { nodes: 4 }).replace('  candidate_nodes:', '  # the pool\n  candidate_nodes:') + aliased + '\n');
      const d = await startDaemon(['--config', cfg, '--socket', path.join(dir, 'p.sock'), '--no-http', '--no-watch']);
      const x = (...args: string[]) => cli([...args, '--socket', d.socket]);
      try {
        const w = await x('weight', 'local-03', '0');
        expect(w.code).toBe(0);
        expect(w.stdout).toContain(`(saved to ${cfg})`);
        expect((await x('nodes', 'remove', 'node-04')).code).toBe(0);
        fs.mkdirSync(path.join(dir, 'be-new'));
        const nodeFile = path.join(dir, 'node-new.yaml');
        fs.writeFileSync(nodeFile, ['node_id: node-new', 'address: 127.0.0.77', 'endpoints:', '  - endpoint_id: local-new', '    type: local', '    connection_string: file:be-new'].join('\n') + '\n');
        expect((await x('nodes', 'add', nodeFile)).code).toBe(0);
        const text = fs.readFileSync(cfg, 'utf8');
        expect(text).toContain('# operator notes: keep this comment');
        expect(text).toContain('# the pool');
        expect(text).not.toContain('node-04');
        expect(text).toContain('node-new');
        const r = await x('reload');
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/\(added 0, removed 0, changed 0\)/);
        expect(r.stdout).toMatch(/runtime changes kept \(saved in the file\): weight of local-03 = 0, node node-04 removed, node node-new added/);
        const st = JSON.parse((await x('status', 'local-03', '--json')).stdout) as { weight: number };
        expect(st.weight).toBe(0);
        // an endpoint written through an alias cannot be edited in place: the change is applied, the
        // CLI warns that it was not saved, and the next reload says it DROPPED it
        const w5 = await x('weight', 'local-05', '0.5');
        expect(w5.code).toBe(0);
        expect(w5.stdout).toMatch(/WARNING: not saved to the config file/);
        const r2 = await x('reload');
        expect(r2.stdout).toMatch(/runtime changes DROPPED \(not in the file\): weight of local-05 = 0.5/);
        expect((JSON.parse((await x('status', 'local-05', '--json')).stdout) as { weight: number }).weight).toBe(1);
      } finally {
        await d.stop();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('one manager per backend root, at run time', () => {
  it('nodes add of a root another daemon manages is refused, and the running daemon is unchanged', async () => {
    ensureBuilt();
    const a = tempDir();
    const b = tempDir();
    try {
      const da = await startDaemon(['--config', writeCluster(a, { nodes: 3 }), '--socket', path.join(a, 'a.sock'), '--no-http', '--no-watch']);
      const db = await startDaemon(['--config', writeCluster(b, { nodes: 3 }), '--socket', path.join(b, 'b.sock'), '--no-http', '--no-watch']);
      try {
        const nodeFile = path.join(b, 'steal.yaml');
        fs.writeFileSync(nodeFile, ['node_id: thief', 'address: 127.0.0.99', 'endpoints:', '  - endpoint_id: stolen', '    type: local', `    connection_string: file://${a}/be-01`].join('\n') + '\n');
        const r = await cli(['nodes', 'add', nodeFile, '--socket', db.socket]);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/XDBM_DAEMON_ALREADY_RUNNING/);
        expect((await cli(['candidates', '--json', '--socket', db.socket])).stdout).not.toContain('stolen');
      } finally {
        await db.stop();
        await da.stop();
      }
    } finally {
      fs.rmSync(a, { recursive: true, force: true });
      fs.rmSync(b, { recursive: true, force: true });
    }
  });
});
