/**
 * `xdbm failover <active> <replacement>` checks the named replacement against the rules automatic
 * selection follows: eligibility (state, weight, hold-down) and failure domains. A refusal exits 2
 * naming the rule; --force overrides, and the override is in the audit trail.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, ensureBuilt, startDaemon, tempDir, until, type DaemonHandle } from './helpers/harness.js';

describe('named failover replacements follow the selection rules', () => {
  let dir: string;
  let d: DaemonHandle;
  const x = (...args: string[]) => cli([...args, '--socket', d.socket]);
  const actives = async (): Promise<string[]> => (JSON.parse((await x('active', '--json')).stdout) as { endpointId: string }[]).map((a) => a.endpointId).sort();

  beforeAll(async () => {
    ensureBuilt();
    dir = tempDir();
    // four nodes; node-01 has a second endpoint (same failure domain as local-01)
    const ep = (id: string) => [`        - endpoint_id: ${id}`, '          type: local', `          connection_string: file://${dir}/${id}`, '          weight: 1.0'];
    const node = (n: number, ids: string[]) => [`    - node_id: node-0${n}`, `      address: 127.0.0.${n}`, '      endpoints:', ...ids.flatMap(ep)];
    const ids = ['a1', 'a1b', 'b', 'c', 'd'];
    for (const id of ids) fs.mkdirSync(path.join(dir, id));
    const yaml = ['dynamic_backend_manager:', '  target_active_backends: 3', '  health_check_interval_ms: 500',
      '  monitoring:', '    probe_timeout_ms: 5000', '    max_acceptable_latency_us: 2000000', '    fail_slow: { enabled: false }',
      '  candidate_nodes:', ...node(1, ['a1', 'a1b']), ...node(2, ['b']), ...node(3, ['c']), ...node(4, ['d'])].join('\n') + '\n';
    fs.writeFileSync(path.join(dir, 'xdbm.yaml'), yaml);
    d = await startDaemon(['--config', path.join(dir, 'xdbm.yaml'), '--socket', path.join(dir, 'r.sock'), '--no-http', '--no-watch']);
    await until(async () => {
      const c = JSON.parse((await x('candidates', '--json')).stdout) as { state: string }[];
      return c.every((e) => e.state === 'HEALTHY');
    }, 'all HEALTHY');
  });

  afterAll(async () => {
    await d?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a replacement sharing a failure domain with another active is refused (exit 2, the rule named)', async () => {
    const act = await actives();
    // pick an active not on node-01 and name a1b (node-01) while a1 stays active, or the reverse
    const keepNode1 = act.includes('a1') ? 'a1' : act.includes('a1b') ? 'a1b' : undefined;
    if (keepNode1 === undefined) {
      // node-01 not active: make it so first (a legal named switch)
      const victim = act[0]!;
      expect((await x('failover', victim, 'a1')).code).toBe(0);
    }
    const now = await actives();
    const onNode1 = now.find((id) => id === 'a1' || id === 'a1b')!;
    const other = now.find((id) => id !== onNode1)!;
    const sameDomain = onNode1 === 'a1' ? 'a1b' : 'a1';
    const r = await x('failover', other, sameDomain);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/XDBM_RULE_VIOLATION/);
    expect(r.stderr).toMatch(new RegExp(`failure domain: it shares node 'node-01' with active ${onNode1}`));
    expect(await actives()).toEqual(now);
  });

  it('a replacement with weight 0 is refused; --force overrides and is logged as an override', async () => {
    const now = await actives();
    const spare = ['b', 'c', 'd'].find((id) => !now.includes(id))!;
    expect((await x('weight', spare, '0')).code).toBe(0);
    const victim = now.find((id) => id !== 'a1' && id !== 'a1b') ?? now[0]!;
    const r = await x('failover', victim, spare);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/eligibility: its weight is 0/);
    const forced = await x('failover', victim, spare, '--force');
    expect(forced.stderr).toBe('');
    expect(forced.code).toBe(0);
    expect(await actives()).toContain(spare);
    expect(d.stderr()).toMatch(/"force":true/);
    expect(d.stderr()).toMatch(/forced failover of .* breaks: eligibility: its weight is 0/);
  });
});
