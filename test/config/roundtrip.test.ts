/** configToYaml -> parseConfig gives an equal config; configFromObject validates plain objects the same way. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isXdbmError } from '../../src/errors.js';
import { configFromObject, loadConfigFile, parseConfig, validateManagerConfig } from '../../src/config/load.js';
import { configToObject, configToYaml } from '../../src/config/serialize.js';
import { formatConfigIssues, issuesOf } from '../../src/config/issues.js';
import type { ManagerConfig } from '../../src/config/types.js';
import { BASE, P, issuesFor } from './helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

function withoutSource(cfg: ManagerConfig): ManagerConfig {
  const { sourcePath: _drop, ...rest } = cfg;
  return rest;
}

const RICH = `x-nvme: &nvme { ctrl_loss_tmo_s: 30, reconnect_delay_s: 5, fast_io_fail_tmo_s: 0, hostnqn: "nqn.2014-08.org.nvmexpress:uuid:abc" }
dynamic_backend_manager:
  target_active_backends: 2
  health_check_interval_ms: 750
  candidate_nodes:
    - node_id: a
      address: "fd00::1"
      labels: { zone: z1, rack: "7" }
      endpoints:
        - endpoint_id: a-nv
          type: nvmeof
          connection_string: nvme://[fd00::1]:4420/nqn.2024-01.io.xdbm:a/3
          weight: 0.7
          nvme: *nvme
          probe_area_mb: 16
        - endpoint_id: a-nfs
          type: nfs
          connection_string: nfs://filer:/exports/a
          mount_point: /mnt/custom/a
          labels: { zone: z9 }
    - node_id: b
      address: host-b.example
      labels: { zone: z2 }
      endpoints:
        - endpoint_id: b-blk
          type: block
          connection_string: block:///dev/loop3
        - endpoint_id: b-dir
          type: local
          connection_string: file:rel/b
  selection_policy:
    algorithm: latency_first
    weights: { latency: 0.25, bandwidth: 0.25, reliability: 0.25, load: 0.25 }
    failure_domain: zone
  failover:
    failure_threshold: 4
    degraded_threshold: 2
    hold_down_max_ms: 60000
  monitoring:
    health_check_types: [full, basic]
    probe_timeout_ms: 700
    fail_slow: { enabled: false, peer_ratio: 2.5 }
  wal:
    ack_quorum: 1
    segment_bytes: 8MiB
    metadata: { type: etcd, endpoints: ["http://127.0.0.1:2379", "10.0.0.9:2379"], prefix: /xdbm/test/ }
  alert_rules:
    - { rule_name: NoHealthyBackends, severity: warning }
    - { rule_name: Mine, condition: "failed_failovers > 0", severity: critical, evaluation_interval_sec: 5, consecutive_threshold: 2, enabled: false }
  admin:
    socket_path: run/xdbm.sock
    http: "[::]:9464"
    token_file: /etc/xdbm/token
`;

describe('configToYaml round trip', () => {
  it('seed sample and default.yaml round trip to equal configs', async () => {
    for (const f of ['examples/seed-sample.yaml', 'config/default.yaml']) {
      const cfg = await loadConfigFile(path.join(ROOT, f));
      const again = parseConfig(configToYaml(cfg), 'saved.yaml', { baseDir: '/somewhere/else' });
      expect(again).toEqual(withoutSource(cfg));
    }
  });

  it('a config using every optional key round trips, wherever it is saved', () => {
    const cfg = parseConfig(RICH, 'rich.yaml', { baseDir: '/opt/x' });
    expect(cfg.candidateNodes[0]!.endpoints[1]!.labels).toEqual({ zone: 'z9', rack: '7' });
    expect(cfg.candidateNodes[1]!.endpoints[1]!.connectionString).toBe('file:///opt/x/rel/b');
    expect(cfg.admin).toEqual({ socketPath: '/opt/x/run/xdbm.sock', http: { host: '::', port: 9464 }, tokenFile: '/etc/xdbm/token' });
    const yaml = configToYaml(cfg);
    expect(yaml.startsWith('# xdbm configuration')).toBe(true);
    expect(parseConfig(yaml, 'saved.yaml', { baseDir: '/elsewhere' })).toEqual(cfg);
  });
});

describe('configFromObject', () => {
  it('takes the YAML shape as a plain object, wrapped or not', () => {
    const obj = {
      target_active_backends: 1,
      candidate_nodes: [{ node_id: 'n', address: '127.0.0.1', endpoints: [{ endpoint_id: 'e', type: 'local', connection_string: 'file:///tmp/e' }] }],
    };
    const a = configFromObject(obj);
    const b = configFromObject({ dynamic_backend_manager: obj });
    expect(a).toEqual(b);
    expect(a.candidateNodes[0]!.endpoints[0]!.target).toEqual({ kind: 'file', path: '/tmp/e' });
  });

  it('reports the same issues as YAML, without positions', () => {
    const cfg = parseConfig(BASE);
    const obj = configToObject(cfg) as { dynamic_backend_manager: Record<string, unknown> };
    obj.dynamic_backend_manager['target_active_backends'] = 0;
    (obj.dynamic_backend_manager['failover'] as Record<string, unknown>)['failure_treshold'] = 2;
    let err: unknown;
    try {
      configFromObject(obj);
    } catch (e) {
      err = e;
    }
    expect(isXdbmError(err, ErrorCode.CONFIG_INVALID)).toBe(true);
    const issues = issuesOf(err);
    expect(issues.map((i) => i.path)).toEqual([`${P}.target_active_backends`, `${P}.failover.failure_treshold`]);
    expect(issues.every((i) => i.line === undefined)).toBe(true);
    expect(formatConfigIssues(err).split('\n')[1]).toMatch(/^dynamic_backend_manager\.failover\.failure_treshold: unknown key/);
  });

  it('rejects what is not a mapping', () => {
    expect(() => configFromObject([1, 2])).toThrow(expect.objectContaining({ code: ErrorCode.CONFIG_INVALID }));
  });

  it('validateManagerConfig catches an in-code edit that breaks a rule', () => {
    const cfg = parseConfig(BASE);
    expect(validateManagerConfig(cfg)).toEqual(cfg);
    const broken: ManagerConfig = { ...cfg, wal: { ...cfg.wal, ackQuorum: 5 } };
    expect(() => validateManagerConfig(broken)).toThrow(expect.objectContaining({ code: ErrorCode.CONFIG_INVALID }));
  });
});

describe('formatConfigIssues', () => {
  it('prints file:line:col path: message, one per issue', () => {
    let err: unknown;
    try {
      parseConfig(BASE.replace('target_active_backends: 3', 'target_active_backends: x'), 'my.yaml');
    } catch (e) {
      err = e;
    }
    expect(formatConfigIssues(err)).toBe("my.yaml:2:27 dynamic_backend_manager.target_active_backends: 'target_active_backends' must be an integer at least 1, got the string 'x'");
    expect(issuesFor(BASE.replace('target_active_backends: 3', 'target_active_backends: x'))).toHaveLength(1);
  });
});
