/**
 * The daemon's HTTP side on loopback: /metrics with the monitoring metric set and firing alerts, the
 * dashboard routes, read-only /api, bearer-token enforcement, and the non-loopback refusal.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_METRIC_NAMES } from '../../src/prom/registry.js';
import { cli, ensureBuilt, startDaemon, tempDir, until, writeCluster, type DaemonHandle } from './helpers/harness.js';

interface Res { status: number; body: string; headers: http.IncomingHttpHeaders }

function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

const ALWAYS_ON_RULE = [
  '  alert_rules:',
  '    - rule_name: AlwaysOn',
  '      condition: "total_backend_count > 0 && !(overall_availability < 0)"',
  '      severity: info',
  '      evaluation_interval_sec: 1',
  '      consecutive_threshold: 2',
].join('\n');

describe('HTTP: /metrics, alerts, dashboard routes (loopback, no token)', () => {
  let dir: string;
  let d: DaemonHandle;
  let url: string;

  beforeAll(async () => {
    ensureBuilt();
    dir = tempDir();
    const cfg = writeCluster(dir, { nodes: 4, extraYaml: ALWAYS_ON_RULE });
    d = await startDaemon(['--config', cfg, '--socket', path.join(dir, 'h.sock'), '--http', '127.0.0.1:0', '--no-watch']);
    if (d.url === undefined) throw new Error(`the daemon printed no dashboard URL:\n${d.stdout()}`);
    url = d.url;
  });
  afterAll(async () => {
    await d?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('prints the dashboard and metrics URLs on loopback and says no token is used', () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(d.stdout()).toMatch(/dashboard: http:\/\/127\.0\.0\.1:\d+\/ \(loopback only, no token/);
    expect(d.stdout()).toMatch(/metrics: +http:\/\/127\.0\.0\.1:\d+\/metrics/);
  });

  it('/metrics answers with the monitoring metric set and per-backend series', async () => {
    const r = await get(url + 'metrics');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/text\/plain/);
    for (const name of SEED_METRIC_NAMES) expect(r.body).toMatch(new RegExp(`^${name}(\\{[^}]*\\})? `, 'm'));
    expect(r.body).toMatch(/^xdbm_total_backend_count 4$/m);
    expect(r.body).toMatch(/^xdbm_health_summary\{state="healthy"\} \d+$/m);
    expect(r.body).toMatch(/^xdbm_backend_avg_latency_us\{endpoint_id="local-01",node_id="node-01",type="local"\} /m);
    expect(r.body).toMatch(/^xdbm_backend_active\{endpoint_id="local-0\d",node_id="node-0\d",type="local"\} [01]$/m);
    expect(r.body).toMatch(/^xdbm_backend_probe_latency_us_bucket\{le="1000",endpoint_id="local-01"/m);
  });

  it('a rule fires after its consecutive threshold: in `xdbm alerts`, on /metrics and in the log', async () => {
    const alerts = await until(async () => {
      const r = await cli(['alerts', '--json', '--socket', d.socket]);
      const v = JSON.parse(r.stdout) as { firing: { ruleName: string }[] };
      return v.firing.some((f) => f.ruleName === 'AlwaysOn') ? v : undefined;
    }, 'AlwaysOn firing');
    expect(alerts.firing.map((f) => f.ruleName)).toContain('AlwaysOn');
    const human = await cli(['alerts', '--socket', d.socket]);
    expect(human.stdout).toMatch(/^\d+ alert\(s\) firing:/);
    expect(human.stdout).toMatch(/AlwaysOn +info +FIRING +\d+\/2/);
    const m = await get(url + 'metrics');
    expect(m.body).toMatch(/^xdbm_alert_firing\{rule="AlwaysOn",severity="info"\} 1$/m);
    expect(m.body).not.toMatch(/xdbm_alert_firing\{rule="NoHealthyBackends"/);
    expect(d.stderr()).toMatch(/"rule":"AlwaysOn".*"msg":"ALERT firing: AlwaysOn"/);
  });

  it('serves the page and its script with a strict CSP, /api/state as JSON, and refuses writes', async () => {
    const page = await get(url);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<script src="/dashboard.js"');
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect((await get(url + 'dashboard.js')).body).toContain("fetch('/api/state'");
    const st = await get(url + 'api/state');
    expect(st.status).toBe(200);
    const state = JSON.parse(st.body) as { active: unknown[]; candidates: unknown[]; latency: Record<string, unknown[]> };
    expect(state.active).toHaveLength(3);
    expect(state.candidates).toHaveLength(4);
    expect(Object.keys(state.latency).length).toBe(4);
    expect(JSON.parse((await get(url + 'api/status?id=local-01')).body).endpointId).toBe('local-01');
    expect((await get(url + 'api/status?id=nope')).status).toBe(404);
    expect((await get(url + 'api/failover', {}, 'POST')).status).toBe(405);
    expect((await get(url + 'api/failover')).status).toBe(404);
  });

  it('without a token file, a Host header that is not loopback is refused (DNS rebinding)', async () => {
    const r = await get(url + 'api/state', { Host: 'evil.example:80' });
    expect(r.status).toBe(403);
  });
});

describe('HTTP with a token file', () => {
  let dir: string;
  let d: DaemonHandle;
  let url: string;
  const token = 'c0ffee'.repeat(8);

  beforeAll(async () => {
    ensureBuilt();
    dir = tempDir();
    fs.writeFileSync(path.join(dir, 'token'), token + '\n', { mode: 0o600 });
    const cfg = writeCluster(dir, { nodes: 4 });
    d = await startDaemon(['--config', cfg, '--socket', path.join(dir, 't.sock'), '--http', '127.0.0.1:0', '--token-file', path.join(dir, 'token'), '--no-watch']);
    if (d.url === undefined) throw new Error(`the daemon printed no dashboard URL:\n${d.stdout()}`);
    url = d.url;
  });
  afterAll(async () => {
    await d?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('/metrics needs no token; every /api route needs the bearer token', async () => {
    expect(d.stdout()).toMatch(/bearer token required for \/api/);
    expect((await get(url + 'metrics')).status).toBe(200);
    for (const route of ['api/state', 'api/active', 'api/candidates', 'api/stats', 'api/alerts']) {
      const none = await get(url + route);
      expect(none.status).toBe(401);
      expect(JSON.parse(none.body).error.code).toBe('XDBM_UNAUTHORIZED');
      expect((await get(url + route, { Authorization: 'Bearer wrong-token' })).status).toBe(401);
      expect((await get(url + route, { Authorization: `Basic ${token}` })).status).toBe(401);
      expect((await get(url + route, { Authorization: `Bearer ${token}` })).status).toBe(200);
    }
  });
});

describe('HTTP host policy', () => {
  it('refuses a non-loopback host without a token file (exit 2)', async () => {
    ensureBuilt();
    const dir = tempDir();
    try {
      const cfg = writeCluster(dir, { nodes: 3 });
      const r = await cli(['daemon', '--config', cfg, '--socket', path.join(dir, 'n.sock'), '--http', '0.0.0.0:0', '--no-watch']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/refusing to serve HTTP on non-loopback host 0\.0\.0\.0 without a token file/);
      expect(fs.existsSync(path.join(dir, 'n.sock'))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
