/**
 * Validates a whole configuration document (plain value, from YAML or an object) into a ManagerConfig,
 * recording every issue in one IssueList; cross-section rules (quorum vs target, failure domains,
 * probe timeout vs failover timeout) are checked here after the sections.
 */
import { DEFAULTS } from './defaults.js';
import { distinctDomains, failureDomainOf } from './domains.js';
import { IssueList, joinPath } from './issues.js';
import { Reader, typeName, type ConditionChecker, type Obj } from './reader.js';
import { readAdmin, readAlerts, readFailover, readMonitoring, readSelection, readWal } from './validate-sections.js';
import { newNodeContext, readNodes, type NodeContext } from './validate-nodes.js';
import type { ManagerConfig } from './types.js';
import { didYouMean } from './suggest.js';

export const ROOT_KEY = 'dynamic_backend_manager';

export interface ValidateOptions {
  /** Directory that relative paths resolve against (default: working directory). */
  baseDir?: string;
  /** Checker of alert conditions written in the file (default: any non-empty string passes). */
  checkCondition?: ConditionChecker;
}
export const MANAGER_KEYS = [
  'target_active_backends', 'health_check_interval_ms', 'candidate_nodes', 'selection_policy', 'failover',
  'monitoring', 'wal', 'alert_rules', 'admin',
] as const;

/**
 * Validates `{ dynamic_backend_manager: {...} }`. Top-level keys starting with `x-` are ignored (a place
 * for YAML anchors). Returns the config, or undefined when issues were recorded.
 */
export function validateDocument(value: unknown, issues: IssueList, opts: ValidateOptions = {}): ManagerConfig | undefined {
  const r = new Reader(issues, opts.baseDir, opts.checkCondition);
  // A file that is no xdbm configuration at all (`xdbm reload /etc/shadow`) must not have its lines
  // copied into the error and the log: its text is named by kind only, its keys only when one of
  // them is a near miss of the root key (a typo in a real config).
  if (value === null || value === undefined || typeof value !== 'object' || Array.isArray(value)) {
    const got = typeof value === 'string' ? 'plain text (not shown)' : typeName(value);
    issues.add('', `the configuration must be a mapping with the key '${ROOT_KEY}', got ${got}`);
    return undefined;
  }
  const top = value as Obj;
  const unknown = Object.keys(top).filter((k) => k !== ROOT_KEY && !k.startsWith('x-'));
  const nearMiss = unknown.filter((k) => didYouMean(k, [ROOT_KEY]) !== '');
  if (!(ROOT_KEY in top) && nearMiss.length === 0 && unknown.length > 0) {
    issues.add('', `this is not an xdbm configuration: no '${ROOT_KEY}' key, and ${unknown.length} other top-level key(s), not shown`);
    return undefined;
  }
  for (const k of unknown) {
    issues.add(k, `unknown top-level key '${k}'${didYouMean(k, [ROOT_KEY])}: everything goes under '${ROOT_KEY}:' (keys starting with x- are ignored)`, { at: 'key' });
  }
  if (!r.require(top, '', ROOT_KEY, 'the whole configuration sits under this key (seed section 6.1)')) return undefined;
  const cfg = validateManager(r, ROOT_KEY, top[ROOT_KEY], newNodeContext(opts.baseDir));
  return issues.length === 0 ? cfg : undefined;
}

export function validateManager(r: Reader, path: string, value: unknown, nodes: NodeContext): ManagerConfig | undefined {
  const m = r.map(path, value, MANAGER_KEYS, `'${ROOT_KEY}'`);
  if (!m) return undefined;
  const targetActiveBackends = r.int(m, path, 'target_active_backends', DEFAULTS.targetActiveBackends, { min: 1 });
  const healthCheckIntervalMs = r.int(m, path, 'health_check_interval_ms', DEFAULTS.healthCheckIntervalMs, { min: 1 });
  const candidateNodes = readNodes(r, path, m, nodes);
  const cfg: ManagerConfig = {
    targetActiveBackends,
    healthCheckIntervalMs,
    candidateNodes,
    selection: readSelection(r, joinPath(path, 'selection_policy'), m['selection_policy']),
    failover: readFailover(r, joinPath(path, 'failover'), m['failover']),
    monitoring: readMonitoring(r, joinPath(path, 'monitoring'), m['monitoring'], healthCheckIntervalMs),
    wal: readWal(r, joinPath(path, 'wal'), m['wal'], targetActiveBackends),
    alerts: readAlerts(r, joinPath(path, 'alert_rules'), m['alert_rules']),
    admin: readAdmin(r, joinPath(path, 'admin'), m['admin']),
  };
  crossCheck(r, path, m, cfg, nodes);
  return cfg;
}

function crossCheck(r: Reader, path: string, m: Obj, cfg: ManagerConfig, nodes: NodeContext): void {
  const at = (section: string, key: string, fallback: string): string => {
    const s = m[section];
    const given = s !== null && typeof s === 'object' && (s as Obj)[key] !== undefined;
    return given ? joinPath(joinPath(path, section), key) : fallback;
  };
  const targetPath = joinPath(path, 'target_active_backends');
  const targetGiven = m['target_active_backends'] !== undefined;

  if (cfg.wal.ackQuorum > cfg.targetActiveBackends) {
    r.issues.add(at('wal', 'ack_quorum', targetPath), `ack_quorum ${cfg.wal.ackQuorum} exceeds target_active_backends ${cfg.targetActiveBackends}: ` +
      'an append could never be acknowledged; lower ack_quorum or raise the target');
  }
  if (cfg.monitoring.probeTimeoutMs > cfg.failover.failoverTimeoutMs) {
    r.issues.add(at('monitoring', 'probe_timeout_ms', joinPath(joinPath(path, 'failover'), 'failover_timeout_ms')),
      `probe_timeout_ms ${cfg.monitoring.probeTimeoutMs} exceeds failover_timeout_ms ${cfg.failover.failoverTimeoutMs}: ` +
      'a warm-up probe could never finish within a failover; lower probe_timeout_ms or raise failover_timeout_ms');
  }
  const endpointCount = cfg.candidateNodes.reduce((n, node) => n + node.endpoints.length, 0);
  const nodesOk = r.issues.items.every((i) => !i.path.startsWith(joinPath(path, 'candidate_nodes')));
  if (!nodesOk) return; // counts over a pool with broken entries would only add noise
  if (endpointCount < cfg.targetActiveBackends) {
    r.issues.add(targetGiven ? targetPath : joinPath(path, 'candidate_nodes'),
      `target_active_backends ${cfg.targetActiveBackends} exceeds the ${endpointCount} candidate endpoint${endpointCount === 1 ? '' : 's'}: add endpoints or lower the target`);
    return;
  }
  const key = cfg.selection.failureDomain;
  if (key !== 'node') {
    for (const node of cfg.candidateNodes) {
      for (const ep of node.endpoints) {
        if (failureDomainOf(cfg.selection, node.nodeId, ep) === undefined) {
          r.issues.add(nodes.endpointPaths.get(ep) ?? joinPath(path, 'candidate_nodes'),
            `endpoint '${ep.endpointId}' has no label '${key}' (selection_policy.failure_domain is '${key}'): add labels: {${key}: ...} to its node or to the endpoint`);
        }
      }
    }
  }
  const domains = distinctDomains(cfg.selection, cfg.candidateNodes);
  if (domains.size < cfg.targetActiveBackends && !cfg.selection.allowSharedFailureDomain) {
    const list = [...domains].slice(0, 10).join(', ');
    r.issues.add(targetGiven ? targetPath : joinPath(path, 'candidate_nodes'),
      `target_active_backends ${cfg.targetActiveBackends} needs as many distinct failure domains ('${key}'), but the candidates span only ${domains.size} (${list}): ` +
      'add candidates in other domains, lower the target, or set selection_policy.allow_shared_failure_domain: true');
  }
}
