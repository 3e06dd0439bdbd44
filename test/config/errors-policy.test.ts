/** Mistakes in the policy sections (selection, failover, monitoring, wal, alerts, admin) and cross-section rules. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { P, edit, issueAt, issuesFor, onlyIssue, posOf, withSection } from './helpers.js';

describe('config errors: selection_policy', () => {
  it('unknown algorithm lists the valid ones, with a did-you-mean', () => {
    const t = withSection('  selection_policy:\n    algorithm: latency_frist\n');
    const i = onlyIssue(t, `${P}.selection_policy.algorithm`, posOf(t, 'algorithm:', 'latency_frist'));
    expect(i.message).toContain("did you mean 'latency_first'?");
    expect(i.message).toContain('round_robin, latency_first, bandwidth_first, load_balanced, weighted_score');
  });

  it('weights not summing to 1: reported at weights, with the sum', () => {
    const t = withSection('  selection_policy:\n    weights:\n      latency: 0.5\n      bandwidth: 0.3\n      reliability: 0.2\n      load: 0.1\n');
    const i = onlyIssue(t, `${P}.selection_policy.weights`, posOf(t, 'weights:', 'weights'));
    expect(i.message).toContain('sum to 1.1');
  });

  it('weights summing to 1 within 1e-6 are accepted', () => {
    const t = withSection('  selection_policy:\n    weights: { latency: 0.3333333, bandwidth: 0.3333333, reliability: 0.3333334, load: 0 }\n');
    expect(parseConfig(t).selection.weights.load).toBe(0);
  });

  it('a weight out of [0,1] is reported at that weight (and no sum noise)', () => {
    const t = withSection('  selection_policy:\n    weights: { latency: 1.2, bandwidth: -0.2, reliability: 0, load: 0 }\n');
    const issues = issuesFor(t);
    expect(issues.map((i) => i.path)).toEqual([`${P}.selection_policy.weights.latency`, `${P}.selection_policy.weights.bandwidth`]);
    expect(issues[0]!.column).toBe(posOf(t, 'weights:', '1.2').column);
  });

  it('a partial weights map names the missing weights', () => {
    const t = withSection('  selection_policy:\n    weights:\n      latency: 1\n');
    const issues = issuesFor(t);
    expect(issues.map((i) => i.path).sort()).toEqual(['bandwidth', 'load', 'reliability'].map((k) => `${P}.selection_policy.weights.${k}`));
    for (const i of issues) expect({ line: i.line, column: i.column }).toEqual(posOf(t, 'weights:', 'weights'));
  });
});

describe('config errors: failover and monitoring thresholds', () => {
  it('non-positive failure_threshold', () => {
    const t = withSection('  failover:\n    failure_threshold: 0\n');
    const issues = issuesFor(t);
    const i = issueAt(issues, `${P}.failover.failure_threshold`);
    expect({ line: i.line, column: i.column }).toEqual(posOf(t, 'failure_threshold: 0', '0'));
  });

  it('non-integer recovery_threshold', () => {
    const t = withSection('  failover:\n    recovery_threshold: 2.5\n');
    const i = onlyIssue(t, `${P}.failover.recovery_threshold`, posOf(t, 'recovery_threshold', '2.5'));
    expect(i.message).toContain('whole number');
  });

  it('degraded_threshold not below failure_threshold', () => {
    const t = withSection('  failover:\n    failure_threshold: 3\n    degraded_threshold: 3\n');
    const i = onlyIssue(t, `${P}.failover.degraded_threshold`, posOf(t, 'degraded_threshold: 3', '3'));
    expect(i.message).toContain('must be below failure_threshold 3');
  });

  it('hold_down_max_ms below hold_down_base_ms', () => {
    const t = withSection('  failover:\n    hold_down_base_ms: 10000\n    hold_down_max_ms: 5000\n');
    onlyIssue(t, `${P}.failover.hold_down_max_ms`, posOf(t, 'hold_down_max_ms', '5000'));
  });

  it('non-positive interval', () => {
    const t = edit('  target_active_backends: 3\n', '  target_active_backends: 3\n  health_check_interval_ms: -5\n');
    onlyIssue(t, `${P}.health_check_interval_ms`, posOf(t, 'health_check_interval_ms', '-5'));
  });

  it('probe_timeout_ms above failover_timeout_ms', () => {
    const t = withSection('  failover:\n    failover_timeout_ms: 2000\n  monitoring:\n    probe_timeout_ms: 3000\n');
    const i = onlyIssue(t, `${P}.monitoring.probe_timeout_ms`, posOf(t, 'probe_timeout_ms', '3000'));
    expect(i.message).toContain('exceeds failover_timeout_ms 2000');
  });

  it('unknown probe type lists the valid ones', () => {
    const t = withSection('  monitoring:\n    health_check_types: [basic, perfomance]\n');
    const i = onlyIssue(t, `${P}.monitoring.health_check_types[1]`, posOf(t, 'health_check_types', 'perfomance'));
    expect(i.message).toContain("did you mean 'performance'?");
    expect(i.message).toContain('basic, performance, stress, full');
  });

  it('error rate above 1 and fail-slow ratio not above 1', () => {
    const t = withSection('  monitoring:\n    max_acceptable_error_rate: 2\n    fail_slow: { peer_ratio: 1 }\n');
    const issues = issuesFor(t);
    expect(issues.map((i) => i.path)).toEqual([`${P}.monitoring.max_acceptable_error_rate`, `${P}.monitoring.fail_slow.peer_ratio`]);
  });
});

describe('config errors: wal, failure domains, admin, alerts', () => {
  it('ack_quorum above target_active_backends', () => {
    const t = withSection('  wal:\n    ack_quorum: 4\n');
    const i = onlyIssue(t, `${P}.wal.ack_quorum`, posOf(t, 'ack_quorum', '4'));
    expect(i.message).toContain('exceeds target_active_backends 3');
  });

  it('ack_quorum below 1', () => {
    const t = withSection('  wal:\n    ack_quorum: 0\n');
    onlyIssue(t, `${P}.wal.ack_quorum`, posOf(t, 'ack_quorum', '0'));
  });

  it('etcd metadata needs endpoints; file-only keys are rejected there', () => {
    const t = withSection('  wal:\n    metadata:\n      type: etcd\n      path: /x\n');
    const issues = issuesFor(t);
    expect(issues.map((i) => i.path).sort()).toEqual([`${P}.wal.metadata.endpoints`, `${P}.wal.metadata.path`]);
  });

  it('target larger than the failure domains: 3 actives over 2 nodes', () => {
    const t = edit('    - node_id: n3\n      address: 10.0.0.3\n      endpoints:\n', '').replace('        - endpoint_id: e3', '        - endpoint_id: e2b').replace('file:///srv/e3', 'file:///srv/e2b');
    const i = onlyIssue(t, `${P}.target_active_backends`, posOf(t, 'target_active_backends', '3'));
    expect(i.message).toContain('only 2');
    expect(i.message).toContain('allow_shared_failure_domain');
  });

  it('shared failure domains allowed on request', () => {
    const t = edit('    - node_id: n3\n      address: 10.0.0.3\n      endpoints:\n', '').replace('        - endpoint_id: e3', '        - endpoint_id: e2b').replace('file:///srv/e3', 'file:///srv/e2b');
    const cfg = parseConfig(withSection('  selection_policy:\n    allow_shared_failure_domain: true\n', t));
    expect(cfg.candidateNodes).toHaveLength(2);
  });

  it('rack failure domain: unlabeled endpoints and too few racks', () => {
    const t = withSection('  selection_policy:\n    failure_domain: rack\n',
      edit('      address: 10.0.0.1\n', '      address: 10.0.0.1\n      labels: { rack: r1 }\n')
        .replace('      address: 10.0.0.2\n', '      address: 10.0.0.2\n      labels: { rack: r1 }\n'));
    const issues = issuesFor(t);
    const unl = issueAt(issues, `${P}.candidate_nodes[2].endpoints[0]`);
    expect(unl.message).toContain("has no label 'rack'");
    expect({ line: unl.line, column: unl.column }).toEqual(posOf(t, 'endpoint_id: e3', 'endpoint_id'));
    expect(issueAt(issues, `${P}.target_active_backends`).message).toContain('only 1 (r1)');
  });

  it('http listener on a non-loopback host needs a token file', () => {
    const t = withSection('  admin:\n    http: 0.0.0.0:9464\n');
    const i = onlyIssue(t, `${P}.admin.http`, posOf(t, 'http:', '0.0.0.0'));
    expect(i.message).toContain('token_file');
    const ok = parseConfig(withSection('  admin:\n    http: 0.0.0.0:9464\n    token_file: /etc/xdbm/token\n'));
    expect(ok.admin.http).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(parseConfig(withSection("  admin:\n    http: '[::1]:9464'\n")).admin.http).toEqual({ host: '::1', port: 9464 });
  });

  it('alert rule with a bad severity, a non-positive interval and an empty condition', () => {
    const t = withSection('  alert_rules:\n    - rule_name: Custom\n      condition: ""\n      severity: fatal\n      evaluation_interval_sec: 0\n');
    const issues = issuesFor(t);
    expect(issues.map((i) => i.path)).toEqual(['condition', 'severity', 'evaluation_interval_sec'].map((k) => `${P}.alert_rules[0].${k}`));
    expect(issues[1]!.message).toContain('info, warning, critical');
    expect({ line: issues[2]!.line, column: issues[2]!.column }).toEqual(posOf(t, 'evaluation_interval_sec', '0'));
  });

  it('a new alert rule needs condition and severity', () => {
    const t = withSection('  alert_rules:\n    - rule_name: Custom\n');
    const issues = issuesFor(t);
    expect(issues.map((i) => i.path)).toEqual([`${P}.alert_rules[0].condition`, `${P}.alert_rules[0].severity`]);
  });
});

describe('config errors: all at once', () => {
  it('reports every mistake of a file in one error, sorted by position', () => {
    const t = edit('  target_active_backends: 3\n', '  target_active_backends: 3\n  health_check_interval_ms: fast\n')
      .replace('    - node_id: n2', '    - node_id: n1')
      .replace('connection_string: file:///srv/e3', 'connection_string: nvme://h:0/x')
      + '  selection_policy:\n    algoritm: round_robin\n  failover:\n    degraded_threshold: 9\n  wal:\n    ack_quorum: 7\n';
    const issues = issuesFor(t);
    expect(issues.map((i) => i.path)).toEqual([
      `${P}.health_check_interval_ms`,
      `${P}.candidate_nodes[1].node_id`,
      `${P}.candidate_nodes[2].endpoints[0].connection_string`,
      `${P}.selection_policy.algoritm`,
      `${P}.failover.degraded_threshold`,
      `${P}.wal.ack_quorum`,
    ]);
    const lines = issues.map((i) => i.line!);
    expect([...lines].sort((a, b) => a - b)).toEqual(lines);
  });
});
