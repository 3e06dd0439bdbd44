/** The shipped files validate, and defaults fill everything the seed format leaves out. */
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig } from '../../src/config/load.js';
import { DEFAULT_ALERT_RULES, defaultProbeTimeoutMs, defaultSocketPath } from '../../src/config/defaults.js';
import { distinctDomains } from '../../src/config/domains.js';
import { BASE, withSection } from './helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('shipped configuration files', () => {
  it('examples/seed-sample.yaml (the sample configuration of the design, completed) is valid, with the seed values', async () => {
    const cfg = await loadConfigFile(path.join(ROOT, 'examples/seed-sample.yaml'));
    expect(cfg.candidateNodes.map((n) => n.nodeId)).toEqual(Array.from({ length: 10 }, (_, i) => `node-${String(i + 1).padStart(2, '0')}`));
    expect(cfg.candidateNodes.reduce((n, x) => n + x.endpoints.length, 0)).toBe(19);
    expect(cfg.targetActiveBackends).toBe(3);
    expect(cfg.healthCheckIntervalMs).toBe(5000);
    const nv = cfg.candidateNodes[0]!.endpoints[0]!;
    expect(nv.target).toEqual({ kind: 'nvme', host: '192.168.1.101', port: 4420, subsysnqn: 'namespace1', nsid: 1 });
    expect(nv.nvme).toEqual({ ctrlLossTmoS: 10, reconnectDelayS: 2, fastIoFailTmoS: 2 });
    expect(cfg.candidateNodes[0]!.endpoints[1]!.target).toEqual({ kind: 'nfs', host: '192.168.1.101', exportPath: '/export/xdevice', mountPoint: '/mnt/xdbm/nfs-01' });
    expect(cfg.candidateNodes[1]!.endpoints[1]!.target).toEqual({ kind: 'file', path: '/data/xdevice' });
    expect(cfg.candidateNodes[9]!.endpoints[0]!.weight).toBe(0.9);
    expect(cfg.selection).toEqual({ algorithm: 'weighted_score', weights: { latency: 0.4, bandwidth: 0.3, reliability: 0.2, load: 0.1 }, failureDomain: 'node', allowSharedFailureDomain: false });
    expect(cfg.failover).toMatchObject({ enableAutoFailover: true, failureThreshold: 3, recoveryThreshold: 5, failoverTimeoutMs: 30000, enableDataMigration: false });
    expect(cfg.monitoring).toMatchObject({ enableDetailedMetrics: true, metricsExportIntervalMs: 10000, healthCheckTypes: ['basic', 'performance'] });
    expect(cfg.alerts).toEqual(DEFAULT_ALERT_RULES);
    expect(cfg.sourcePath).toBe(path.join(ROOT, 'examples/seed-sample.yaml'));
  });

  it('the seed sample text is kept verbatim for the nodes the seed shows', () => {
    const text = readFileSync(path.join(ROOT, 'examples/seed-sample.yaml'), 'utf8');
    expect(text).toContain('connection_string: "nvme://192.168.1.110:4420/namespace1"');
    expect(text).toContain('endpoint_id: "mixed-10"');
  });

  it('config/default.yaml is valid: 10 nodes x 2 local endpoints under ../data, 5 racks', async () => {
    const cfg = await loadConfigFile(path.join(ROOT, 'config/default.yaml'));
    expect(cfg.candidateNodes).toHaveLength(10);
    for (const n of cfg.candidateNodes) {
      expect(n.endpoints.map((e) => e.type)).toEqual(['local', 'local']);
      for (const e of n.endpoints) {
        expect(e.target.kind).toBe('file');
        expect((e.target as { path: string }).path.startsWith(path.join(ROOT, 'data', n.nodeId) + '/')).toBe(true);
      }
    }
    expect(cfg.healthCheckIntervalMs).toBe(1000);
    expect(cfg.selection.failureDomain).toBe('rack');
    expect(distinctDomains(cfg.selection, cfg.candidateNodes).size).toBe(5);
    expect(cfg.admin.socketPath).toBe(path.join(ROOT, 'data/xdbm.sock'));
    expect(cfg.wal.metadata).toEqual({ type: 'file', path: path.join(ROOT, 'data/xdbm-meta.json') });
    expect(cfg.wal.segmentBytes).toBe(64 * 1024 * 1024);
  });
});

describe('defaults', () => {
  it('fill every optional key', () => {
    const cfg = parseConfig(BASE, undefined, { baseDir: '/etc/xdbm' });
    expect(cfg.healthCheckIntervalMs).toBe(5000);
    expect(cfg.failover).toEqual({
      enableAutoFailover: true, failureThreshold: 3, degradedThreshold: 1, recoveryThreshold: 5, failoverTimeoutMs: 30000,
      enableDataMigration: false, errorDecayHalfLifeMs: 60000, holdDownBaseMs: 5000, holdDownMaxMs: 300000, flapWindowMs: 600000,
    });
    expect(cfg.monitoring).toEqual({
      enableDetailedMetrics: true, metricsExportIntervalMs: 10000, healthCheckTypes: ['basic', 'performance'], probeTimeoutMs: 5000,
      maxAcceptableLatencyUs: 100000, maxAcceptableErrorRate: 0.1,
      failSlow: { enabled: true, peerRatio: 3, minLatencyUs: 1000, minPeers: 2 },
    });
    expect(cfg.wal).toEqual({ ackQuorum: 2, segmentBytes: 67108864, metadata: { type: 'file', path: '/etc/xdbm/data/xdbm-meta.json' } });
    expect(cfg.admin).toEqual({ socketPath: defaultSocketPath() });
    const ep = cfg.candidateNodes[0]!.endpoints[0]!;
    expect(ep).toEqual({ endpointId: 'e1', type: 'local', connectionString: 'file:///srv/e1', target: { kind: 'file', path: '/srv/e1' }, weight: 1, labels: {}, probeAreaBytes: 4 * 1024 * 1024 });
  });

  it('probe timeout follows the interval within [1000, 5000] ms', () => {
    expect([100, 1000, 2500, 5000, 60000].map(defaultProbeTimeoutMs)).toEqual([1000, 1000, 2500, 5000, 5000]);
    const cfg = parseConfig(BASE.replace('  target_active_backends: 3\n', '  target_active_backends: 3\n  health_check_interval_ms: 2000\n'));
    expect(cfg.monitoring.probeTimeoutMs).toBe(2000);
  });

  it('ack quorum never defaults above the target', () => {
    const cfg = parseConfig(BASE.replace('target_active_backends: 3', 'target_active_backends: 1'));
    expect(cfg.wal.ackQuorum).toBe(1);
  });

  it('socket path: XDG_RUNTIME_DIR first, then /run for root, else a per-uid tmp dir', () => {
    expect(defaultSocketPath({ XDG_RUNTIME_DIR: '/run/user/1000' })).toBe('/run/user/1000/xdbm/xdbm.sock');
    const plain = defaultSocketPath({});
    if (process.getuid?.() === 0) expect(plain).toBe('/run/xdbm/xdbm.sock');
    else expect(plain).toMatch(/xdbm-\d+\/xdbm\.sock$/);
  });

  it('alert rules: the 4 seed rules; a user rule overrides by name or is added', () => {
    expect(DEFAULT_ALERT_RULES.map((r) => r.ruleName)).toEqual(['HighFailoverRate', 'LowBackendAvailability', 'HighOperationLatency', 'NoHealthyBackends']);
    const cfg = parseConfig(withSection([
      '  alert_rules:',
      '    - rule_name: HighOperationLatency',
      '      enabled: false',
      '    - rule_name: FewHealthy',
      "      condition: 'healthy_backend_count < 3'",
      '      severity: info',
      '',
    ].join('\n')));
    expect(cfg.alerts).toHaveLength(5);
    expect(cfg.alerts[2]).toEqual({ ...DEFAULT_ALERT_RULES[2], enabled: false });
    expect(cfg.alerts[4]).toEqual({ ruleName: 'FewHealthy', condition: 'healthy_backend_count < 3', severity: 'info', evaluationIntervalSec: 60, consecutiveThreshold: 1, enabled: true });
    expect(DEFAULT_ALERT_RULES[2]!.enabled).toBe(true);
  });

  it('labels: node labels are inherited, endpoint labels override', () => {
    const cfg = parseConfig(BASE.replace('      address: 10.0.0.1\n', '      address: 10.0.0.1\n      labels: { rack: r1, zone: 1 }\n')
      .replace('          connection_string: file:///srv/e1\n', '          connection_string: file:///srv/e1\n          labels: { rack: r9 }\n'));
    expect(cfg.candidateNodes[0]!.labels).toEqual({ rack: 'r1', zone: '1' });
    expect(cfg.candidateNodes[0]!.endpoints[0]!.labels).toEqual({ rack: 'r9', zone: '1' });
  });

  it('segment size accepts units', () => {
    expect(parseConfig(withSection("  wal:\n    segment_bytes: '16MiB'\n")).wal.segmentBytes).toBe(16 * 1024 * 1024);
  });
});
