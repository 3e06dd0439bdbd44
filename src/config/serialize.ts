/**
 * ManagerConfig -> snake_case object -> YAML (for saveConfig and `xdbm nodes` files). Every value is
 * written explicitly, so the text parses back (parseConfig) to an equal config whatever the defaults
 * of the reader's environment are.
 */
import { Document } from 'yaml';
import type { AlertRuleConfig, EndpointConfig, ManagerConfig, NodeConfig } from './types.js';

const MIB = 1024 * 1024;

type Plain = Record<string, unknown>;

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function endpointToObject(ep: EndpointConfig, nodeLabels: Record<string, string>): Plain {
  const o: Plain = {
    endpoint_id: ep.endpointId,
    type: ep.type,
    connection_string: ep.connectionString,
    weight: ep.weight,
  };
  const own: Record<string, string> = {};
  for (const [k, v] of Object.entries(ep.labels)) if (nodeLabels[k] !== v) own[k] = v;
  if (Object.keys(own).length > 0) o['labels'] = own;
  if (ep.target.kind === 'nfs') o['mount_point'] = ep.target.mountPoint;
  o['probe_area_mb'] = ep.probeAreaBytes / MIB;
  if (ep.ioTimeoutMs !== undefined) o['io_timeout_ms'] = ep.ioTimeoutMs;
  if (ep.expectMount) o['expect_mount'] = true;
  if (ep.nvme) {
    const n: Plain = {
      ctrl_loss_tmo_s: ep.nvme.ctrlLossTmoS,
      reconnect_delay_s: ep.nvme.reconnectDelayS,
      fast_io_fail_tmo_s: ep.nvme.fastIoFailTmoS,
    };
    if (ep.nvme.hostnqn !== undefined) n['hostnqn'] = ep.nvme.hostnqn;
    o['nvme'] = n;
  }
  return o;
}

/** One candidate node as the snake_case mapping of the YAML format. */
export function nodeToObject(node: NodeConfig): Plain {
  const o: Plain = { node_id: node.nodeId, address: node.address };
  if (Object.keys(node.labels).length > 0) o['labels'] = { ...node.labels };
  o['endpoints'] = node.endpoints.map((e) => endpointToObject(e, node.labels));
  return o;
}

function alertToObject(a: AlertRuleConfig): Plain {
  return {
    rule_name: a.ruleName,
    condition: a.condition,
    severity: a.severity,
    evaluation_interval_sec: a.evaluationIntervalSec,
    consecutive_threshold: a.consecutiveThreshold,
    enabled: a.enabled,
  };
}

/** The whole config as `{ dynamic_backend_manager: {...} }` with snake_case keys (configFromObject takes it back). */
export function configToObject(cfg: ManagerConfig): Plain {
  const s = cfg.selection;
  const f = cfg.failover;
  const m = cfg.monitoring;
  const w = cfg.wal;
  const admin: Plain = { socket_path: cfg.admin.socketPath };
  if (cfg.admin.http) admin['http'] = hostPort(cfg.admin.http.host, cfg.admin.http.port);
  if (cfg.admin.tokenFile !== undefined) admin['token_file'] = cfg.admin.tokenFile;
  const metadata: Plain = w.metadata.type === 'file'
    ? { type: 'file', path: w.metadata.path }
    : { type: 'etcd', endpoints: [...w.metadata.endpoints], prefix: w.metadata.prefix };
  return {
    dynamic_backend_manager: {
      target_active_backends: cfg.targetActiveBackends,
      health_check_interval_ms: cfg.healthCheckIntervalMs,
      candidate_nodes: cfg.candidateNodes.map(nodeToObject),
      selection_policy: {
        algorithm: s.algorithm,
        weights: { ...s.weights },
        failure_domain: s.failureDomain,
        allow_shared_failure_domain: s.allowSharedFailureDomain,
      },
      failover: {
        enable_auto_failover: f.enableAutoFailover,
        failure_threshold: f.failureThreshold,
        degraded_threshold: f.degradedThreshold,
        recovery_threshold: f.recoveryThreshold,
        failover_timeout_ms: f.failoverTimeoutMs,
        enable_data_migration: f.enableDataMigration,
        error_decay_half_life_ms: f.errorDecayHalfLifeMs,
        hold_down_base_ms: f.holdDownBaseMs,
        hold_down_max_ms: f.holdDownMaxMs,
        flap_window_ms: f.flapWindowMs,
      },
      monitoring: {
        enable_detailed_metrics: m.enableDetailedMetrics,
        metrics_export_interval_ms: m.metricsExportIntervalMs,
        health_check_types: [...m.healthCheckTypes],
        probe_timeout_ms: m.probeTimeoutMs,
        max_acceptable_latency_us: m.maxAcceptableLatencyUs,
        max_acceptable_error_rate: m.maxAcceptableErrorRate,
        fail_slow: {
          enabled: m.failSlow.enabled,
          peer_ratio: m.failSlow.peerRatio,
          min_latency_us: m.failSlow.minLatencyUs,
          min_peers: m.failSlow.minPeers,
        },
      },
      wal: { ack_quorum: w.ackQuorum, segment_bytes: w.segmentBytes, metadata },
      alert_rules: cfg.alerts.map(alertToObject),
      admin,
    },
  };
}

function toYaml(obj: Plain, header: string): string {
  const doc = new Document(obj);
  doc.commentBefore = ` ${header}`;
  return doc.toString({ lineWidth: 0 });
}

/** The whole config as YAML; parseConfig of it gives an equal config. */
export function configToYaml(cfg: ManagerConfig): string {
  return toYaml(configToObject(cfg), 'xdbm configuration (written by xdbm; every value explicit)');
}

/** One node as YAML, the format `xdbm nodes add FILE` reads (parseNodeYaml). */
export function nodeToYaml(node: NodeConfig): string {
  return toYaml(nodeToObject(node), 'xdbm candidate node');
}
