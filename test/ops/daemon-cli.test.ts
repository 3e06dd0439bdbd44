/**
 * A real daemon child process on a temp Unix socket with 5 local backends in temp dirs, driven by the
 * real CLI (child processes): every command in human and --json form, exit codes, socket handling.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, ensureBuilt, startDaemon, tempDir, until, writeCluster, type DaemonHandle } from './helpers/harness.js';

interface ActiveJson { endpointId: string; nodeId: string; state: string }

describe('xdbm daemon + CLI over the admin socket', () => {
  let dir: string;
  let cfg: string;
  let d: DaemonHandle;
  const x = (...args: string[]) => cli([...args, '--socket', d.socket]);

  beforeAll(async () => {
    ensureBuilt();
    dir = tempDir();
    cfg = writeCluster(dir, { nodes: 5 });
    d = await startDaemon(['--config', cfg, '--socket', path.join(dir, 'admin.sock'), '--no-http', '--no-watch']);
  });

  afterAll(async () => {
    const code = await d?.stop();
    expect(code).toBe(0);
    // graceful stop removes the socket
    expect(fs.existsSync(path.join(dir, 'admin.sock'))).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('prints where its socket is and creates it mode 0600', () => {
    expect(d.stdout()).toContain(`socket:    ${path.join(dir, 'admin.sock')} (mode 0600)`);
    const st = fs.statSync(d.socket);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  });

  it('candidates: seed table and --json', async () => {
    const h = await x('candidates');
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^Candidate Backend Nodes:\nNODE_ID +ADDRESS +ENDPOINT_ID +TYPE +STATUS/);
    for (let i = 1; i <= 5; i++) expect(h.stdout).toContain(`local-0${i}`);
    const j = await x('candidates', '--json');
    const list = JSON.parse(j.stdout) as { endpointId: string; active: boolean }[];
    expect(list).toHaveLength(5);
    expect(list.filter((c) => c.active)).toHaveLength(3);
  });

  it('active: 3 backends on 3 distinct nodes, seed table and --json', async () => {
    const j = await x('active', '--json');
    expect(j.code).toBe(0);
    const list = JSON.parse(j.stdout) as ActiveJson[];
    expect(list).toHaveLength(3);
    expect(new Set(list.map((a) => a.nodeId)).size).toBe(3);
    const h = await x('active');
    expect(h.stdout).toMatch(/^Active Backend Pool:\nENDPOINT_ID +TYPE +LATENCY_US +BANDWIDTH +LOAD/);
    for (const a of list) expect(h.stdout).toContain(a.endpointId);
  });

  it('failover <active> replaces it (human), and --json returns the record', async () => {
    const before = JSON.parse((await x('active', '--json')).stdout) as ActiveJson[];
    const victim = before[0]!.endpointId;
    const r = await x('failover', victim);
    expect(r.stderr, `${r.stdout}\n${d.stderr().slice(-3000)}`).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Failover done: ${victim} -> local-0\\d in \\d+ ms`));
    const after = JSON.parse((await x('active', '--json')).stdout) as ActiveJson[];
    expect(after.map((a) => a.endpointId)).not.toContain(victim);
    expect(after).toHaveLength(3);
    expect(new Set(after.map((a) => a.nodeId)).size).toBe(3);

    const again = JSON.parse((await x('active', '--json')).stdout) as ActiveJson[];
    const rj = await x('failover', again[1]!.endpointId, '--json');
    expect(rj.code, `${rj.stdout}\n${rj.stderr}\n${d.stderr().slice(-3000)}`).toBe(0);
    expect(JSON.parse(rj.stdout)).toMatchObject({ failedId: again[1]!.endpointId, ok: true, manual: true });
  });

  it('failover <active> <replacement> puts the named replacement in', async () => {
    const cands = JSON.parse((await x('candidates', '--json')).stdout) as { endpointId: string; active: boolean; state: string }[];
    const victim = cands.find((c) => c.active)!.endpointId;
    const pick = cands.find((c) => !c.active && c.state === 'HEALTHY')!.endpointId;
    const r = await x('failover', victim, pick);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain(`Failover done: ${victim} -> ${pick}`);
    const after = JSON.parse((await x('active', '--json')).stdout) as ActiveJson[];
    expect(after.map((a) => a.endpointId)).toContain(pick);
    expect(after.map((a) => a.endpointId)).not.toContain(victim);
  });

  it('bad input exits 2 with a fix hint: unknown backend, inactive backend, bad weight, missing argument', async () => {
    const unknown = await x('failover', 'no-such-backend');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/XDBM_UNKNOWN_ENDPOINT/);
    expect(unknown.stderr).toMatch(/fix: /);

    const cands = JSON.parse((await x('candidates', '--json')).stdout) as { endpointId: string; active: boolean }[];
    const idle = cands.find((c) => !c.active)!.endpointId;
    const notActive = await x('failover', idle);
    expect(notActive.code).toBe(2);
    expect(notActive.stderr).toMatch(/XDBM_NOT_ACTIVE/);

    const w = await x('weight', 'local-01', '7');
    expect(w.code).toBe(2);
    expect(w.stderr).toMatch(/0 to 1/);

    const missing = await x('weight', 'local-01'); // `status` alone is the overall status now
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/missing required argument/);

    const unknownStatus = await x('status', 'nope', '--json');
    expect(unknownStatus.code).toBe(2);
    expect(JSON.parse(unknownStatus.stdout).error.code).toBe('XDBM_UNKNOWN_ENDPOINT');
  });

  it('weight, status, reselect, stats, alerts in human and --json form', async () => {
    const w = await x('weight', 'local-02', '0.5');
    expect(w.code).toBe(0);
    expect(w.stdout).toContain('Weight of local-02 set to 0.5');
    const st = JSON.parse((await x('status', 'local-02', '--json')).stdout) as { weight: number; endpointId: string };
    expect(st).toMatchObject({ endpointId: 'local-02', weight: 0.5 });
    expect((await x('status', 'local-02')).stdout).toMatch(/^Backend local-02:\nendpoint: +local-02/);

    const rs = await x('reselect', 'test reason');
    expect(rs.code).toBe(0);
    expect(rs.stdout).toMatch(/^Reselection done/);
    const rsj = JSON.parse((await x('reselect', '--json')).stdout) as { active: unknown[] };
    expect(rsj.active).toHaveLength(3);

    const s = await x('stats');
    expect(s.stdout).toMatch(/^Manager Statistics:/);
    expect(s.stdout).toMatch(/Recent failovers:/);
    const sj = JSON.parse((await x('stats', '--json')).stdout) as { stats: { failoverCount: number }; monitoring: Record<string, number> };
    expect(sj.stats.failoverCount).toBeGreaterThanOrEqual(2);
    expect(sj.monitoring.total_backend_count).toBe(5);

    const a = await x('alerts');
    expect(a.stdout).toMatch(/Alert Rules:\nRULE +SEVERITY +STATE/);
    for (const r of ['HighFailoverRate', 'LowBackendAvailability', 'HighOperationLatency', 'NoHealthyBackends']) expect(a.stdout).toContain(r);
    const aj = JSON.parse((await x('alerts', '--json')).stdout) as { rules: { ruleName: string }[] };
    expect(aj.rules).toHaveLength(4);
  });

  it('nodes add <yaml-file> and nodes remove <node-id>', async () => {
    const nodeFile = path.join(dir, 'node-09.yaml');
    fs.writeFileSync(nodeFile, [
      'node_id: node-09',
      'address: 127.0.0.9',
      'endpoints:',
      '  - endpoint_id: local-09',
      '    type: local',
      `    connection_string: file://${dir}/be-09`,
    ].join('\n') + '\n');
    const add = await x('nodes', 'add', nodeFile);
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    expect(add.stdout).toContain('Node node-09 added');
    const c = JSON.parse((await x('candidates', '--json')).stdout) as { endpointId: string }[];
    expect(c.map((e) => e.endpointId)).toContain('local-09');

    const dup = await x('nodes', 'add', nodeFile);
    expect(dup.code).toBe(2);

    const rm = await x('nodes', 'remove', 'node-09', '--json');
    expect(rm.code).toBe(0);
    expect(JSON.parse(rm.stdout)).toEqual({ nodeId: 'node-09', drained: false, forced: false });
    const rmAgain = await x('nodes', 'remove', 'node-09');
    expect(rmAgain.code).toBe(2);
    expect(rmAgain.stderr).toMatch(/XDBM_UNKNOWN_NODE/);

    const missingFile = await x('nodes', 'add', path.join(dir, 'absent.yaml'));
    expect(missingFile.code).toBe(2);
  });

  it('metrics prints the Prometheus text over the socket', async () => {
    const m = await x('metrics');
    expect(m.code).toBe(0);
    expect(m.stdout).toMatch(/^xdbm_total_backend_count 5$/m);
    expect(JSON.parse((await x('metrics', '--json')).stdout).text).toMatch(/^xdbm_healthy_backend_count \d+$/m);
  });

  it('every command has --help', async () => {
    for (const c of ['candidates', 'active', 'failover', 'reload', 'weight', 'reselect', 'status', 'stats', 'alerts', 'metrics', 'daemon']) {
      const h = await cli([c, '--help']);
      expect(h.code).toBe(0);
      expect(h.stdout).toMatch(new RegExp(`Usage: xdbm ${c}`));
    }
    const n = await cli(['nodes', 'add', '--help']);
    expect(n.stdout).toMatch(/Usage: xdbm nodes add/);
  });

  it('exit 3 with a fix hint when no daemon answers', async () => {
    const r = await cli(['active', '--socket', path.join(dir, 'nobody.sock')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/is the daemon running\? start it with `xdbm daemon --config FILE` or `npm start`/);
    expect(r.stderr).toContain(path.join(dir, 'nobody.sock'));
    const j = await cli(['active', '--json'], { XDBM_SOCKET: path.join(dir, 'nobody.sock') });
    expect(j.code).toBe(3);
    expect(JSON.parse(j.stdout).error.code).toBe('XDBM_DAEMON_UNREACHABLE');
  });

  it('refuses to start a second daemon on a socket that answers', async () => {
    const r = await cli(['daemon', '--config', cfg, '--socket', d.socket, '--no-http']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/XDBM_DAEMON_ALREADY_RUNNING/);
    // the first daemon still serves
    expect((await x('active')).code).toBe(0);
  });

  it('removes a stale socket file that nothing answers, but never a regular file', async () => {
    const stale = path.join(dir, 'stale.sock');
    // A socket file left behind: bind it in a child that is killed without cleanup.
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'ignore'] });
    await until(() => fs.existsSync(stale), 'stale socket file');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(fs.statSync(stale).isSocket()).toBe(true);
    await expect(new Promise((resolve, reject) => net.createConnection(stale).on('connect', resolve).on('error', reject))).rejects.toThrow();

    const d2 = await startDaemon(['--config', cfg, '--socket', stale, '--no-http', '--no-watch']);
    expect((await cli(['candidates', '--socket', stale])).code).toBe(0);
    expect(await d2.stop()).toBe(0);

    const regular = path.join(dir, 'regular-file');
    fs.writeFileSync(regular, 'keep me');
    const r = await cli(['daemon', '--config', cfg, '--socket', regular, '--no-http']);
    expect(r.code).toBe(2);
    expect(fs.readFileSync(regular, 'utf8')).toBe('keep me');
  });
});
