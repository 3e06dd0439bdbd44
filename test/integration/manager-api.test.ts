/** The management API of BackendManager on real local directories. */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configToYaml, loadConfigFile } from '../../src/config/index.js';
import type { NodeConfig } from '../../src/config/types.js';
import { BackendManager } from '../../src/manager.js';
import { DirectProbeRunner } from '../../src/probes/direct-runner.js';
import { clusterConfig, LAYOUT, startCluster, type Cluster } from './cluster.js';
import { localEndpoint, tempRoot } from './helpers.js';
import { until } from '../support/until.js';
import { localEndpointRaw, nodeRaw } from '../support/cluster.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

const ids = (c: Cluster) => c.manager.getActiveBackends().map((a) => a.endpointId);

describe('queries', () => {
  it('starts with 3 actives on 3 nodes and reports candidates, status and stats', async () => {
    cluster = await startCluster();
    const m = cluster.manager;
    expect(ids(cluster).sort()).toEqual(['a1', 'a2', 'victim']);
    expect(m.getActiveStorage().map((b) => b.endpointId).sort()).toEqual(['a1', 'a2', 'victim']);
    const cands = m.getCandidates();
    expect(cands).toHaveLength(LAYOUT.length);
    const a1b = cands.find((c) => c.endpointId === 'a1b')!;
    expect(a1b).toMatchObject({ nodeId: 'node-1', domain: 'node-1', active: false, state: 'HEALTHY', type: 'local' });
    expect(a1b.score).toBeCloseTo(0.9, 9); // reliability-only scoring: score = weight when healthy
    const st = m.getBackendStatus('a1');
    expect(st).toMatchObject({ active: true, consecutiveFailures: 0, flapCount: 0, holdDownUntilMs: 0, failSlow: false });
    expect(st.metrics.avgLatencyUs).toBeGreaterThan(0);
    expect(st.lastHealthCheckMs).toBeGreaterThan(0);
    expect(() => m.getBackendStatus('nope')).toThrow(expect.objectContaining({ code: 'XDBM_UNKNOWN_ENDPOINT' }));
    const s = m.getStats();
    expect(s).toMatchObject({ activeCount: 3, targetCount: 3, total: 6, healthy: 6, failed: 0 });
    expect(s.totalChecks).toBeGreaterThanOrEqual(6);
    m.recordDataPathOp('a1', 100, true, 4096);
    m.recordDataPathOp('a1', 300, true, 4096);
    m.recordDataPathOp('a2', 0, false);
    expect(m.getStats()).toMatchObject({ successfulOperations: 2, failedOperations: 1, avgOperationLatencyUs: 200, p99OperationLatencyUs: 300 });
    await m.stop();
    await m.stop(); // idempotent
  });

  it('with fewer usable failure domains than the target runs with fewer actives and warns', async () => {
    // The config is valid (3 nodes), but node n3's only backend cannot work: its root is a file.
    const t = tempRoot('two');
    writeFileSync(join(t.dir, 'e3a'), 'not a directory');
    const m = await BackendManager.open({
      target_active_backends: 3,
      health_check_interval_ms: 200,
      candidate_nodes: [1, 2, 3].map((i) => nodeRaw(`n${i}`, `10.0.0.${i}`,
        (i === 3 ? ['a'] : ['a', 'b']).map((x) => localEndpointRaw(`e${i}${x}`, `${t.dir}/e${i}${x}`)))),
      monitoring: { health_check_types: ['basic'] },
    });
    const warnings: string[] = [];
    m.on('warning', (w: { message: string }) => warnings.push(w.message));
    await m.start();
    const actives = m.getActiveBackends();
    expect(actives).toHaveLength(2);
    expect(new Set(actives.map((a) => a.nodeId))).toEqual(new Set(['n1', 'n2']));
    expect(warnings.join('\n')).toMatch(/only 2 of 3 actives/);
    expect(m.getBackendStatus('e3a').state).toBe('UNHEALTHY');
    await m.stop();
    t.cleanup();
  });
});

describe('operations', () => {
  it('forceBackendSwitch replaces an active by the given backend', async () => {
    cluster = await startCluster();
    const m = cluster.manager;
    const r = await m.forceBackendSwitch('victim', 's5');
    expect(r).toMatchObject({ ok: true, manual: true, failedId: 'victim', replacementId: 's5' });
    expect(ids(cluster)).toContain('s5');
    expect(ids(cluster)).not.toContain('victim');
    expect(cluster.events.at(-1)).toMatchObject({ reason: 'manual switch' });
    await expect(m.forceBackendSwitch('victim')).rejects.toMatchObject({ code: 'XDBM_NOT_ACTIVE' });
    await expect(m.forceBackendSwitch('a1', 'a2')).rejects.toMatchObject({ code: 'XDBM_INVALID_ARGUMENT' });
    await expect(m.forceBackendSwitch('zz')).rejects.toMatchObject({ code: 'XDBM_UNKNOWN_ENDPOINT' });
    expect(m.getStats().backendSwitches).toBeGreaterThanOrEqual(1);
  });

  it('forceBackendSwitch without a replacement picks the best one in a free domain', async () => {
    cluster = await startCluster();
    const r = await cluster.manager.forceBackendSwitch('a2');
    expect(r.replacementId).toBe('s4');
  });

  it('setBackendWeight validates 0..1 and rescoring moves the active set', async () => {
    cluster = await startCluster();
    const m = cluster.manager;
    for (const bad of [-0.1, 1.5, Number.NaN]) {
      expect(() => m.setBackendWeight('a2', bad)).toThrow(expect.objectContaining({ code: 'XDBM_INVALID_ARGUMENT' }));
    }
    m.setBackendWeight('a2', 0);
    await until(() => !ids(cluster!).includes('a2'), 'a2 out of the active set', 5000);
    expect(ids(cluster).sort()).toEqual(['a1', 's4', 'victim']);
    expect(m.getBackendStatus('a2').weight).toBe(0);
  });

  it('triggerReselection keeps a stable set (no change, null)', async () => {
    cluster = await startCluster();
    expect(await cluster.manager.triggerReselection('operator asked')).toBeNull();
    expect(cluster.events).toHaveLength(1); // only the initial selection
  });

  it('with no replacement runs with fewer actives, warns, and refills when a backend recovers', async () => {
    cluster = await startCluster();
    const c = cluster;
    // Only the victim's own node could host it: make every other free-domain candidate unusable.
    c.manager.setBackendWeight('s4', 0);
    c.manager.setBackendWeight('s5', 0);
    await c.manager.triggerReselection('settle');
    rmSync(c.dirs.victim!, { recursive: true, force: true });
    await until(() => ids(c).length === 2, '2 actives', 3000);
    expect(c.warnings.join('\n')).toMatch(/fewer actives/);
    expect(c.manager.getStats().failedFailovers).toBe(1);
    // The monitor re-initialises the closed backend (mkdir), it passes recovery_threshold probes,
    // and a later round refills the active set.
    await until(() => ids(c).length === 3, '3 actives again', 5000);
    expect(ids(c).sort()).toEqual(['a1', 'a2', 'victim']);
  });

  it('with automatic failover off, a FAILED active stays and a warning says so', async () => {
    cluster = await startCluster({ over: { failover: { enable_auto_failover: false, failure_threshold: 3 } } });
    const c = cluster;
    rmSync(c.dirs.victim!, { recursive: true, force: true });
    await until(() => c.manager.getBackendStatus('victim').state === 'FAILED', 'victim FAILED', 3000);
    // The warning comes where a failover would have been: after it, the victim is still active.
    await until(() => /automatic failover is off/.test(c.warnings.join('\n')), 'the automatic-failover-off warning', 3000);
    expect(ids(c)).toContain('victim');
    expect(c.warnings.join('\n')).toMatch(/automatic failover is off/);
  });
});

describe('configuration at run time', () => {
  it('reloadConfig applies a diff: removed active failed over first, added probed, untouched keep state', async () => {
    cluster = await startCluster();
    const c = cluster;
    const m = c.manager;
    // a1 has a probe history to keep (reload must not reset it)
    await until(() => m.getBackendStatus('a1').consecutiveSuccesses >= 2, 'a1 with 2 passed probes', 5000);
    const before = m.getBackendStatus('a1');
    const dirs = { ...c.dirs, n6: join(c.base, 'n6') };
    const next = clusterConfig(dirs);
    next.candidateNodes = next.candidateNodes.filter((n) => n.nodeId !== 'node-3');
    next.candidateNodes.push({
      nodeId: 'node-6', address: '10.0.0.6', labels: {}, endpoints: [localEndpoint('n6', dirs.n6, { weight: 0.8 })],
    });
    const r = await m.reloadConfig(next);
    expect(r).toEqual({ added: ['n6'], removed: ['victim'], changed: [] });
    expect(ids(c).sort()).toEqual(['a1', 'a2', 's4']);
    expect(() => m.getBackendStatus('victim')).toThrow(expect.objectContaining({ code: 'XDBM_UNKNOWN_ENDPOINT' }));
    const after = m.getBackendStatus('a1');
    expect(after.consecutiveSuccesses).toBeGreaterThanOrEqual(before.consecutiveSuccesses);
    await until(() => m.getBackendStatus('n6').state === 'HEALTHY', 'n6 HEALTHY', 3000);
    expect(existsSync(join(dirs.n6, '.xdbm-probe'))).toBe(true);
  });

  it('reloadConfig rejects an invalid config whole and keeps the old one', async () => {
    cluster = await startCluster();
    const m = cluster.manager;
    const bad = { ...m.config, targetActiveBackends: -1 };
    await expect(m.reloadConfig(bad)).rejects.toMatchObject({ code: 'XDBM_CONFIG_INVALID' });
    expect(m.config.targetActiveBackends).toBe(3);
    expect(ids(cluster)).toHaveLength(3);
  });

  it('add, update and remove candidate nodes; saveConfig writes a loadable file', async () => {
    cluster = await startCluster();
    const c = cluster;
    const m = c.manager;
    const node: NodeConfig = { nodeId: 'node-7', address: '10.0.0.7', labels: {}, endpoints: [localEndpoint('n7', join(c.base, 'n7'))] };
    await m.addCandidateNode(node);
    await expect(m.addCandidateNode(node)).rejects.toMatchObject({ code: 'XDBM_DUPLICATE_ID' });
    expect(m.getCandidates().map((x) => x.endpointId)).toContain('n7');
    await m.updateNodeConfig('node-7', { ...node, address: '10.0.0.77' });
    expect(m.getCandidates().find((x) => x.endpointId === 'n7')!.nodeAddress).toBe('10.0.0.77');
    await m.removeCandidateNode('node-2'); // holds active a2: failed over first
    expect(ids(c)).not.toContain('a2');
    expect(ids(c)).toHaveLength(3);
    expect(new Set(m.getActiveBackends().map((a) => a.nodeId)).size).toBe(3);
    await expect(m.removeCandidateNode('node-2')).rejects.toMatchObject({ code: 'XDBM_UNKNOWN_NODE' });
    const file = join(c.base, 'saved.yaml');
    await m.saveConfig(file);
    expect(readFileSync(file, 'utf8')).toMatch(/node-7/);
    const loaded = await loadConfigFile(file);
    expect(loaded.candidateNodes.map((n) => n.nodeId).sort()).toEqual(['node-1', 'node-3', 'node-4', 'node-5', 'node-7']);
  });
});

describe('configuration file', () => {
  it('opens from a YAML file and reloadConfig() re-reads it as a diff (weight change rescores, identity change rebuilds)', async () => {
    const t = tempRoot('yaml');
    const dirs: Record<string, string> = {};
    for (const e of LAYOUT) dirs[e.id] = join(t.dir, e.id);
    const file = join(t.dir, 'xdbm.yaml');
    const cfg = clusterConfig(dirs);
    writeFileSync(file, configToYaml(cfg));
    const m = await BackendManager.open(file, { probeRunner: new DirectProbeRunner((id) => m.getBackend(id), cfg.monitoring) });
    expect(m.config.sourcePath).toBe(file);
    await m.start();
    expect(m.getActiveBackends().map((a) => a.endpointId).sort()).toEqual(['a1', 'a2', 'victim']);
    const oldA1 = m.getBackend('a1');
    // victim's weight drops below s4's; s5 moves to another directory (a new backend object)
    const next = clusterConfig({ ...dirs, s5: join(t.dir, 's5-moved') });
    next.candidateNodes.find((n) => n.nodeId === 'node-3')!.endpoints[0]!.weight = 0.1;
    writeFileSync(file, configToYaml(next));
    const r = await m.reloadConfig();
    expect(r.changed).toEqual(['victim']);
    expect(r.added).toEqual(['s5']);
    expect(r.removed).toEqual(['s5']);
    expect(m.getBackend('a1')).toBe(oldA1); // untouched backends are not rebuilt
    expect(m.getActiveBackends().map((a) => a.endpointId).sort()).toEqual(['a1', 'a2', 's4']);
    writeFileSync(file, 'dynamic_backend_manager: { target_active_backends: "three" }');
    await expect(m.reloadConfig()).rejects.toMatchObject({ code: 'XDBM_CONFIG_INVALID' });
    expect(m.getActiveBackends()).toHaveLength(3);
    await m.stop();
    t.cleanup();
  });
});

describe('anti-flap on a real backend', () => {
  it('a backend that fails again soon after recovering is held down: UNHEALTHY while its probes pass', async () => {
    cluster = await startCluster({ over: { failover: { failure_threshold: 3, recovery_threshold: 2, hold_down_base_ms: 3000, hold_down_max_ms: 60000 } } });
    const c = cluster;
    const m = c.manager;
    rmSync(c.dirs.victim!, { recursive: true, force: true });
    await until(() => !ids(c).includes('victim'), 'victim failed over', 3000);
    // closed after the failover; the monitor re-initialises it (mkdir) and it recovers
    await until(() => m.getBackendStatus('victim').state === 'HEALTHY', 'victim HEALTHY again', 5000);
    expect(m.getBackendStatus('victim').flapCount).toBe(0);
    rmSync(c.dirs.victim!, { recursive: true, force: true });
    await until(() => m.getBackendStatus('victim').state === 'FAILED', 'victim FAILED again', 3000);
    const st = m.getBackendStatus('victim');
    expect(st.flapCount).toBe(1);
    expect(st.holdDownUntilMs).toBeGreaterThan(Date.now() + 2000);
    expect(st.decayedErrors).toBeGreaterThan(3);
    // probes pass again (re-init), recovery_threshold (2) times, but the hold-down keeps it out of selection
    await until(() => m.getBackendStatus('victim').consecutiveSuccesses >= 2, 'victim passing probes again', 3000);
    expect(m.getBackendStatus('victim').state).toBe('UNHEALTHY');
    expect(m.getBackendStatus('victim').consecutiveSuccesses).toBeGreaterThan(0);
    expect(m.getCandidates().find((x) => x.endpointId === 'victim')!.active).toBe(false);
  });
});
