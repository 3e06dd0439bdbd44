/** Read-only views the manager hands out: candidate and backend status, the selection snapshot. */
import type { StorageBackend } from './backends/backend.js';
import type { EndpointConfig, ManagerConfig, NodeConfig } from './config/types.js';
import type { HealthMonitor } from './health/monitor.js';
import type { FailoverStats } from './failover/stats.js';
import type { BackendStatus, CandidateStatus, ManagerStats } from './manager-api.js';
import type { OperationStats } from './manager-op-stats.js';
import { domainOf } from './selection/domain.js';
import { scoreCandidate } from './selection/scoring.js';
import type { CandidateView, SelectionSnapshot } from './selection/types.js';

export interface EndpointEntry {
  node: NodeConfig;
  endpoint: EndpointConfig;
  backend?: StorageBackend;
  /** Why the backend object could not be built (unknown type, bad target). */
  createError?: { code: string; message: string };
}

export function labelsOf(e: EndpointEntry): Record<string, string> {
  return { ...e.node.labels, ...e.endpoint.labels };
}

export function candidateView(e: EndpointEntry, monitor: HealthMonitor): CandidateView {
  const r = monitor.record(e.endpoint.endpointId);
  return {
    endpointId: e.endpoint.endpointId,
    nodeId: e.node.nodeId,
    type: e.endpoint.type,
    labels: labelsOf(e),
    weight: e.backend ? e.endpoint.weight : 0,
    state: r.health.state,
    consecutiveFailures: r.health.consecutiveFailures,
    metrics: monitor.metricsOf(e.endpoint.endpointId),
    holdDownUntilMs: r.flap.holdDownUntilMs,
  };
}

export function selectionSnapshot(entries: Iterable<EndpointEntry>, monitor: HealthMonitor, nowMs: number): SelectionSnapshot {
  return { nowMs, candidates: [...entries].map((e) => candidateView(e, monitor)) };
}

export function candidateStatus(e: EndpointEntry, monitor: HealthMonitor, cfg: ManagerConfig, active: boolean): CandidateStatus {
  const v = candidateView(e, monitor);
  return {
    endpointId: v.endpointId,
    nodeId: v.nodeId,
    nodeAddress: e.node.address,
    type: v.type,
    connectionString: e.endpoint.connectionString,
    state: v.state,
    active,
    weight: e.endpoint.weight,
    domain: domainOf(v, cfg.selection.failureDomain),
    score: scoreCandidate(v, cfg.selection.weights).total,
  };
}

export function backendStatus(e: EndpointEntry, monitor: HealthMonitor, cfg: ManagerConfig, active: boolean): BackendStatus {
  const id = e.endpoint.endpointId;
  const r = monitor.record(id);
  return {
    ...candidateStatus(e, monitor, cfg, active),
    metrics: monitor.metricsOf(id),
    consecutiveFailures: r.health.consecutiveFailures,
    consecutiveSuccesses: r.health.consecutiveSuccesses,
    decayedErrors: monitor.decayedErrors(id),
    flapCount: r.flap.flapCount,
    holdDownUntilMs: r.flap.holdDownUntilMs,
    failSlow: r.health.failSlow,
    lastHealthCheckMs: r.health.lastCheckMs,
    ...(r.lastError ? { lastError: r.lastError } : e.createError ? { lastError: { ...e.createError, atMs: 0 } } : {}),
    ...(r.healthInfo ? { health: r.healthInfo } : {}),
  };
}

export interface StatsSources {
  entries: string[];
  monitor?: HealthMonitor;
  failover: FailoverStats;
  ops: OperationStats;
  activeCount: number;
  targetCount: number;
}

export function managerStats(x: StatsSources): ManagerStats {
  const m = x.monitor;
  const count = { HEALTHY: 0, DEGRADED: 0, UNHEALTHY: 0, FAILED: 0, UNKNOWN: 0 };
  for (const id of x.entries) count[m?.record(id).health.state ?? 'UNKNOWN']++;
  return {
    successfulOperations: x.ops.successfulOperations,
    failedOperations: x.ops.failedOperations,
    ...x.failover.snapshot(Date.now()),
    ...x.ops.latency(),
    totalChecks: m?.totalChecks ?? 0,
    failedChecks: m?.failedChecks ?? 0,
    lastFullScanMs: m?.lastFullScanMs ?? 0,
    activeCount: x.activeCount,
    targetCount: x.targetCount,
    healthy: count.HEALTHY,
    degraded: count.DEGRADED,
    unhealthy: count.UNHEALTHY,
    failed: count.FAILED,
    unknown: count.UNKNOWN,
    total: x.entries.length,
    selfOverloaded: m?.selfOverload().overloaded ? 1 : 0,
    overloadSuppressedResults: m?.selfOverload().suppressedResults ?? 0,
  };
}
