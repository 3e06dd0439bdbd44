/** What BackendManager builds at open and start: the validated config and the default probe runner. */
import type { StorageBackend } from './backends/backend.js';
import { configFromObject, loadConfigFile, validateManagerConfig } from './config/index.js';
import type { ManagerConfig } from './config/types.js';
import type { MetricsStore } from './metrics/types.js';
import { DirectProbeRunner } from './probes/direct-runner.js';
import type { ProbeRunner } from './probes/types.js';

function isManagerConfig(o: object): o is ManagerConfig {
  return Array.isArray((o as ManagerConfig).candidateNodes) && typeof (o as ManagerConfig).selection === 'object';
}

/** A YAML file path, a ManagerConfig (re-validated) or a plain object with the YAML keys. */
export async function resolveConfig(src: string | ManagerConfig | object): Promise<ManagerConfig> {
  if (typeof src === 'string') return loadConfigFile(src);
  return isManagerConfig(src) ? validateManagerConfig(src) : configFromObject(src);
}

/**
 * Default runner: the Piscina ProbePool (its workers publish straight into the SharedArrayBuffer
 * store, so `publishes` is true). When the pool cannot start (worker not built, e.g. running from
 * TypeScript source without `npx tsc`) probes run on the main thread through DirectProbeRunner.
 */
export async function createDefaultRunner(
  cfg: ManagerConfig,
  store: MetricsStore | undefined,
  lookup: (endpointId: string) => StorageBackend | undefined,
  warn: (message: string) => void,
): Promise<{ runner: ProbeRunner; publishes: boolean }> {
  const thresholds = {
    maxAcceptableLatencyUs: cfg.monitoring.maxAcceptableLatencyUs,
    maxAcceptableErrorRate: cfg.monitoring.maxAcceptableErrorRate,
  };
  try {
    const [{ ProbePool }, { SharedMetricsStore }] = await Promise.all([import('./probes/pool.js'), import('./metrics/shared-store.js')]);
    const metrics = store instanceof SharedMetricsStore ? store : undefined;
    return { runner: new ProbePool({ metrics, thresholds }), publishes: metrics !== undefined };
  } catch (e) {
    warn(`probe pool unavailable, probing on the main thread: ${String((e as Error)?.message ?? e)}`);
    return { runner: new DirectProbeRunner(lookup, thresholds), publishes: false };
  }
}
