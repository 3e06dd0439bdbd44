/**
 * What a configuration change means for the running manager (reload applied as a diff, never a
 * rebuild: multipath-tools' lesson). Pure.
 *  - added: endpoint ids new in the config;
 *  - removed: ids gone, plus ids whose identity changed (type, connection string, target, probe area,
 *    NVMe options): their backend must be rebuilt, so they are removed and added again;
 *  - changed: same backend, other weight / labels / node (kept state and metrics, rescored).
 */
import { configToObject } from '../config/serialize.js';
import type { EndpointConfig, ManagerConfig, NodeConfig } from '../config/types.js';

export interface EndpointEntryConfig {
  node: NodeConfig;
  endpoint: EndpointConfig;
}

export interface ConfigDiff {
  added: string[];
  removed: string[];
  /** Removed and added again (identity changed). */
  rebuilt: string[];
  changed: string[];
  /** Manager-wide settings that changed, by YAML name (`target_active_backends 3 -> 2`). */
  settings: string[];
  /** Selection policy, weights, domain rule or target changed: the active set must be reselected. */
  selectionChanged: boolean;
}

export function endpointsOf(cfg: ManagerConfig): Map<string, EndpointEntryConfig> {
  const out = new Map<string, EndpointEntryConfig>();
  for (const node of cfg.candidateNodes) for (const endpoint of node.endpoints) out.set(endpoint.endpointId, { node, endpoint });
  return out;
}

function identity(e: EndpointConfig): string {
  return JSON.stringify([e.type, e.connectionString, e.target, e.probeAreaBytes, e.nvme ?? null, e.ioTimeoutMs ?? null]);
}

function placement(x: EndpointEntryConfig): string {
  return JSON.stringify([x.endpoint.weight, x.endpoint.labels, x.node.nodeId, x.node.address, x.node.labels]);
}

export function diffConfig(oldCfg: ManagerConfig, newCfg: ManagerConfig): ConfigDiff {
  const before = endpointsOf(oldCfg);
  const after = endpointsOf(newCfg);
  const added: string[] = [];
  const removed: string[] = [];
  const rebuilt: string[] = [];
  const changed: string[] = [];
  for (const [id, x] of after) {
    const old = before.get(id);
    if (!old) added.push(id);
    else if (identity(old.endpoint) !== identity(x.endpoint)) rebuilt.push(id);
    else if (placement(old) !== placement(x)) changed.push(id);
  }
  for (const id of before.keys()) if (!after.has(id)) removed.push(id);
  const selectionChanged =
    JSON.stringify(oldCfg.selection) !== JSON.stringify(newCfg.selection) ||
    oldCfg.targetActiveBackends !== newCfg.targetActiveBackends;
  return { added, removed, rebuilt, changed, selectionChanged, settings: settingsChanged(oldCfg, newCfg) };
}

/**
 * The manager-wide settings (every top-level key but candidate_nodes) that differ, by their YAML
 * names; a scalar shows `old -> new`. The reload summary counts these with the changed endpoints, so
 * a reload that changed target_active_backends never reads "changed 0".
 */
function settingsChanged(oldCfg: ManagerConfig, newCfg: ManagerConfig): string[] {
  const a = (configToObject(oldCfg)['dynamic_backend_manager'] ?? {}) as Record<string, unknown>;
  const b = (configToObject(newCfg)['dynamic_backend_manager'] ?? {}) as Record<string, unknown>;
  const out: string[] = [];
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (k === 'candidate_nodes' || JSON.stringify(a[k]) === JSON.stringify(b[k])) continue;
    const scalar = (v: unknown) => v === undefined || v === null || typeof v !== 'object';
    out.push(scalar(a[k]) && scalar(b[k]) ? `${k} ${String(a[k])} -> ${String(b[k])}` : k);
  }
  return out;
}
