/**
 * An active local backend really fails and the manager replaces it by the best healthy candidate in
 * another failure domain. Faults: its directory removed; replaced by a file; its file system full
 * (tmpfs of 256 KiB, filled); its writes refused (tmpfs remounted read-only).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startCluster, waitForReplacement, type Cluster } from './cluster.js';
import { isRoot, tempRoot } from './helpers.js';
import { until } from '../support/until.js';

const mounts: string[] = [];
const cleanups: Array<() => void> = [];
let cluster: Cluster | undefined;

afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});
afterAll(() => {
  for (const m of mounts.reverse()) {
    try { execFileSync('umount', ['-l', m]); } catch { /* already gone */ }
  }
  cleanups.forEach((c) => c());
});

function mountTmpfs(sizeKiB: number): string {
  const t = tempRoot('tmpfs');
  cleanups.push(t.cleanup);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k`, 'tmpfs', t.dir]);
  mounts.push(t.dir);
  return t.dir;
}

function fillUp(dir: string): void {
  try {
    writeFileSync(join(dir, 'filler'), Buffer.alloc(1024 * 1024, 1));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  }
}

function expectDistinctNodes(c: Cluster, ids: string[]): void {
  expect(new Set(ids.map(c.nodeOf)).size).toBe(ids.length);
}

async function expectReplacedAfter(c: Cluster, fault: () => void, expectedCode?: RegExp): Promise<number> {
  expect(c.manager.getActiveBackends().map((a) => a.endpointId).sort()).toEqual(['a1', 'a2', 'victim']);
  const t0 = performance.now();
  const replaced = waitForReplacement(c, 'victim', t0);
  fault();
  const { ev, elapsedMs } = await replaced;
  expect(ev.current.slice().sort()).toEqual(['a1', 'a2', 's4']);
  expectDistinctNodes(c, ev.current);
  for (const e of c.events) {
    expectDistinctNodes(c, e.current);
    expect(e.current).toHaveLength(3);
  }
  const st = c.manager.getBackendStatus('victim');
  expect(st.active).toBe(false);
  if (expectedCode) expect(`${st.lastError?.code} ${st.lastError?.message}`).toMatch(expectedCode);
  expect(c.states.some((s) => s.endpointId === 'victim' && s.to === 'FAILED')).toBe(true);
  const stats = c.manager.getStats();
  expect(stats.failoverCount).toBe(1);
  expect(stats.failedFailovers).toBe(0);
  return elapsedMs;
}

describe('a really failed active local backend is replaced', () => {
  it('directory removed: replaced within one second (interval 200 ms, failure threshold 3), actives on 3 nodes', async () => {
    cluster = await startCluster();
    const c = cluster;
    const elapsedMs = await expectReplacedAfter(c, () => rmSync(c.dirs.victim!, { recursive: true, force: true }), /ENOENT/);
    // Specified behaviour of detection (replaced within one second), not a speed benchmark.
    expect(elapsedMs).toBeLessThan(1000);
    expect(c.manager.getActiveBackends().every((a) => a.state === 'HEALTHY' || a.state === 'DEGRADED')).toBe(true);
  });

  it('directory replaced by a file: replaced, and stays FAILED (re-init keeps failing)', async () => {
    cluster = await startCluster();
    const c = cluster;
    await expectReplacedAfter(c, () => {
      rmSync(c.dirs.victim!, { recursive: true, force: true });
      writeFileSync(c.dirs.victim!, 'not a directory');
    });
    // Three more health checks of the victim (each a re-init that fails), and it is still FAILED.
    const seen = new Set<number>();
    await until(() => seen.add(c.manager.getBackendStatus('victim').lastHealthCheckMs).size > 3, '3 more checks of the victim', 5000);
    expect(c.manager.getBackendStatus('victim').state).toBe('FAILED');
    expect(c.manager.getBackendStatus('victim').lastError?.code).toMatch(/^XDBM_/);
  });

  it.skipIf(!isRoot)('file system full (tmpfs 256 KiB filled): replaced, error XDBM_NO_SPACE [needs root to mount tmpfs]', async () => {
    const mnt = mountTmpfs(256);
    const root = join(mnt, 'data');
    mkdirSync(root);
    cluster = await startCluster({ victimRoot: root });
    await expectReplacedAfter(cluster, () => fillUp(mnt), /XDBM_NO_SPACE|ENOSPC/);
  });

  it.skipIf(!isRoot)('writes refused (tmpfs remounted read-only): replaced, error EROFS [needs root to remount]', async () => {
    const mnt = mountTmpfs(1024);
    const root = join(mnt, 'data');
    mkdirSync(root);
    cluster = await startCluster({ victimRoot: root });
    await expectReplacedAfter(cluster, () => execFileSync('mount', ['-o', 'remount,ro', mnt]), /EROFS/);
  });

  it('a data-path error fails over at once, without waiting for probes', async () => {
    cluster = await startCluster({ over: { health_check_interval_ms: 60_000 } });
    const c = cluster;
    const t0 = performance.now();
    const replaced = waitForReplacement(c, 'victim', t0);
    c.manager.reportDataPathError('victim', Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO', errno: -5 }));
    expect(c.manager.getBackendStatus('victim').state).toBe('FAILED');
    const { ev } = await replaced;
    expect(ev.current.slice().sort()).toEqual(['a1', 'a2', 's4']);
    expect(c.states.find((s) => s.endpointId === 'victim' && s.to === 'FAILED')?.reason).toBe('data-path');
  });
});
