/**
 * Chaos suite: the real BackendManager (probes every 200 ms) over 8 local backends on distinct nodes,
 * each on its own real mount (tmpfs; two ext4 images on loop devices), a managed log with 4 writers
 * appending all the time, while active members are, in turn: slowed (fsfreeze for a moment), hung
 * (fsfreeze until the failover happened: a really blocking write, caught by the per-write deadline),
 * removed (directory gone: renamed aside, data kept, put back later), made to fail (directory replaced by a file), filled
 * (ENOSPC), two removed at once, flapped (removed and restored again and again), and corrupted (bytes
 * flipped on disk), and turned read-only (ext4 journal aborted: EROFS). Then every acknowledged index is read back and compared byte for byte.
 * Needs root for the mounts; skipped otherwise (CI runs it as root).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendManager } from '../../src/manager.js';
import type { ManagedLog } from '../../src/wal/log.js';
import {
  abortExt4, dirToFile, fillUp, flipSegmentBytes, freeze, isRoot, mountExt4Image, mountTmpfs, removeDir, thaw, unfill, unmount,
} from './helpers/fault-fs.js';
import { sleep, until } from '../support/until.js';
import { nodePerEndpoint } from '../support/cluster.js';
import { makeTempDir } from '../support/temp-dir.js';
import { requires } from '../support/requires.js';

const CANDIDATES = 8;
const EXT4_ID = 'local-6';
const EXT4_RO_ID = 'local-7';
const WRITE_DEADLINE_MS = 800;

interface Candidate { id: string; mount: string; data: string; kind: 'tmpfs' | 'ext4' }

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** The ext4 member is an image made with mkfs.ext4 (Debian e2fsprogs), mounted on a loop device. */
const e2fs = requires('e2fsprogs');

describe.skipIf(!isRoot || e2fs.missing)(`chaos: zero acknowledged entries lost under backend faults (root: tmpfs/loop mounts, fsfreeze)${e2fs.note}`, () => {
  let root: string;
  const cands: Candidate[] = [];
  let manager: BackendManager;
  let log: ManagedLog;
  const acked = new Map<number, Buffer>();
  const appendErrors: unknown[] = [];
  let stop = false;
  let writers: Promise<void>[] = [];
  const failoverMs: { fault: string; ms: number }[] = [];
  const events: { atMs: number; what: string }[] = [];
  const appendUs: number[] = [];

  beforeAll(async () => {
    root = makeTempDir('xdbm-chaos-');
    for (let i = 0; i < CANDIDATES; i++) {
      const id = `local-${i}`;
      const mount = join(root, `m${i}`);
      const kind = id === EXT4_ID || id === EXT4_RO_ID ? 'ext4' : 'tmpfs';
      if (kind === 'ext4') await mountExt4Image(join(root, `m${i}.img`), mount, 64 * 1024 * 1024);
      else await mountTmpfs(mount, 24 * 1024 * 1024);
      const data = join(mount, 'data');
      await mkdir(data, { recursive: true });
      cands.push({ id, mount, data, kind });
    }
    manager = await BackendManager.open({
      dynamic_backend_manager: {
        target_active_backends: 3,
        health_check_interval_ms: 200,
        candidate_nodes: nodePerEndpoint(cands.map((c) => ({ id: c.id, dir: c.data }))),
        failover: { failure_threshold: 2, recovery_threshold: 2, failover_timeout_ms: 10_000, hold_down_base_ms: 300, hold_down_max_ms: 1000 },
        // Fail-slow off: the ext4 image is always slower than its tmpfs peers and would be moved out for it.
        monitoring: { health_check_types: ['basic'], probe_timeout_ms: 1000, fail_slow: { enabled: false } },
        wal: { ack_quorum: 2, segment_bytes: 1024 * 1024, metadata: { type: 'file', path: join(root, 'meta', 'xdbm-meta.json') } },
      },
    });
    await manager.start();
    manager.on('active-changed', (e) => events.push({ atMs: Date.now(), what: `active-changed ${e.previous.join(',')} -> ${e.current.join(',')} (${e.reason})` }));
    manager.on('state-changed', (e) => events.push({ atMs: Date.now(), what: `state ${e.endpointId} ${e.from}->${e.to} (${e.reason})` }));
    log = await manager.openLog('raft', { writeDeadlineMs: WRITE_DEADLINE_MS, segmentBytes: 128 * 1024 }) as ManagedLog;
    const writer = async (w: number): Promise<void> => {
      for (let seq = 0; !stop; seq++) {
        const payload = Buffer.concat([Buffer.from(`w${w}-${seq}-`), randomBytes(64 + ((seq * 37 + w * 11) % 1500))]);
        try {
          const t0 = process.hrtime.bigint();
          const { index } = await log.append(payload);
          appendUs.push(Number(process.hrtime.bigint() - t0) / 1000);
          expect(acked.has(index)).toBe(false);
          acked.set(index, payload);
        } catch (e) {
          appendErrors.push(e);
          await sleep(20); // on purpose: a writer backs off after a failed append
        }
        if (seq % 8 === 0) await new Promise((r) => setImmediate(r));
      }
    };
    writers = [0, 1, 2, 3].map(writer);
  }, 60_000);

  afterAll(async () => {
    stop = true;
    await Promise.allSettled(writers);
    for (const c of cands) if (c.kind === 'ext4') await thaw(c.mount);
    await log?.close().catch(() => undefined);
    await manager?.stop().catch(() => undefined);
    for (const c of cands) await unmount(c.mount);
    await rm(root, { recursive: true, force: true });
  }, 60_000);

  const cand = (id: string): Candidate => cands.find((c) => c.id === id)!;

  /** Waits until the log's ensemble no longer holds `ids`; returns ms since `sinceMs`. */
  async function waitLeft(ids: string[], sinceMs: number, timeoutMs = 15_000): Promise<number> {
    await until(() => !ids.some((id) => log.members().includes(id)), `${ids.join(',')} out of the ensemble`, { timeoutMs, intervalMs: 5 });
    const change = log.stats().ensembleChanges.filter((c) => c.atMs >= sinceMs && ids.some((id) => c.removed.includes(id))).at(-1);
    return (change?.atMs ?? Date.now()) - sinceMs;
  }

  async function progress(entries: number): Promise<void> {
    const target = acked.size + entries;
    await until(() => acked.size >= target, `progress: ${target} acknowledged`, { timeoutMs: 15_000, intervalMs: 5 });
  }

  async function member(prefer?: (c: Candidate) => boolean): Promise<Candidate> {
    const ids = log.members();
    const hit = ids.map(cand).find((c) => !prefer || prefer(c));
    return hit ?? cand(ids[0]!);
  }

  async function makeActive(id: string): Promise<void> {
    await until(async () => {
      if (log.members().includes(id)) return true;
      const victim = log.members().find((m) => m !== id)!;
      await manager.forceBackendSwitch(victim, id).catch(() => undefined); // refused while a change is under way: try again
      return false;
    }, `${id} a member`, { timeoutMs: 15_000, intervalMs: 100 });
  }

  it('runs the fault script with appends going on', async () => {
    try {
      await faultScript();
    } catch (e) {
      // Enough to tell what went wrong from CI output alone.
      console.log('chaos script failed:', e, '\nmembers', log.members(), '\nstats', JSON.stringify(log.stats()),
        '\nevents\n', events.slice(-40).map((x) => `${x.atMs} ${x.what}`).join('\n'));
      throw e;
    }
  }, 120_000);

  async function faultScript(): Promise<void> {
    await progress(200);

    // Slowed: the ext4 member stalls for 200 ms, well under the write deadline.
    await makeActive(EXT4_ID);
    await progress(50);
    await freeze(cand(EXT4_ID).mount);
    await sleep(200); // on purpose: the fault is a 200 ms stall
    await thaw(cand(EXT4_ID).mount);
    await progress(100);

    // Hung: writes block for real until thawed; the per-write deadline turns it into a timeout.
    await makeActive(EXT4_ID);
    const tHang = Date.now();
    await freeze(cand(EXT4_ID).mount);
    try {
      failoverMs.push({ fault: 'hung', ms: await waitLeft([EXT4_ID], tHang) });
    } finally {
      await thaw(cand(EXT4_ID).mount);
    }
    const timeouts = log.stats().dataPathErrors.filter((e) => e.atMs >= tHang && e.code === 'XDBM_IO_TIMEOUT').map((e) => e.endpointId);
    console.log('hang window events:', events.filter((e) => e.atMs >= tHang - 1500).map((e) => `${e.atMs - tHang}ms ${e.what}`).join('\n'),
      JSON.stringify(log.stats().dataPathErrors), JSON.stringify(log.stats().ensembleChanges));
    expect(timeouts).toContain(EXT4_ID); // the hang was caught by the per-write deadline, not a probe
    await progress(100);

    const single: [string, (c: Candidate) => Promise<() => Promise<void>>, ((c: Candidate) => boolean)?][] = [
      ['removed', (c) => removeDir(c.data)],
      ['errors', (c) => dirToFile(c.data)],
      ['filled', async (c) => { await fillUp(c.mount); return () => unfill(c.mount); }, (c) => c.kind === 'tmpfs'],
    ];
    for (const [fault, inject, prefer] of single) {
      const c = await member(prefer);
      const t0 = Date.now();
      const restore = await inject(c);
      try {
        failoverMs.push({ fault, ms: await waitLeft([c.id], t0) });
      } finally {
        await restore();
      }
      await progress(100);
    }

    // Read-only: the ext4 journal aborted under the open segment (EROFS on the next write).
    {
      await makeActive(EXT4_RO_ID);
      await progress(50);
      const t0 = Date.now();
      await abortExt4(cand(EXT4_RO_ID).mount);
      failoverMs.push({ fault: 'read-only', ms: await waitLeft([EXT4_RO_ID], t0) });
      expect(log.stats().dataPathErrors.some((e) => e.endpointId === EXT4_RO_ID && e.atMs >= t0)).toBe(true);
      await progress(100);
    }

    // Two at once.
    {
      const [a, b] = log.members().map(cand);
      const t0 = Date.now();
      const restores = await Promise.all([removeDir(a!.data), removeDir(b!.data)]);
      try {
        failoverMs.push({ fault: 'two-removed', ms: await waitLeft([a!.id, b!.id], t0) });
      } finally {
        for (const r of restores) await r();
      }
      await progress(100);
    }

    // Flapped: removed and restored four times, 150 ms apart.
    {
      const c = await member();
      const t0 = Date.now();
      for (let k = 0; k < 4; k++) {
        // on purpose: the fault is its timing (150 ms gone, 150 ms back)
        const back = await removeDir(c.data);
        await sleep(150);
        await back();
        await sleep(150);
      }
      failoverMs.push({ fault: 'flapped', ms: await waitLeft([c.id], t0) });
      await progress(100);
    }

    // Corrupted: a byte flipped in the middle of every segment of one member, caught by CRC on read.
    const corrupted = await member();
    const flipped = await flipSegmentBytes(join(corrupted.data, 'wal', 'raft'));
    expect(flipped).toBeGreaterThan(0);
    await progress(100);
    console.log(`chaos failover times so far: ${JSON.stringify(failoverMs)}`);
  }

  it('lost no acknowledged entry and failed no append while a quorum was healthy', async () => {
    stop = true;
    await Promise.all(writers);
    expect(appendErrors).toEqual([]);
    expect(acked.size).toBeGreaterThan(1000);
    const indexes = [...acked.keys()].sort((a, b) => a - b);
    expect(indexes[0]).toBe(1);
    expect(indexes.at(-1)).toBe(indexes.length); // dense: no index skipped or given twice
    expect(log.lastIndex()).toBe(indexes.length);
    let mismatches = 0;
    for (const i of indexes) {
      const got = await log.read(i).catch(async (e) => {
        const { readFile } = await import('node:fs/promises');
        console.log('READ FAIL', i, JSON.stringify((e as { details?: unknown }).details), JSON.stringify(log.stats().ensembleChanges),
          (await readFile(join(root, 'meta', 'xdbm-meta.raft.json'), 'utf8')));
        throw e;
      });
      if (!got.equals(acked.get(i)!)) mismatches++;
    }
    expect(mismatches).toBe(0);
    expect(log.stats().checksumFailures).toBeGreaterThan(0); // the flipped bytes were seen and routed around
    const ms = failoverMs.map((f) => f.ms).sort((a, b) => a - b);
    console.log(`chaos: ${acked.size} entries acknowledged and read back intact; ${log.stats().ensembleChanges.length} ensemble changes; ` +
      `checksum failures routed around: ${log.stats().checksumFailures}`);
    console.log(`chaos failover (fault -> new ensemble) ms: ${failoverMs.map((f) => `${f.fault}=${f.ms}`).join(' ')}; ` +
      `p50=${percentile(ms, 50)} p99=${percentile(ms, 99)}`);
    const us = [...appendUs].sort((a, b) => a - b);
    console.log(`chaos append latency during faults (4 writers) us: p50=${percentile(us, 50).toFixed(0)} ` +
      `p99=${percentile(us, 99).toFixed(0)} max=${us.at(-1)?.toFixed(0)}`);
  }, 60_000);
});
