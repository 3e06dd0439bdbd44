import { describe, expect, it } from 'vitest';
import { MonitoringSampler, metricValues, toMonitoringMetrics } from '../../src/alerts/monitoring.js';
import type { AlertRuleState } from '../../src/alerts/evaluator.js';
import type { BackendStatus, ManagerStats } from '../../src/manager-api.js';
import { SEED_METRIC_NAMES, XdbmPromMetrics } from '../../src/prom/registry.js';
import { EMPTY_METRICS } from '../../src/types.js';

const stats = (over: Partial<ManagerStats> = {}): ManagerStats => ({
  successfulOperations: 0, failedOperations: 0, failoverCount: 2, failedFailovers: 1, backendSwitches: 2,
  avgFailoverTimeMs: 12, p99FailoverTimeMs: 20, failoversLastHour: 2, avgOperationLatencyUs: 300, p99OperationLatencyUs: 900,
  totalChecks: 10, failedChecks: 1, lastFullScanMs: 4, activeCount: 3, targetCount: 3,
  healthy: 3, degraded: 1, unhealthy: 0, failed: 1, unknown: 0, total: 5, selfOverloaded: 0, overloadSuppressedResults: 0, ...over,
});

const backend = (id: string, node: string, over: Partial<BackendStatus> = {}): BackendStatus => ({
  endpointId: id, nodeId: node, nodeAddress: '127.0.0.1', type: 'local', connectionString: 'file:///x', state: 'HEALTHY',
  active: true, weight: 1, domain: node, score: 0.5, metrics: { ...EMPTY_METRICS, avgLatencyUs: 700, lastUpdateMs: 1 },
  consecutiveFailures: 0, consecutiveSuccesses: 3, decayedErrors: 0, flapCount: 0, holdDownUntilMs: 0, failSlow: false,
  lastHealthCheckMs: 1, ...over,
});

const firing = (ruleName: string, severity: 'critical' | 'warning' | 'info', on: boolean): AlertRuleState => ({
  ruleName, condition: 'x > 1', severity, enabled: true, evaluationIntervalSec: 1, consecutiveThreshold: 1,
  firing: on, consecutive: on ? 1 : 0, consecutiveClear: 0, lastEvaluatedMs: 1, lastResult: on, firingSinceMs: on ? 1 : 0,
});

describe('monitoring metrics (seed monitoring_metrics_t)', () => {
  it('derives availability from HEALTHY+DEGRADED over total, and 0 with no backends', () => {
    expect(toMonitoringMetrics(stats(), 0).overall_availability).toBeCloseTo(4 / 5);
    expect(toMonitoringMetrics(stats({ total: 0, healthy: 0, degraded: 0 }), 0).overall_availability).toBe(0);
    const v = metricValues(toMonitoringMetrics(stats(), 0));
    expect(v.failed_count).toBe(1);
    expect(v['health_summary.failed_count']).toBe(1);
  });

  it('operations_per_second is a rate between samples', () => {
    const s = new MonitoringSampler();
    expect(s.sample(stats({ successfulOperations: 0 }), 0).operations_per_second).toBe(0);
    expect(s.sample(stats({ successfulOperations: 500, failedOperations: 100 }), 2000).operations_per_second).toBe(300);
    // a sample 100 ms later does not spike the rate
    expect(s.sample(stats({ successfulOperations: 700, failedOperations: 100 }), 2100).operations_per_second).toBe(300);
  });
});

describe('prometheus export', () => {
  it('exports the seed set, per-backend series with labels, and firing alerts only', async () => {
    const p = new XdbmPromMetrics();
    const snap = {
      monitoring: toMonitoringMetrics(stats(), 42),
      stats: stats(),
      backends: [backend('a', 'n1'), backend('b', 'n2', { state: 'FAILED', active: false })],
      alerts: [firing('NoHealthyBackends', 'critical', true), firing('HighOperationLatency', 'warning', false)],
    };
    p.update(snap);
    const text = await p.text();
    for (const n of SEED_METRIC_NAMES) expect(text).toMatch(new RegExp(`^${n}(\\{[^}]*\\})? `, 'm'));
    expect(text).toMatch(/^xdbm_operations_per_second 42$/m);
    expect(text).toMatch(/^xdbm_failed_failovers 1$/m);
    expect(text).toMatch(/^xdbm_backends_in_state\{state="failed"\} 1$/m);
    expect(text).toMatch(/^xdbm_backend_state\{endpoint_id="b",node_id="n2",type="local"\} 4$/m);
    expect(text).toMatch(/^xdbm_backend_active\{endpoint_id="b",node_id="n2",type="local"\} 0$/m);
    expect(text).toMatch(/^xdbm_alert_firing\{rule="NoHealthyBackends",severity="critical"\} 1$/m);
    expect(text).not.toMatch(/xdbm_alert_firing\{rule="HighOperationLatency"/);
    expect(text).toMatch(/^xdbm_backend_probe_latency_seconds_count\{endpoint_id="a",node_id="n1",type="local"\} 1$/m);

    // same metrics timestamp: no second observation; a removed backend and a resolved alert disappear
    p.update({ ...snap, backends: [backend('a', 'n1')], alerts: [firing('NoHealthyBackends', 'critical', false)] });
    const t2 = await p.text();
    expect(t2).toMatch(/^xdbm_backend_probe_latency_seconds_count\{endpoint_id="a",node_id="n1",type="local"\} 1$/m);
    expect(t2).not.toMatch(/endpoint_id="b"[^\n]*\} \d/);
    expect(t2).not.toMatch(/^xdbm_alert_firing\{/m);
  });
});
