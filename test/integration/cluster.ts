/**
 * A small real cluster for manager tests: local backends in real temp directories, one per node
 * plus spares, and a BackendManager probing them with the DirectProbeRunner.
 *
 * Scores are made deterministic by scoring on reliability alone (weights 0/0/1/0): a healthy
 * backend then scores exactly its endpoint weight, so the expected picks follow from the weights:
 *   node-1: a1 (1.0), a1b (0.9)   node-2: a2 (1.0)   node-3: victim (1.0)
 *   node-4: s4 (0.7)              node-5: s5 (0.5)
 * Initial actives: a1, a2, victim. When victim fails, the best healthy candidate in a free domain is
 * s4 (a1b scores higher but sits on node-1 with a1).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { configFromObject } from '../../src/config/index.js';
import type { ManagerConfig } from '../../src/config/types.js';
import { BackendManager } from '../../src/manager.js';
import type { ActiveChangedEvent, StateChangedEvent } from '../../src/manager-api.js';
import { DirectProbeRunner } from '../../src/probes/direct-runner.js';
import { tempRoot } from './helpers.js';
import { localEndpointRaw, nodeRaw } from '../support/cluster.js';

export interface Cluster {
  manager: BackendManager;
  dirs: Record<string, string>;
  base: string;
  events: ActiveChangedEvent[];
  states: StateChangedEvent[];
  warnings: string[];
  nodeOf: (id: string) => string;
  stop: () => Promise<void>;
}

export const LAYOUT: Array<{ id: string; node: string; weight: number }> = [
  { id: 'a1', node: 'node-1', weight: 1 },
  { id: 'a1b', node: 'node-1', weight: 0.9 },
  { id: 'a2', node: 'node-2', weight: 1 },
  { id: 'victim', node: 'node-3', weight: 1 },
  { id: 's4', node: 'node-4', weight: 0.7 },
  { id: 's5', node: 'node-5', weight: 0.5 },
];

export function clusterConfig(dirs: Record<string, string>, over: Record<string, unknown> = {}): ManagerConfig {
  const nodes = new Map<string, Array<Record<string, unknown>>>();
  for (const e of LAYOUT) {
    const list = nodes.get(e.node) ?? [];
    list.push(localEndpointRaw(e.id, dirs[e.id]!, e.weight));
    nodes.set(e.node, list);
  }
  return configFromObject({
    target_active_backends: 3,
    health_check_interval_ms: 200,
    candidate_nodes: [...nodes].map(([node, endpoints], i) => nodeRaw(node, `10.0.0.${i + 1}`, endpoints)),
    selection_policy: { algorithm: 'weighted_score', weights: { latency: 0, bandwidth: 0, reliability: 1, load: 0 } },
    failover: { failure_threshold: 3, recovery_threshold: 5, failover_timeout_ms: 5000 },
    monitoring: { health_check_types: ['basic'], fail_slow: { enabled: false } },
    ...over,
  });
}

/** victimRoot: put the victim's directory there (e.g. inside a tmpfs mount). */
export async function startCluster(opts: { victimRoot?: string; over?: Record<string, unknown>; defaultRunner?: boolean } = {}): Promise<Cluster> {
  const t = tempRoot('cluster');
  const dirs: Record<string, string> = {};
  for (const e of LAYOUT) dirs[e.id] = join(t.dir, e.id);
  if (opts.victimRoot) dirs.victim = opts.victimRoot;
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  const cfg = clusterConfig(dirs, opts.over);
  let manager!: BackendManager;
  const runner = new DirectProbeRunner((id) => manager.getBackend(id), cfg.monitoring);
  manager = await BackendManager.open(cfg, opts.defaultRunner ? {} : { probeRunner: runner });
  const c: Cluster = {
    manager, dirs, base: t.dir, events: [], states: [], warnings: [],
    nodeOf: (id) => LAYOUT.find((e) => e.id === id)!.node,
    stop: async () => { await manager.stop(); t.cleanup(); },
  };
  manager.on('active-changed', (e) => c.events.push(e));
  manager.on('state-changed', (e) => c.states.push(e));
  manager.on('warning', (w: { message: string }) => c.warnings.push(w.message));
  await manager.start();
  return c;
}

/** Resolves with the first active-changed event that drops `id`, and the ms from `since`. */
export function waitForReplacement(c: Cluster, id: string, since: number, timeoutMs = 5000): Promise<{ ev: ActiveChangedEvent; elapsedMs: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${id} not replaced within ${timeoutMs} ms`)), timeoutMs);
    const on = (ev: ActiveChangedEvent) => {
      if (ev.previous.includes(id) && !ev.current.includes(id)) {
        clearTimeout(timer);
        c.manager.off('active-changed', on);
        resolve({ ev, elapsedMs: performance.now() - since });
      }
    };
    c.manager.on('active-changed', on);
  });
}
