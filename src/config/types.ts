/**
 * The validated, normalised configuration (seed section 6.1 plus what the mission adds).
 * YAML keys are snake_case (seed format); this in-memory form is camelCase with units in names.
 * src/config/load.ts turns YAML text into this, or throws XDBM_CONFIG_INVALID with every error.
 */
import type { BackendType, ProbeKind, SelectionPolicy } from '../types.js';

/** Parsed connection string. */
export type ConnectionTarget =
  /** file:///absolute/path: a directory on a local file system. */
  | { kind: 'file'; path: string }
  /** nfs://host:/export, used through its local mount point (endpoint `mount_point`). */
  | { kind: 'nfs'; host: string; exportPath: string; mountPoint: string }
  /** block:///dev/...: a raw block device. */
  | { kind: 'block'; devicePath: string }
  /** nvme://host:port/subsysnqn[/nsid] over TCP. */
  | { kind: 'nvme'; host: string; port: number; subsysnqn: string; nsid: number };

export interface NvmeFabricsOptions {
  ctrlLossTmoS: number;
  reconnectDelayS: number;
  fastIoFailTmoS: number;
  hostnqn?: string;
}

export interface EndpointConfig {
  endpointId: string;
  type: BackendType;
  connectionString: string;
  target: ConnectionTarget;
  /** Per-endpoint weight 0..1 (seed `weight`), multiplies the score. */
  weight: number;
  /** Failure-domain labels inherited from the node and overridable here (rack, zone, ...). */
  labels: Record<string, string>;
  /** Bytes reserved for probes and warm-up. Block/NVMe: the last probeAreaBytes of the device. */
  probeAreaBytes: number;
  nvme?: NvmeFabricsOptions;
  /** File backends: deadline of one file operation (nfs default 5000; local default none). */
  ioTimeoutMs?: number;
  /** Local backends: the root must be a mount point (its disk mounted), else XDBM_NOT_MOUNTED. */
  expectMount?: boolean;
}

export interface NodeConfig {
  nodeId: string;
  address: string;
  labels: Record<string, string>;
  endpoints: EndpointConfig[];
}

export interface SelectionConfig {
  algorithm: SelectionPolicy;
  weights: { latency: number; bandwidth: number; reliability: number; load: number };
  /** Label that names the failure domain; 'node' means the node id (default). */
  failureDomain: string;
  /** Allow two actives in one failure domain when there are too few domains (default false). */
  allowSharedFailureDomain: boolean;
}

export interface FailoverConfig {
  enableAutoFailover: boolean;
  /** Consecutive failed probes that make a backend FAILED (seed: 3). */
  failureThreshold: number;
  /** Consecutive failed probes that make a HEALTHY backend DEGRADED (below failureThreshold). */
  degradedThreshold: number;
  /** Consecutive passed probes that make a FAILED/UNHEALTHY backend HEALTHY again (seed: 5). */
  recoveryThreshold: number;
  failoverTimeoutMs: number;
  enableDataMigration: boolean;
  /** Anti-flap: half-life of the decaying error count. */
  errorDecayHalfLifeMs: number;
  /** Anti-flap: first hold-down after a flap; doubles each time, capped at holdDownMaxMs. */
  holdDownBaseMs: number;
  holdDownMaxMs: number;
  /** Anti-flap: a FAILED within this long after leaving FAILED counts as a flap (default 600000). */
  flapWindowMs?: number;
}

export interface FailSlowConfig {
  enabled: boolean;
  /** A backend is fail-slow when its latency exceeds peerRatio x the median of its peers of one type. */
  peerRatio: number;
  /** ... and exceeds this absolute floor (so a 40 us vs 10 us difference never counts). */
  minLatencyUs: number;
  /** Peers of the same type needed before comparing. */
  minPeers: number;
}

export interface MonitoringConfig {
  enableDetailedMetrics: boolean;
  metricsExportIntervalMs: number;
  healthCheckTypes: ProbeKind[];
  /** Deadline for one probe task in the pool. */
  probeTimeoutMs: number;
  /** Absolute limits of the performance probe (seed MAX_ACCEPTABLE_LATENCY_US / ERROR_RATE). */
  maxAcceptableLatencyUs: number;
  maxAcceptableErrorRate: number;
  failSlow: FailSlowConfig;
}

export type MetadataStoreConfig =
  | { type: 'file'; path: string }
  | { type: 'etcd'; endpoints: string[]; prefix: string };

export interface WalConfig {
  /** Appends are acknowledged once this many actives have the entry durable (default 2). */
  ackQuorum: number;
  /** Directory name used under each file backend for log segments. */
  segmentBytes: number;
  metadata: MetadataStoreConfig;
}

export type AlertSeverity = 'info' | 'warning' | 'critical';

export interface AlertRuleConfig {
  ruleName: string;
  /** Expression over metric names, e.g. `overall_availability < 0.7` (parsed, never eval'd). */
  condition: string;
  severity: AlertSeverity;
  evaluationIntervalSec: number;
  consecutiveThreshold: number;
  enabled: boolean;
}

export interface AdminConfig {
  /** Unix socket path of the admin API (mode 0600). */
  socketPath: string;
  /** Optional HTTP listener host:port; loopback by default when set. */
  http?: { host: string; port: number };
  /** Bearer token file for HTTP endpoints other than /metrics. */
  tokenFile?: string;
}

export interface ManagerConfig {
  targetActiveBackends: number;
  healthCheckIntervalMs: number;
  candidateNodes: NodeConfig[];
  selection: SelectionConfig;
  failover: FailoverConfig;
  monitoring: MonitoringConfig;
  wal: WalConfig;
  alerts: AlertRuleConfig[];
  admin: AdminConfig;
  /** Absolute path of the file this came from, when it came from a file. */
  sourcePath?: string;
}
