/**
 * The manager protects log copies from operator changes: removing (or reloading away) a node that
 * holds the last counting copies of acknowledged entries is refused with XDBM_DATA_AT_RISK naming the
 * log and the range; --drain re-replicates first and then removes; --force removes anyway. The
 * replication view (xdbm status / logs, /metrics) shows under-replicated entries. Real BackendManager
 * on real directories.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import type { ManagedLog } from '../../src/wal/log-types.js';
import { until } from '../support/until.js';
import { startCluster, type Cluster } from './cluster.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});


async function withLog(c: Cluster, n: number): Promise<{ log: ManagedLog; payloads: Map<number, Buffer> }> {
  const log = await c.manager.openLog('raft', { rereplicateIntervalMs: 100 });
  const payloads = new Map<number, Buffer>();
  for (let i = 0; i < n; i++) {
    const p = Buffer.from(`entry-${i}`);
    payloads.set((await log.append(p)).index, p);
  }
  return { log, payloads };
}

const over = (base: string) => ({ wal: { metadata: { type: 'file', path: join(base, 'meta') } } });

describe('log copies and operator changes', () => {
  it('refuses to remove the node holding the last counting copies, names the log and range, and --force overrides', async () => {
    cluster = await startCluster({ over: over(join('/tmp', `xdbm-ls-${process.pid}-a`)) });
    const c = cluster;
    const { log, payloads } = await withLog(c, 50);
    const holders = log.members();
    await log.close();
    // Two of the three holders are gone for good (their directories removed): one counting copy left.
    const lost = holders.filter((h) => h !== 'a1').slice(0, 2);
    for (const h of lost) c.manager.reportDataPathError(h, Object.assign(new Error('gone'), { code: 'ENOENT' }));
    const nodeOfA1 = c.nodeOf('a1');
    await expect(c.manager.removeCandidateNode(nodeOfA1)).rejects.toMatchObject({ code: ErrorCode.DATA_AT_RISK });
    const err = (await c.manager.removeCandidateNode(nodeOfA1).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/log raft entries 1-/);
    expect(c.manager.getCandidates().some((x) => x.endpointId === 'a1')).toBe(true); // nothing applied
    const views = await c.manager.logReplication();
    expect(views.find((v) => v.log === 'raft')?.underReplicatedEntries).toBe(payloads.size);
    await c.manager.removeCandidateNode(nodeOfA1, { force: true });
    expect(c.manager.getCandidates().some((x) => x.endpointId === 'a1')).toBe(false);
    rmSync(join('/tmp', `xdbm-ls-${process.pid}-a`), { recursive: true, force: true });
  });

  it('--drain re-replicates what the node holds, then removes it; every entry still reads back', async () => {
    cluster = await startCluster({ over: over(join('/tmp', `xdbm-ls-${process.pid}-b`)) });
    const c = cluster;
    const { log, payloads } = await withLog(c, 200);
    // Take one holder's node away: with two holders left the log is still at ack quorum, so plain
    // removal passes the check, but a second removal would not.
    const [first, second] = log.members();
    await c.manager.removeCandidateNode(c.nodeOf(first!));
    await until(() => !log.members().includes(first!), 'the log leaves the removed node', 5000);
    await until(async () => (await c.manager.logReplication()).every((v) => v.underReplicatedEntries === 0), 'replicated again', 10_000);
    await c.manager.removeCandidateNode(c.nodeOf(second!), { drain: true, timeoutMs: 20_000 });
    expect(c.manager.getCandidates().some((x) => x.endpointId === second)).toBe(false);
    for (const [i, p] of payloads) expect(await log.read(i)).toEqual(p);
    await log.close();
    rmSync(join('/tmp', `xdbm-ls-${process.pid}-b`), { recursive: true, force: true });
  });
});
