/**
 * The public shape of BackendManager (seed 6.2 dynamic_backend_api_t), which the WAL, the daemon and
 * embedders rely on. src/manager.ts implements it.
 */
import type { StorageBackend } from './backends/backend.js';
import type { ManagerConfig, NodeConfig } from './config/types.js';
import type { RemovalOptions } from './wal/log-registry.js';
import type { LogReplicationView } from './wal/replication-status.js';
import type { ActiveBackendInfo, BackendType, EndpointMetrics, HealthState } from './types.js';

export interface CandidateStatus {
  endpointId: string;
  nodeId: string;
  nodeAddress: string;
  type: BackendType;
  connectionString: string;
  state: HealthState;
  active: boolean;
  weight: number;
  /** Failure domain value (node id by default). */
  domain: string;
  score: number;
}

export interface BackendStatus extends CandidateStatus {
  metrics: EndpointMetrics;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  /** Anti-flap: decayed error count, flaps counted, hold-down until (Date.now() ms, 0 if none). */
  decayedErrors: number;
  flapCount: number;
  holdDownUntilMs: number;
  failSlow: boolean;
  lastHealthCheckMs: number;
  lastError?: { code: string; message: string; atMs: number };
  health?: Record<string, unknown>;
}

export interface FailoverRecord {
  failedId: string;
  replacementId: string | null;
  reason: string;
  manual: boolean;
  ok: boolean;
  startedAtMs: number;
  durationMs: number;
  error?: { code: string; message: string };
}

export interface ManagerStats {
  successfulOperations: number;
  failedOperations: number;
  failoverCount: number;
  failedFailovers: number;
  backendSwitches: number;
  avgFailoverTimeMs: number;
  p99FailoverTimeMs: number;
  failoversLastHour: number;
  avgOperationLatencyUs: number;
  p99OperationLatencyUs: number;
  totalChecks: number;
  failedChecks: number;
  lastFullScanMs: number;
  activeCount: number;
  targetCount: number;
  healthy: number;
  degraded: number;
  unhealthy: number;
  failed: number;
  unknown: number;
  total: number;
}

export interface ActiveChangedEvent {
  previous: string[];
  current: string[];
  reason: string;
}

export interface StateChangedEvent {
  endpointId: string;
  from: HealthState;
  to: HealthState;
  reason: string;
}

export interface ReloadResult {
  added: string[];
  removed: string[];
  changed: string[];
}

export interface BackendManagerApi {
  readonly config: ManagerConfig;
  start(): Promise<void>;
  stop(): Promise<void>;
  getActiveBackends(): ActiveBackendInfo[];
  /** Backend instances of the actives, in active-set order (data path). */
  getActiveStorage(): StorageBackend[];
  getBackend(endpointId: string): StorageBackend | undefined;
  getCandidates(): CandidateStatus[];
  getBackendStatus(endpointId: string): BackendStatus;
  getStats(): ManagerStats;
  /** Validates whole, then applies as a diff. Rejects with XDBM_CONFIG_INVALID and keeps the old one. */
  reloadConfig(source?: string | ManagerConfig, opts?: RemovalOptions): Promise<ReloadResult>;
  saveConfig(path: string): Promise<void>;
  addCandidateNode(node: NodeConfig): Promise<void>;
  /** Refused with XDBM_DATA_AT_RISK when it would leave log entries with fewer than ackQuorum copies (see RemovalOptions). */
  removeCandidateNode(nodeId: string, opts?: RemovalOptions): Promise<void>;
  updateNodeConfig(nodeId: string, node: NodeConfig, opts?: RemovalOptions): Promise<void>;
  /** Replication of every log in the metadata store: under-replicated ranges by epoch. */
  logReplication(): Promise<LogReplicationView[]>;
  forceBackendSwitch(oldId: string, newId?: string): Promise<FailoverRecord>;
  setBackendWeight(endpointId: string, weight: number): void;
  triggerReselection(reason: string): Promise<ActiveChangedEvent | null>;
  /** Data-path detection: an I/O error or timeout seen by the WAL marks the backend suspect at once. */
  reportDataPathError(endpointId: string, error: unknown): void;
  /** Data-path operation outcome (the log calls it per member write): feeds statistics and fail-slow. */
  recordDataPathOp(endpointId: string, latencyUs: number, ok: boolean, bytes?: number): void;
  on(event: 'active-changed', fn: (e: ActiveChangedEvent) => void): this;
  on(event: 'state-changed', fn: (e: StateChangedEvent) => void): this;
  on(event: 'failover', fn: (e: FailoverRecord) => void): this;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  off(event: 'active-changed' | 'state-changed' | 'failover', fn: (...args: any[]) => void): this;
}
