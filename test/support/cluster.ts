/**
 * Cluster configs of local backends (one directory each) for the suites that run a real manager or
 * daemon: raw config objects (BackendManager.open / configFromObject) and YAML files (the daemon).
 */
import fs from 'node:fs';
import path from 'node:path';

/** One local endpoint in the raw (snake_case) config form. */
export function localEndpointRaw(id: string, dir: string, weight = 1): Record<string, unknown> {
  return { endpoint_id: id, type: 'local', connection_string: `file://${dir}`, weight };
}

/** A candidate node in the raw config form, holding the given endpoints. */
export function nodeRaw(nodeId: string, address: string, endpoints: Array<Record<string, unknown>>): Record<string, unknown> {
  return { node_id: nodeId, address, endpoints };
}

/**
 * One node per endpoint (node-<i>, address <subnet>.<i+1>): every backend its own failure domain.
 * `subnet` keeps suites that run side by side apart in logs.
 */
export function nodePerEndpoint(eps: Array<{ id: string; dir: string; weight?: number }>, subnet = '10.0.0'): Array<Record<string, unknown>> {
  return eps.map((e, i) => nodeRaw(`node-${i}`, `${subnet}.${i + 1}`, [localEndpointRaw(e.id, e.dir, e.weight)]));
}

export interface ClusterYamlOpts {
  /** Nodes node-01..node-NN, each with one local endpoint local-NN in <dir>/be-NN (default 5). */
  nodes?: number;
  /** Appended inside dynamic_backend_manager (indent 2). */
  extraYaml?: string;
  healthIntervalMs?: number;
}

export function nodeYaml(dir: string, i: number, indent = '    '): string {
  const id = String(i).padStart(2, '0');
  return [
    `${indent}- node_id: node-${id}`,
    `${indent}  address: 127.0.0.${i}`,
    `${indent}  endpoints:`,
    `${indent}    - endpoint_id: local-${id}`,
    `${indent}      type: local`,
    `${indent}      connection_string: file://${dir}/be-${id}`,
    `${indent}      weight: 1.0`,
  ].join('\n');
}

export function clusterYaml(dir: string, opts: ClusterYamlOpts = {}): string {
  const n = opts.nodes ?? 5;
  const nodes = Array.from({ length: n }, (_, k) => nodeYaml(dir, k + 1)).join('\n');
  return [
    'dynamic_backend_manager:',
    '  target_active_backends: 3',
    `  health_check_interval_ms: ${opts.healthIntervalMs ?? 1000}`,
    // Generous probe limits: these tests run on busy 2-core machines, where a slow probe must not
    // look like a failing backend (failure detection has its own tests).
    '  monitoring:',
    '    probe_timeout_ms: 5000',
    '    max_acceptable_latency_us: 2000000',
    '    fail_slow: { enabled: false }',
    '  candidate_nodes:',
    nodes,
    opts.extraYaml ?? '',
  ].join('\n') + '\n';
}

/** Writes clusterYaml(dir, opts) to <dir>/<name>; returns its path. */
export function writeCluster(dir: string, opts: ClusterYamlOpts = {}, name = 'xdbm.yaml'): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, clusterYaml(dir, opts));
  return file;
}
