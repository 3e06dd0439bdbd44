/**
 * Prometheus export (prom-client) of the seed section 8 metric set, per-backend gauges and a latency
 * histogram labelled endpoint_id / node_id / type, and the firing alerts. Each metric name is the
 * seed's monitoring_metrics_t field with an `xdbm_` prefix; units are in the names.
 */
import client from 'prom-client';
import type { AlertRuleState } from '../alerts/evaluator.js';
import type { MonitoringMetrics } from '../alerts/monitoring.js';
import type { BackendStatus, ManagerStats } from '../manager-api.js';
import { HEALTH_STATE_CODE, HealthState } from '../types.js';

export interface PromSnapshot {
  monitoring: MonitoringMetrics;
  stats: ManagerStats;
  backends: BackendStatus[];
  alerts: AlertRuleState[];
}

const BACKEND_LABELS = ['endpoint_id', 'node_id', 'type'] as const;

/** Histogram buckets for latencies in microseconds: 50 us .. 1 s. */
const LATENCY_BUCKETS_US = [50, 100, 250, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000];

/** The seed section 8.1 field -> exported metric name (all present on every scrape). */
export const SEED_METRIC_NAMES = [
  'xdbm_overall_availability',
  'xdbm_healthy_backend_count',
  'xdbm_total_backend_count',
  'xdbm_avg_operation_latency_us',
  'xdbm_p99_operation_latency_us',
  'xdbm_operations_per_second',
  'xdbm_failover_events_last_hour',
  'xdbm_avg_failover_time_ms',
  'xdbm_failed_failovers',
  'xdbm_health_summary',
] as const;

export class XdbmPromMetrics {
  readonly registry = new client.Registry();
  #g: Record<string, client.Gauge<string>> = {};
  #backend: Record<string, client.Gauge<(typeof BACKEND_LABELS)[number]>> = {};
  #latencyHist: client.Histogram<(typeof BACKEND_LABELS)[number]>;
  #alertFiring: client.Gauge<'rule' | 'severity'>;
  #walUnder: client.Gauge<'log'>;
  #healthSummary: client.Gauge<'state'>;
  #lastObserved = new Map<string, number>();
  #histLabels = new Map<string, { endpoint_id: string; node_id: string; type: string }>();

  constructor(opts: { processMetrics?: boolean } = {}) {
    const reg = this.registry;
    const gauge = (name: string, help: string): void => {
      this.#g[name] = new client.Gauge({ name, help, registers: [reg] });
    };
    gauge('xdbm_overall_availability', 'Share of candidate backends that are HEALTHY or DEGRADED (0..1)');
    gauge('xdbm_healthy_backend_count', 'Candidate backends in state HEALTHY');
    gauge('xdbm_total_backend_count', 'Candidate backends configured');
    gauge('xdbm_avg_operation_latency_us', 'Average data-path operation latency, microseconds');
    gauge('xdbm_p99_operation_latency_us', 'p99 data-path operation latency, microseconds');
    gauge('xdbm_operations_per_second', 'Data-path operations per second');
    gauge('xdbm_failover_events_last_hour', 'Failovers in the last hour');
    gauge('xdbm_avg_failover_time_ms', 'Average failover duration, milliseconds');
    gauge('xdbm_failed_failovers', 'Failovers that did not complete');
    gauge('xdbm_failover_total', 'Failovers since start');
    gauge('xdbm_active_backend_count', 'Active backends now');
    gauge('xdbm_target_active_backends', 'Active backends wanted (target_active_backends)');
    gauge('xdbm_operations_total', 'Data-path operations since start (successful + failed)');
    gauge('xdbm_failed_operations_total', 'Failed data-path operations since start');
    gauge('xdbm_health_checks_total', 'Health probes run since start');
    gauge('xdbm_failed_health_checks_total', 'Health probes that failed since start');
    this.#healthSummary = new client.Gauge({
      name: 'xdbm_health_summary',
      help: 'Candidate backends by health state (seed health_summary)',
      labelNames: ['state'],
      registers: [reg],
    });
    const bg = (name: string, help: string): void => {
      this.#backend[name] = new client.Gauge({ name, help, labelNames: BACKEND_LABELS, registers: [reg] });
    };
    bg('xdbm_backend_avg_latency_us', 'Average probe latency of a backend, microseconds');
    bg('xdbm_backend_p99_latency_us', 'p99 probe latency of a backend, microseconds');
    bg('xdbm_backend_bandwidth_mbps', 'Measured bandwidth of a backend, MB/s');
    bg('xdbm_backend_iops', 'Measured IOPS of a backend');
    bg('xdbm_backend_error_ratio', 'Error ratio of a backend over the last probe window (0..1)');
    bg('xdbm_backend_load_ratio', 'Load of a backend (0..1)');
    bg('xdbm_backend_state', 'Health state code of a backend: 1 HEALTHY, 2 DEGRADED, 3 UNHEALTHY, 4 FAILED, 5 UNKNOWN');
    bg('xdbm_backend_active', '1 when the backend is in the active set');
    bg('xdbm_backend_weight', 'Configured weight of a backend (0..1)');
    bg('xdbm_backend_score', 'Selection score of a backend');
    bg('xdbm_backend_consecutive_failures', 'Consecutive failed probes of a backend');
    this.#latencyHist = new client.Histogram({
      name: 'xdbm_backend_probe_latency_us',
      help: 'Probe latency of each backend (one observation per metrics update), microseconds',
      labelNames: BACKEND_LABELS,
      buckets: LATENCY_BUCKETS_US,
      registers: [reg],
    });
    this.#alertFiring = new client.Gauge({
      name: 'xdbm_alert_firing',
      help: 'Alert rules currently firing (1); rules not firing are absent',
      labelNames: ['rule', 'severity'],
      registers: [reg],
    });
    this.#walUnder = new client.Gauge({
      name: 'xdbm_wal_under_replicated_entries',
      help: 'Acknowledged entries of a log with fewer than ack_quorum copies on reachable, healthy backends (re-replication brings it back to 0)',
      labelNames: ['log'],
      registers: [reg],
    });
    if (opts.processMetrics) client.collectDefaultMetrics({ register: reg, prefix: 'xdbm_process_' });
  }

  /** Per-log under-replicated entries (from the metadata store; refreshed apart from update()). */
  updateWal(views: readonly { log: string; underReplicatedEntries: number }[]): void {
    this.#walUnder.reset();
    for (const v of views) this.#walUnder.set({ log: v.log }, v.underReplicatedEntries);
  }

  update(s: PromSnapshot): void {
    const m = s.monitoring;
    const set = (name: string, v: number): void => this.#g[name]!.set(Number.isFinite(v) ? v : 0);
    set('xdbm_overall_availability', m.overall_availability);
    set('xdbm_healthy_backend_count', m.healthy_backend_count);
    set('xdbm_total_backend_count', m.total_backend_count);
    set('xdbm_avg_operation_latency_us', m.avg_operation_latency_us);
    set('xdbm_p99_operation_latency_us', m.p99_operation_latency_us);
    set('xdbm_operations_per_second', m.operations_per_second);
    set('xdbm_failover_events_last_hour', m.failover_events_last_hour);
    set('xdbm_avg_failover_time_ms', m.avg_failover_time_ms);
    set('xdbm_failed_failovers', m.failed_failovers);
    set('xdbm_failover_total', s.stats.failoverCount);
    set('xdbm_active_backend_count', s.stats.activeCount);
    set('xdbm_target_active_backends', s.stats.targetCount);
    set('xdbm_operations_total', s.stats.successfulOperations + s.stats.failedOperations);
    set('xdbm_failed_operations_total', s.stats.failedOperations);
    set('xdbm_health_checks_total', s.stats.totalChecks);
    set('xdbm_failed_health_checks_total', s.stats.failedChecks);
    const byState: Record<HealthState, number> = { HEALTHY: 0, DEGRADED: 0, UNHEALTHY: 0, FAILED: 0, UNKNOWN: 0 };
    for (const b of s.backends) byState[b.state] = (byState[b.state] ?? 0) + 1;
    for (const st of Object.values(HealthState)) this.#healthSummary.set({ state: st.toLowerCase() }, byState[st]);

    for (const g of Object.values(this.#backend)) g.reset();
    const seen = new Set<string>();
    for (const b of s.backends) {
      const labels = { endpoint_id: b.endpointId, node_id: b.nodeId, type: b.type };
      const bs = (name: string, v: number): void => this.#backend[name]!.set(labels, Number.isFinite(v) ? v : 0);
      bs('xdbm_backend_avg_latency_us', b.metrics.avgLatencyUs);
      bs('xdbm_backend_p99_latency_us', b.metrics.p99LatencyUs);
      bs('xdbm_backend_bandwidth_mbps', b.metrics.bandwidthMBps);
      bs('xdbm_backend_iops', b.metrics.iops);
      bs('xdbm_backend_error_ratio', b.metrics.errorRate);
      bs('xdbm_backend_load_ratio', b.metrics.load);
      bs('xdbm_backend_state', HEALTH_STATE_CODE[b.state] ?? 5);
      bs('xdbm_backend_active', b.active ? 1 : 0);
      bs('xdbm_backend_weight', b.weight);
      bs('xdbm_backend_score', b.score);
      bs('xdbm_backend_consecutive_failures', b.consecutiveFailures);
      seen.add(b.endpointId);
      const at = b.metrics.lastUpdateMs;
      if (at > 0 && this.#lastObserved.get(b.endpointId) !== at) {
        this.#lastObserved.set(b.endpointId, at);
        this.#histLabels.set(b.endpointId, labels);
        this.#latencyHist.observe(labels, b.metrics.avgLatencyUs);
      }
    }
    for (const [id, labels] of this.#histLabels) {
      if (seen.has(id)) continue;
      // A backend removed from the config: its histogram series go too.
      this.#latencyHist.remove(labels);
      this.#histLabels.delete(id);
      this.#lastObserved.delete(id);
    }

    this.#alertFiring.reset();
    for (const a of s.alerts) if (a.firing) this.#alertFiring.set({ rule: a.ruleName, severity: a.severity }, 1);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
