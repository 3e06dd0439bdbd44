/**
 * Default values of every optional configuration key. Seed values (section 6.1) where the seed has
 * one; the rest are documented here and in docs of the YAML format (config/default.yaml shows them).
 */
import os from 'node:os';
import path from 'node:path';
import type { AlertRuleConfig } from './types.js';
import type { ProbeKind, SelectionPolicy } from '../types.js';

export const DEFAULTS = {
  targetActiveBackends: 3,
  healthCheckIntervalMs: 5000,
  endpoint: {
    weight: 1.0,
    probeAreaMb: 4,
    /** NFS mount point when `mount_point` is not given: `/mnt/xdbm/<endpoint_id>`. */
    mountRoot: '/mnt/xdbm',
  },
  nvme: {
    ctrlLossTmoS: 10,
    reconnectDelayS: 2,
    fastIoFailTmoS: 2,
  },
  /** NVMe/TCP well-known port, used when a nvme:// connection string gives none. */
  nvmePort: 4420,
  /** Namespace id when a nvme:// connection string gives none. */
  nvmeNsid: 1,
  selection: {
    algorithm: 'weighted_score' as SelectionPolicy,
    weights: { latency: 0.4, bandwidth: 0.3, reliability: 0.2, load: 0.1 },
    failureDomain: 'node',
    allowSharedFailureDomain: false,
  },
  failover: {
    enableAutoFailover: true,
    failureThreshold: 3,
    recoveryThreshold: 5,
    failoverTimeoutMs: 30000,
    enableDataMigration: false,
    degradedThreshold: 1,
    errorDecayHalfLifeMs: 60000,
    holdDownBaseMs: 5000,
    holdDownMaxMs: 300000,
    /** A backend failing again within this long of recovering has flapped (escalates its hold-down). */
    flapWindowMs: 600000,
  },
  monitoring: {
    enableDetailedMetrics: true,
    metricsExportIntervalMs: 10000,
    healthCheckTypes: ['basic', 'performance'] as ProbeKind[],
    maxAcceptableLatencyUs: 100000,
    maxAcceptableErrorRate: 0.1,
    failSlow: { enabled: true, peerRatio: 2.5, minLatencyUs: 1000, minPeers: 2 },
  },
  wal: {
    ackQuorum: 2,
    segmentBytes: 64 * 1024 * 1024,
    /** Metadata file when none is given: `<config dir>/data/xdbm-meta.json`. */
    metadataFile: 'data/xdbm-meta.json',
    etcdPrefix: '/xdbm/',
  },
  alert: {
    evaluationIntervalSec: 60,
    consecutiveThreshold: 1,
  },
} as const;

/**
 * Probe deadline when `probe_timeout_ms` is not given: the health-check interval, kept within
 * [1000, 5000] ms. A probe should end before the next round (so rounds do not pile up: a backend
 * whose probe is still running skips a round), yet a performance probe (100 x 4 KiB synced writes)
 * on NFS needs several hundred ms, so very short intervals do not shrink it below 1 s.
 */
export function defaultProbeTimeoutMs(healthCheckIntervalMs: number): number {
  return Math.min(5000, Math.max(1000, healthCheckIntervalMs));
}

/** ack_quorum default: 2 (BookKeeper's 3/2/2), never above the target. */
export function defaultAckQuorum(targetActiveBackends: number): number {
  return Math.max(1, Math.min(DEFAULTS.wal.ackQuorum, targetActiveBackends));
}

/**
 * Admin socket when `admin.socket_path` is not given:
 * `$XDG_RUNTIME_DIR/xdbm/xdbm.sock` when XDG_RUNTIME_DIR is set, else `/run/xdbm/xdbm.sock` for root,
 * else `<tmpdir>/xdbm-<uid>/xdbm.sock`.
 */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env['XDG_RUNTIME_DIR'];
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'xdbm', 'xdbm.sock');
  const uid = typeof process.getuid === 'function' ? process.getuid() : -1;
  if (uid === 0) return '/run/xdbm/xdbm.sock';
  return path.join(os.tmpdir(), `xdbm-${uid < 0 ? 'user' : uid}`, 'xdbm.sock');
}

/** The four alert rules of seed section 8, exactly. User rules override these by name or add to them. */
export const DEFAULT_ALERT_RULES: readonly Readonly<AlertRuleConfig>[] = Object.freeze([
  {
    ruleName: 'HighFailoverRate',
    condition: 'failover_events_last_hour > 10',
    severity: 'warning',
    evaluationIntervalSec: 60,
    consecutiveThreshold: 2,
    enabled: true,
  },
  {
    ruleName: 'LowBackendAvailability',
    condition: 'overall_availability < 0.7',
    severity: 'critical',
    evaluationIntervalSec: 30,
    consecutiveThreshold: 1,
    enabled: true,
  },
  {
    ruleName: 'HighOperationLatency',
    condition: 'p99_operation_latency_us > 10000',
    severity: 'warning',
    evaluationIntervalSec: 120,
    consecutiveThreshold: 3,
    enabled: true,
  },
  {
    ruleName: 'NoHealthyBackends',
    condition: 'healthy_backend_count == 0',
    severity: 'critical',
    evaluationIntervalSec: 10,
    consecutiveThreshold: 1,
    enabled: true,
  },
] satisfies AlertRuleConfig[]);
