/**
 * The seed's monitoring_metrics_t (section 8.1), computed from the manager's stats. Alert conditions
 * are written over these names; /metrics exports them with an `xdbm_` prefix.
 */
import type { ManagerStats } from '../manager-api.js';

export interface MonitoringMetrics {
  /** Share of candidate backends that can take writes (HEALTHY or DEGRADED), 0..1; 0 with none. */
  overall_availability: number;
  healthy_backend_count: number;
  total_backend_count: number;
  avg_operation_latency_us: number;
  p99_operation_latency_us: number;
  /** Data-path operations per second since the previous sample. */
  operations_per_second: number;
  failover_events_last_hour: number;
  avg_failover_time_ms: number;
  failed_failovers: number;
  'health_summary.healthy_count': number;
  'health_summary.degraded_count': number;
  'health_summary.unhealthy_count': number;
  'health_summary.failed_count': number;
  /** Extras beyond the seed: actives now and the target, unknown-state backends. */
  active_backend_count: number;
  target_active_backends: number;
  'health_summary.unknown_count': number;
  /** 1 while this process is overloaded (the health monitor withholds state changes), else 0. */
  self_overloaded: number;
}

/** Names an alert condition may use (the seed's field names, plus short aliases of health_summary). */
export const METRIC_NAMES: ReadonlySet<string> = new Set([
  'overall_availability',
  'healthy_backend_count',
  'total_backend_count',
  'avg_operation_latency_us',
  'p99_operation_latency_us',
  'operations_per_second',
  'failover_events_last_hour',
  'avg_failover_time_ms',
  'failed_failovers',
  'health_summary.healthy_count',
  'health_summary.degraded_count',
  'health_summary.unhealthy_count',
  'health_summary.failed_count',
  'health_summary.unknown_count',
  'healthy_count',
  'degraded_count',
  'unhealthy_count',
  'failed_count',
  'unknown_count',
  'active_backend_count',
  'target_active_backends',
  'self_overloaded',
]);

/** Keeps the previous operation count so operations_per_second is a rate. */
export class MonitoringSampler {
  #prevOps?: number;
  #prevAtMs?: number;
  #lastRate = 0;

  sample(stats: ManagerStats, nowMs: number): MonitoringMetrics {
    const ops = stats.successfulOperations + stats.failedOperations;
    if (this.#prevOps !== undefined && this.#prevAtMs !== undefined && nowMs > this.#prevAtMs) {
      const elapsedS = (nowMs - this.#prevAtMs) / 1000;
      // Only refresh the rate over a window of at least 500 ms so two close samples do not spike it.
      if (elapsedS >= 0.5) {
        this.#lastRate = Math.max(0, ops - this.#prevOps) / elapsedS;
        this.#prevOps = ops;
        this.#prevAtMs = nowMs;
      }
    } else {
      this.#prevOps = ops;
      this.#prevAtMs = nowMs;
    }
    return toMonitoringMetrics(stats, this.#lastRate);
  }
}

export function toMonitoringMetrics(stats: ManagerStats, opsPerSecond: number): MonitoringMetrics {
  const usable = stats.healthy + stats.degraded;
  return {
    overall_availability: stats.total > 0 ? usable / stats.total : 0,
    healthy_backend_count: stats.healthy,
    total_backend_count: stats.total,
    avg_operation_latency_us: stats.avgOperationLatencyUs,
    p99_operation_latency_us: stats.p99OperationLatencyUs,
    operations_per_second: opsPerSecond,
    failover_events_last_hour: stats.failoversLastHour,
    avg_failover_time_ms: stats.avgFailoverTimeMs,
    failed_failovers: stats.failedFailovers,
    'health_summary.healthy_count': stats.healthy,
    'health_summary.degraded_count': stats.degraded,
    'health_summary.unhealthy_count': stats.unhealthy,
    'health_summary.failed_count': stats.failed,
    'health_summary.unknown_count': stats.unknown,
    active_backend_count: stats.activeCount,
    target_active_backends: stats.targetCount,
    self_overloaded: stats.selfOverloaded ?? 0,
  };
}

/** Flat name -> value map for the expression evaluator, including the short aliases. */
export function metricValues(m: MonitoringMetrics): Record<string, number> {
  return {
    ...m,
    healthy_count: m['health_summary.healthy_count'],
    degraded_count: m['health_summary.degraded_count'],
    unhealthy_count: m['health_summary.unhealthy_count'],
    failed_count: m['health_summary.failed_count'],
    unknown_count: m['health_summary.unknown_count'],
  };
}
