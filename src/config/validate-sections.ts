/**
 * Validation of the policy sections: selection_policy, failover, monitoring (seed 6.1) and the
 * sections xdbm adds: wal, alert_rules, admin. Cross-section rules live in validate.ts.
 */
import nodePath from 'node:path';
import { ErrorCode } from '../errors.js';
import { PROBE_KINDS, SELECTION_POLICIES, type ProbeKind } from '../types.js';
import { DEFAULTS, DEFAULT_ALERT_RULES, defaultAckQuorum, defaultProbeTimeoutMs, defaultSocketPath } from './defaults.js';
import { joinPath } from './issues.js';
import { checkPath } from './paths.js';
import { Reader, typeName, type Obj } from './reader.js';
import type {
  AdminConfig, AlertRuleConfig, AlertSeverity, FailoverConfig, MetadataStoreConfig, MonitoringConfig, SelectionConfig, WalConfig,
} from './types.js';
import { isValidHost } from './connection-string.js';
import { didYouMean } from './suggest.js';

export const SELECTION_KEYS = ['algorithm', 'weights', 'failure_domain', 'allow_shared_failure_domain'] as const;
export const WEIGHT_KEYS = ['latency', 'bandwidth', 'reliability', 'load'] as const;
export const FAILOVER_KEYS = [
  'enable_auto_failover', 'failure_threshold', 'recovery_threshold', 'failover_timeout_ms', 'enable_data_migration',
  'degraded_threshold', 'error_decay_half_life_ms', 'hold_down_base_ms', 'hold_down_max_ms', 'flap_window_ms',
] as const;
export const MONITORING_KEYS = [
  'enable_detailed_metrics', 'metrics_export_interval_ms', 'health_check_types', 'probe_timeout_ms',
  'max_acceptable_latency_us', 'max_acceptable_error_rate', 'fail_slow',
] as const;
export const FAIL_SLOW_KEYS = ['enabled', 'peer_ratio', 'min_latency_us', 'min_peers'] as const;
export const WAL_KEYS = ['ack_quorum', 'segment_bytes', 'metadata'] as const;
export const METADATA_KEYS = ['type', 'path', 'endpoints', 'prefix'] as const;
export const ALERT_KEYS = ['rule_name', 'condition', 'severity', 'evaluation_interval_sec', 'consecutive_threshold', 'enabled'] as const;
export const ADMIN_KEYS = ['socket_path', 'http', 'token_file'] as const;
export const SEVERITIES: readonly AlertSeverity[] = ['info', 'warning', 'critical'];

/** Longest Unix socket path Linux accepts (sun_path is 108 bytes with the NUL). */
const MAX_SOCKET_PATH_BYTES = 107;
const WEIGHT_TOLERANCE = 1e-6;

export function readSelection(r: Reader, path: string, value: unknown): SelectionConfig {
  const d = DEFAULTS.selection;
  const m = r.map(path, value, SELECTION_KEYS, "'selection_policy'") ?? {};
  const algorithm = r.oneOf(m, path, 'algorithm', SELECTION_POLICIES, d.algorithm);
  let weights: SelectionConfig['weights'] = { ...d.weights };
  if (m['weights'] !== undefined && m['weights'] !== null) {
    const wPath = joinPath(path, 'weights');
    const w = r.map(wPath, m['weights'], WEIGHT_KEYS, "'weights'");
    if (w) {
      const before = r.issues.length;
      for (const k of WEIGHT_KEYS) r.require(w, wPath, k, 'give all four weights (latency, bandwidth, reliability, load), summing to 1');
      const got = {
        latency: r.num(w, wPath, 'latency', d.weights.latency, { min: 0, max: 1 }),
        bandwidth: r.num(w, wPath, 'bandwidth', d.weights.bandwidth, { min: 0, max: 1 }),
        reliability: r.num(w, wPath, 'reliability', d.weights.reliability, { min: 0, max: 1 }),
        load: r.num(w, wPath, 'load', d.weights.load, { min: 0, max: 1 }),
      };
      if (r.issues.length === before) {
        const sum = got.latency + got.bandwidth + got.reliability + got.load;
        if (Math.abs(sum - 1) > WEIGHT_TOLERANCE) {
          r.issues.add(wPath, `weights sum to ${+sum.toFixed(9)} (latency ${got.latency} + bandwidth ${got.bandwidth} + reliability ${got.reliability} + load ${got.load}); they must sum to 1`);
        }
      }
      weights = got;
    }
  }
  let failureDomain: string = d.failureDomain;
  if (m['failure_domain'] !== undefined) {
    const fd = m['failure_domain'];
    if (typeof fd !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(fd)) {
      r.issues.add(joinPath(path, 'failure_domain'), `'failure_domain' must be 'node' or a label name such as 'rack' or 'zone', got ${typeName(fd)}`);
    } else {
      failureDomain = fd;
    }
  }
  const allowSharedFailureDomain = r.bool(m, path, 'allow_shared_failure_domain', d.allowSharedFailureDomain);
  return { algorithm, weights, failureDomain, allowSharedFailureDomain };
}

export function readFailover(r: Reader, path: string, value: unknown): FailoverConfig {
  const d = DEFAULTS.failover;
  const m = r.map(path, value, FAILOVER_KEYS, "'failover'") ?? {};
  const positive = { min: 1 };
  const cfg: FailoverConfig = {
    enableAutoFailover: r.bool(m, path, 'enable_auto_failover', d.enableAutoFailover),
    failureThreshold: r.int(m, path, 'failure_threshold', d.failureThreshold, positive),
    degradedThreshold: r.int(m, path, 'degraded_threshold', d.degradedThreshold, positive),
    recoveryThreshold: r.int(m, path, 'recovery_threshold', d.recoveryThreshold, positive),
    failoverTimeoutMs: r.int(m, path, 'failover_timeout_ms', d.failoverTimeoutMs, positive),
    enableDataMigration: r.bool(m, path, 'enable_data_migration', d.enableDataMigration),
    errorDecayHalfLifeMs: r.int(m, path, 'error_decay_half_life_ms', d.errorDecayHalfLifeMs, positive),
    holdDownBaseMs: r.int(m, path, 'hold_down_base_ms', d.holdDownBaseMs, { min: 0 }),
    holdDownMaxMs: r.int(m, path, 'hold_down_max_ms', d.holdDownMaxMs, { min: 0 }),
    flapWindowMs: r.int(m, path, 'flap_window_ms', d.flapWindowMs, positive),
  };
  if (cfg.degradedThreshold >= cfg.failureThreshold) {
    const at = m['degraded_threshold'] !== undefined ? 'degraded_threshold' : 'failure_threshold';
    r.issues.add(joinPath(path, at), `degraded_threshold ${cfg.degradedThreshold} must be below failure_threshold ${cfg.failureThreshold}` +
      ' (a backend turns DEGRADED before FAILED): lower degraded_threshold or raise failure_threshold');
  }
  if (cfg.holdDownMaxMs < cfg.holdDownBaseMs) {
    r.issues.add(joinPath(path, m['hold_down_max_ms'] !== undefined ? 'hold_down_max_ms' : 'hold_down_base_ms'),
      `hold_down_max_ms ${cfg.holdDownMaxMs} is below hold_down_base_ms ${cfg.holdDownBaseMs}: the cap must be at least the first hold-down`);
  }
  return cfg;
}

export function readMonitoring(r: Reader, path: string, value: unknown, healthCheckIntervalMs: number): MonitoringConfig {
  const d = DEFAULTS.monitoring;
  const m = r.map(path, value, MONITORING_KEYS, "'monitoring'") ?? {};
  let healthCheckTypes: ProbeKind[] = [...d.healthCheckTypes];
  if (m['health_check_types'] !== undefined) {
    const tPath = joinPath(path, 'health_check_types');
    const list = r.list(tPath, m['health_check_types'], "'health_check_types'");
    if (list) {
      const kinds: ProbeKind[] = [];
      list.forEach((k, i) => {
        if (typeof k !== 'string' || !(PROBE_KINDS as readonly string[]).includes(k)) {
          const got = typeof k === 'string' ? `'${k}'${didYouMean(k, PROBE_KINDS)}` : typeName(k);
          r.issues.add(joinPath(tPath, i), `unknown probe type ${got}; valid types: ${PROBE_KINDS.join(', ')}`);
        } else if (kinds.includes(k as ProbeKind)) {
          r.issues.add(joinPath(tPath, i), `probe type '${k}' is listed twice; list it once`);
        } else {
          kinds.push(k as ProbeKind);
        }
      });
      if (list.length === 0) r.issues.add(tPath, `'health_check_types' is empty: list at least one of ${PROBE_KINDS.join(', ')}`);
      healthCheckTypes = kinds;
    }
  }
  const fsPath = joinPath(path, 'fail_slow');
  const fs = r.map(fsPath, m['fail_slow'], FAIL_SLOW_KEYS, "'fail_slow'") ?? {};
  return {
    enableDetailedMetrics: r.bool(m, path, 'enable_detailed_metrics', d.enableDetailedMetrics),
    metricsExportIntervalMs: r.int(m, path, 'metrics_export_interval_ms', d.metricsExportIntervalMs, { min: 1 }),
    healthCheckTypes,
    probeTimeoutMs: r.int(m, path, 'probe_timeout_ms', defaultProbeTimeoutMs(healthCheckIntervalMs), { min: 1 }),
    maxAcceptableLatencyUs: r.num(m, path, 'max_acceptable_latency_us', d.maxAcceptableLatencyUs, { min: 0, minExclusive: true }),
    maxAcceptableErrorRate: r.num(m, path, 'max_acceptable_error_rate', d.maxAcceptableErrorRate, { min: 0, max: 1 }),
    failSlow: {
      enabled: r.bool(fs, fsPath, 'enabled', d.failSlow.enabled),
      peerRatio: r.num(fs, fsPath, 'peer_ratio', d.failSlow.peerRatio, { min: 1, minExclusive: true, hint: 'a ratio of 1 or less would call every backend slow' }),
      minLatencyUs: r.num(fs, fsPath, 'min_latency_us', d.failSlow.minLatencyUs, { min: 0 }),
      minPeers: r.int(fs, fsPath, 'min_peers', d.failSlow.minPeers, { min: 1 }),
    },
  };
}

/** Accepts an integer or a size with a unit: 65536, '64MiB', '512 KiB', '1GiB'. */
function parseSize(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^(\d+)\s*(B|KiB|MiB|GiB)?$/.exec(v.trim());
  if (!m) return undefined;
  const unit = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }[m[2] ?? 'B'] ?? 1;
  return Number(m[1]) * unit;
}

export function readWal(r: Reader, path: string, value: unknown, targetActiveBackends: number): WalConfig {
  const d = DEFAULTS.wal;
  const m = r.map(path, value, WAL_KEYS, "'wal'") ?? {};
  const ackQuorum = r.int(m, path, 'ack_quorum', defaultAckQuorum(targetActiveBackends), { min: 1 });
  let segmentBytes: number = d.segmentBytes;
  if (m['segment_bytes'] !== undefined) {
    const s = parseSize(m['segment_bytes']);
    if (s === undefined || s < 1024 * 1024 || s % 4096 !== 0 || s > 2 ** 40) {
      r.issues.add(joinPath(path, 'segment_bytes'), `'segment_bytes' must be a multiple of 4096 from 1 MiB to 1 TiB (e.g. 67108864 or '64MiB'), got ${typeName(m['segment_bytes'])}`);
    } else {
      segmentBytes = s;
    }
  }
  return { ackQuorum, segmentBytes, metadata: readMetadata(r, joinPath(path, 'metadata'), m['metadata']) };
}

function readMetadata(r: Reader, path: string, value: unknown): MetadataStoreConfig {
  const m = r.map(path, value, METADATA_KEYS, "'metadata'") ?? {};
  const type = r.oneOf(m, path, 'type', ['file', 'etcd'] as const, 'file');
  const misplaced = (key: string, forType: string): void => {
    if (m[key] !== undefined) r.issues.add(joinPath(path, key), `'${key}' belongs to metadata type ${forType}, not ${type}; remove it`, { at: 'key' });
  };
  if (type === 'etcd') {
    misplaced('path', 'file');
    let endpoints: string[] = [];
    if (r.require(m, path, 'endpoints', "the etcd client URLs, e.g. ['http://127.0.0.1:2379']")) {
      const ePath = joinPath(path, 'endpoints');
      const list = r.list(ePath, m['endpoints'], "'endpoints'");
      if (list && list.length === 0) r.issues.add(ePath, "'endpoints' is empty: give at least one etcd URL");
      list?.forEach((e, i) => {
        if (typeof e !== 'string' || !isEtcdEndpoint(e)) {
          r.issues.add(joinPath(ePath, i), `etcd endpoint must be http(s)://host:port or host:port, got ${typeName(e)}`);
        } else {
          endpoints.push(e);
        }
      });
    }
    const prefix = r.str(m, path, 'prefix', DEFAULTS.wal.etcdPrefix);
    return { type, endpoints, prefix };
  }
  misplaced('endpoints', 'etcd');
  misplaced('prefix', 'etcd');
  let file = resolveDefault(r.baseDir, DEFAULTS.wal.metadataFile);
  if (m['path'] !== undefined) file = readFilePath(r, m, path, 'path') ?? file;
  return { type: 'file', path: file };
}

function isEtcdEndpoint(e: string): boolean {
  const hostPort = /^https?:\/\//.test(e) ? e.replace(/^https?:\/\//, '').replace(/\/$/, '') : e;
  const m = /^(\[[^\]]+\]|[^:/]+):(\d{1,5})$/.exec(hostPort);
  if (!m) return false;
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  const port = Number(m[2]);
  return isValidHost(host) && port >= 1 && port <= 65535;
}

function resolveDefault(baseDir: string | undefined, rel: string): string {
  return nodePath.resolve(baseDir ?? process.cwd(), rel);
}

/** A path field: absolute, or relative to the config directory. */
function readFilePath(r: Reader, m: Obj, parent: string, key: string): string | undefined {
  const v = m[key];
  const p = joinPath(parent, key);
  if (typeof v !== 'string') {
    r.issues.add(p, `'${key}' must be a path, got ${typeName(v)}`);
    return undefined;
  }
  const c = checkPath(v, { allowRelative: true, baseDir: r.baseDir });
  if (!c.ok) {
    r.issues.add(p, `'${key}': ${c.message}`);
    return undefined;
  }
  return c.path;
}

export function readAlerts(r: Reader, path: string, value: unknown): AlertRuleConfig[] {
  const rules: AlertRuleConfig[] = DEFAULT_ALERT_RULES.map((a) => ({ ...a }));
  if (value === undefined || value === null) return rules;
  const list = r.list(path, value, "'alert_rules'");
  if (!list) return rules;
  const seen = new Map<string, string>();
  list.forEach((item, i) => {
    const p = joinPath(path, i);
    const m = r.map(p, item, ALERT_KEYS, 'an alert rule');
    if (!m) return;
    if (!r.require(m, p, 'rule_name', 'a name such as HighFailoverRate (a default rule of that name is overridden)')) return;
    const name = m['rule_name'];
    if (typeof name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      r.issues.add(joinPath(p, 'rule_name'), `'rule_name' must be a name of letters, digits and '_', got ${typeName(name)}`);
      return;
    }
    if (seen.has(name)) {
      r.issues.add(joinPath(p, 'rule_name'), `alert rule '${name}' is defined twice (first at ${r.issues.describe(seen.get(name)!)}); merge them`);
      return;
    }
    seen.set(name, p);
    const base = rules.find((x) => x.ruleName === name);
    if (!base) {
      r.require(m, p, 'condition', "an expression over metric names, e.g. 'healthy_backend_count < 2'");
      r.require(m, p, 'severity', `one of ${SEVERITIES.join(', ')}`);
    }
    const cond = m['condition'];
    let condition = base?.condition ?? '';
    if (cond !== undefined) {
      const cPath = joinPath(p, 'condition');
      if (typeof cond !== 'string' || cond.trim() === '') {
        r.issues.add(cPath, `'condition' must be a non-empty expression such as 'overall_availability < 0.7', got ${typeName(cond)}`);
      } else {
        condition = cond;
        const bad = r.checkCondition?.(cond);
        if (bad) r.issues.add(cPath, bad.message, { offset: bad.offset, code: ErrorCode.EXPRESSION_INVALID });
      }
    }
    const rule: AlertRuleConfig = {
      ruleName: name,
      condition,
      severity: r.oneOf(m, p, 'severity', SEVERITIES, base?.severity ?? 'warning'),
      evaluationIntervalSec: r.int(m, p, 'evaluation_interval_sec', base?.evaluationIntervalSec ?? DEFAULTS.alert.evaluationIntervalSec, { min: 1 }),
      consecutiveThreshold: r.int(m, p, 'consecutive_threshold', base?.consecutiveThreshold ?? DEFAULTS.alert.consecutiveThreshold, { min: 1 }),
      enabled: r.bool(m, p, 'enabled', base?.enabled ?? true),
    };
    if (base) Object.assign(base, rule);
    else rules.push(rule);
  });
  return rules;
}

const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|localhost)$/i;

export function readAdmin(r: Reader, path: string, value: unknown): AdminConfig {
  const m = r.map(path, value, ADMIN_KEYS, "'admin'") ?? {};
  let socketPath = defaultSocketPath();
  if (m['socket_path'] !== undefined) socketPath = readFilePath(r, m, path, 'socket_path') ?? socketPath;
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
    r.issues.add(joinPath(path, 'socket_path'), `socket path '${socketPath}' is longer than ${MAX_SOCKET_PATH_BYTES} bytes, the limit of a Unix socket: choose a shorter one`);
  }
  const admin: AdminConfig = { socketPath };
  if (m['token_file'] !== undefined) {
    const t = readFilePath(r, m, path, 'token_file');
    if (t !== undefined) admin.tokenFile = t;
  }
  if (m['http'] !== undefined && m['http'] !== null) {
    const hPath = joinPath(path, 'http');
    const h = m['http'];
    const parsed = typeof h === 'string' ? /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(h) : null;
    const host = parsed ? (parsed[1]!.startsWith('[') ? parsed[1]!.slice(1, -1) : parsed[1]!) : '';
    const port = parsed ? Number(parsed[2]) : 0;
    if (!parsed || !(isValidHost(host) || host === '0.0.0.0' || host === '::') || port < 1 || port > 65535) {
      r.issues.add(hPath, `'http' must be host:port such as '127.0.0.1:9464' (IPv6 as '[::1]:9464'), got ${typeName(h)}`);
    } else {
      if (!LOOPBACK.test(host) && admin.tokenFile === undefined && m['token_file'] === undefined) {
        r.issues.add(hPath, `http listener on non-loopback host '${host}' needs 'token_file' (bearer token for the admin endpoints); add admin.token_file or listen on 127.0.0.1`);
      }
      admin.http = { host, port };
    }
  }
  return admin;
}
