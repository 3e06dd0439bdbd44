/**
 * Shared vocabulary of xdbm. Numeric codes match seed section 2.2 (backend_health_state_t,
 * backend_selection_policy_t, health_check_type_t) so they can be stored in SharedArrayBuffer slots.
 */

/** Health of one backend endpoint (seed 2.2 backend_health_state_t). */
export const HealthState = {
  /** Probes pass and latency is in line with its peers. */
  HEALTHY: 'HEALTHY',
  /** Working but slow (fail-slow against peers) or just recovering; loses preference in selection. */
  DEGRADED: 'DEGRADED',
  /** Failing probes below the failure threshold, or held down by anti-flap. */
  UNHEALTHY: 'UNHEALTHY',
  /** failure_threshold consecutive failures, or a hard data-path error; triggers failover if active. */
  FAILED: 'FAILED',
  /** Never probed yet, or its probe worker crashed: no opinion. */
  UNKNOWN: 'UNKNOWN',
} as const;
export type HealthState = (typeof HealthState)[keyof typeof HealthState];

export const HEALTH_STATE_CODE: Readonly<Record<HealthState, number>> = {
  HEALTHY: 1,
  DEGRADED: 2,
  UNHEALTHY: 3,
  FAILED: 4,
  UNKNOWN: 5,
};
export const HEALTH_STATE_BY_CODE: readonly HealthState[] = [
  'UNKNOWN', 'HEALTHY', 'DEGRADED', 'UNHEALTHY', 'FAILED', 'UNKNOWN',
];

export const BACKEND_TYPES = ['nvmeof', 'nfs', 'local', 'block'] as const;
export type BackendType = (typeof BACKEND_TYPES)[number];

export const SELECTION_POLICIES = [
  'round_robin',
  'latency_first',
  'bandwidth_first',
  'load_balanced',
  'weighted_score',
] as const;
export type SelectionPolicy = (typeof SELECTION_POLICIES)[number];

export const PROBE_KINDS = ['basic', 'performance', 'stress', 'full'] as const;
export type ProbeKind = (typeof PROBE_KINDS)[number];

/** Performance metrics of one endpoint (seed 2.2 backend_endpoint.metrics), units in names. */
export interface EndpointMetrics {
  avgLatencyUs: number;
  p50LatencyUs: number;
  p99LatencyUs: number;
  bandwidthMBps: number;
  iops: number;
  /** 0..1 over the last probe window. */
  errorRate: number;
  /** In-flight data-path operations / queue depth as a 0..1 load figure. */
  load: number;
  /** Date.now() of the last update, 0 when never. */
  lastUpdateMs: number;
}

export const EMPTY_METRICS: Readonly<EndpointMetrics> = Object.freeze({
  avgLatencyUs: 0,
  p50LatencyUs: 0,
  p99LatencyUs: 0,
  bandwidthMBps: 0,
  iops: 0,
  errorRate: 0,
  load: 0,
  lastUpdateMs: 0,
});

/** What getActiveBackends() returns for each active endpoint. */
export interface ActiveBackendInfo {
  endpointId: string;
  nodeId: string;
  type: BackendType;
  state: HealthState;
}
