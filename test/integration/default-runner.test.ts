/** The manager with its default runner (the Piscina ProbePool, compiled worker) against a real fault. */
import { existsSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultWorkerFilename } from '../../src/probes/pool.js';
import { startCluster, waitForReplacement, type Cluster } from './cluster.js';

function workerBuilt(): boolean {
  try { return existsSync(defaultWorkerFilename()); } catch { return false; }
}

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe('default probe runner', () => {
  it.skipIf(!workerBuilt())('probes through the worker pool and replaces a removed active within one second [needs `npx tsc` to build dist/workers]', async () => {
    cluster = await startCluster({ defaultRunner: true });
    const c = cluster;
    expect(c.warnings.join('\n')).not.toMatch(/probe pool unavailable/);
    expect(c.manager.getActiveBackends().map((a) => a.endpointId).sort()).toEqual(['a1', 'a2', 'victim']);
    const t0 = performance.now();
    const replaced = waitForReplacement(c, 'victim', t0);
    rmSync(c.dirs.victim!, { recursive: true, force: true });
    const { ev, elapsedMs } = await replaced;
    expect(ev.current.slice().sort()).toEqual(['a1', 'a2', 's4']);
    expect(elapsedMs).toBeLessThan(1000); // specified detection behaviour (issue 3), not a benchmark
    expect(c.manager.getBackendStatus('a1').metrics.lastUpdateMs).toBeGreaterThan(0);
  });
});
