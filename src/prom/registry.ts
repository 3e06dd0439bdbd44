/**
 * Prometheus export (prom-client) of the seed section 8 metric set, per-backend gauges and a latency
 * histogram labelled endpoint_id / node_id / type, and the firing alerts. Names follow Prometheus
 * conventions so `promtool check metrics` passes with no lint warning: base units (seconds, not the
 * seed's _us/_ms fields, which keep their names in `xdbm stats` and alert conditions), no `_count`
 * suffix on gauges, and `_total` only on counters.
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

/** Histogram buckets for latencies in seconds: 50 us .. 1 s. */
const LATENCY_BUCKETS_SECONDS = [50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const US_PER_SECOND = 1e6;
const MS_PER_SECOND = 1e3;

/** The exported names of the seed section 8.1 fields, in the seed's order (all present on every scrape). */
export const SEED_METRIC_NAMES = [
  'xdbm_overall_availability', // overall_availability
  'xdbm_healthy_backends', // healthy_backend_count
  'xdbm_backends', // total_backend_count
  'xdbm_avg_operation_latency_seconds', // avg_operation_latency_us
  'xdbm_p99_operation_latency_seconds', // p99_operation_latency_us
  'xdbm_operations_per_second', // operations_per_second
  'xdbm_failover_events_last_hour', // failover_events_last_hour
  'xdbm_avg_failover_duration_seconds', // avg_failover_time_ms
  'xdbm_failed_failovers', // failed_failovers
  'xdbm_backends_in_state', // health_summary (promtool: a name must not contain 'summary')
] as const;

/**
 * prom-client default metrics that are gauges named `_total` (promtool: "non-counter metrics should
 * not have _total suffix"): dropped; prom-client's xdbm_nodejs_active_{handles,requests,resources}
 * gauges (by type) carry the same figures under lint-clean names.
 */
const MISNAMED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export class XdbmPromMetrics {
  readonly registry = new client.Registry();
  #g: Record<string, client.Gauge<string>> = {};
  #counters: Record<string, client.Counter<string>> = {};
  /** Last value each counter was brought to: the sources are running totals, the counter moves by the difference. */
  #counterValues = new Map<string, number>();
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
    const counter = (name: string, help: string): void => {
      this.#counters[name] = new client.Counter({ name, help, registers: [reg] });
    };
    gauge('xdbm_overall_availability', 'Share of candidate backends that are HEALTHY or DEGRADED (0..1)');
    gauge('xdbm_healthy_backends', 'Candidate backends in state HEALTHY (seed healthy_backend_count)');
    gauge('xdbm_backends', 'Candidate backends configured (seed total_backend_count)');
    gauge('xdbm_avg_operation_latency_seconds', 'Average data-path operation latency, seconds (seed avg_operation_latency_us)');
    gauge('xdbm_p99_operation_latency_seconds', 'p99 data-path operation latency, seconds (seed p99_operation_latency_us)');
    gauge('xdbm_operations_per_second', 'Data-path operations per second');
    gauge('xdbm_failover_events_last_hour', 'Failovers in the last hour');
    gauge('xdbm_avg_failover_duration_seconds', 'Average failover duration, seconds (seed avg_failover_time_ms)');
    gauge('xdbm_failed_failovers', 'Failovers that did not complete');
    counter('xdbm_failover_total', 'Failovers since start');
    gauge('xdbm_active_backends', 'Active backends now');
    gauge('xdbm_target_active_backends', 'Active backends wanted (target_active_backends)');
    counter('xdbm_operations_total', 'Data-path operations since start (successful + failed)');
    counter('xdbm_failed_operations_total', 'Failed data-path operations since start');
    counter('xdbm_health_checks_total', 'Health probes run since start');
    counter('xdbm_failed_health_checks_total', 'Health probes that failed since start');
    gauge('xdbm_self_overloaded', '1 while this process is overloaded: probe timeouts change no backend state');
    this.#healthSummary = new client.Gauge({
      name: 'xdbm_backends_in_state',
      help: 'Candidate backends by health state (seed health_summary)',
      labelNames: ['state'],
      registers: [reg],
    });
    const bg = (name: string, help: string): void => {
      this.#backend[name] = new client.Gauge({ name, help, labelNames: BACKEND_LABELS, registers: [reg] });
    };
    bg('xdbm_backend_avg_latency_seconds', 'Average probe latency of a backend, seconds');
    bg('xdbm_backend_p99_latency_seconds', 'p99 probe latency of a backend, seconds');
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
      name: 'xdbm_backend_probe_latency_seconds',
      help: 'Probe latency of each backend (one observation per metrics update), seconds',
      labelNames: BACKEND_LABELS,
      buckets: LATENCY_BUCKETS_SECONDS,
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
    if (opts.processMetrics) {
      // prom-client names them process_* and nodejs_* itself: the prefix is xdbm_, not xdbm_process_
      client.collectDefaultMetrics({ register: reg, prefix: 'xdbm_' });
      for (const name of MISNAMED_DEFAULT_METRICS) reg.removeSingleMetric(`xdbm_${name}`);
    }
  }

  /** Brings a counter to a running total (a total that went down, e.g. stats reset, restarts the counter). */
  #count(name: string, total: number): void {
    const c = this.#counters[name]!;
    const last = this.#counterValues.get(name) ?? 0;
    if (!Number.isFinite(total)) return;
    if (total < last) {
      c.reset();
      c.inc(total);
    } else if (total > last) {
      c.inc(total - last);
    }
    this.#counterValues.set(name, total);
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
    set('xdbm_healthy_backends', m.healthy_backend_count);
    set('xdbm_backends', m.total_backend_count);
    set('xdbm_avg_operation_latency_seconds', m.avg_operation_latency_us / US_PER_SECOND);
    set('xdbm_p99_operation_latency_seconds', m.p99_operation_latency_us / US_PER_SECOND);
    set('xdbm_operations_per_second', m.operations_per_second);
    set('xdbm_failover_events_last_hour', m.failover_events_last_hour);
    set('xdbm_avg_failover_duration_seconds', m.avg_failover_time_ms / MS_PER_SECOND);
    set('xdbm_failed_failovers', m.failed_failovers);
    this.#count('xdbm_failover_total', s.stats.failoverCount);
    set('xdbm_active_backends', s.stats.activeCount);
    set('xdbm_target_active_backends', s.stats.targetCount);
    this.#count('xdbm_operations_total', s.stats.successfulOperations + s.stats.failedOperations);
    this.#count('xdbm_failed_operations_total', s.stats.failedOperations);
    this.#count('xdbm_health_checks_total', s.stats.totalChecks);
    this.#count('xdbm_failed_health_checks_total', s.stats.failedChecks);
    set('xdbm_self_overloaded', s.stats.selfOverloaded ?? 0);
    const byState: Record<HealthState, number> = { HEALTHY: 0, DEGRADED: 0, UNHEALTHY: 0, FAILED: 0, UNKNOWN: 0 };
    for (const b of s.backends) byState[b.state] = (byState[b.state] ?? 0) + 1;
    for (const st of Object.values(HealthState)) this.#healthSummary.set({ state: st.toLowerCase() }, byState[st]);

    for (const g of Object.values(this.#backend)) g.reset();
    const seen = new Set<string>();
    for (const b of s.backends) {
      const labels = { endpoint_id: b.endpointId, node_id: b.nodeId, type: b.type };
      const bs = (name: string, v: number): void => this.#backend[name]!.set(labels, Number.isFinite(v) ? v : 0);
      bs('xdbm_backend_avg_latency_seconds', b.metrics.avgLatencyUs / US_PER_SECOND);
      bs('xdbm_backend_p99_latency_seconds', b.metrics.p99LatencyUs / US_PER_SECOND);
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
        this.#latencyHist.observe(labels, b.metrics.avgLatencyUs / US_PER_SECOND);
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
