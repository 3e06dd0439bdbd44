/**
 * Reproduction of the testbed's "acknowledged entries lost under ensemble churn": the real
 * BackendManager over three block backends (loop devices, O_DIRECT addon) and three local directories;
 * the log starts on the three devices (epoch 1), then the active set churns through manual switches
 * and data-path failures (each replaced backend is closed by the manager: graceful shutdown), one
 * epoch-1 member leaves and rejoins, and the set shrinks below the ack quorum and comes back. Four
 * writers append all the time. Afterwards every acknowledged index must read back byte for byte, also
 * when the epoch-1 members are closed by the manager, and after the log is reopened (recovery).
 * Needs root (losetup) and the built addon; skipped otherwise (CI runs as root with the addon).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, XdbmError } from '../../src/errors.js';
import { BackendManager } from '../../src/manager.js';
import type { ManagedLog } from '../../src/wal/log.js';

const run = promisify(execFile);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const addon = existsSync(join(process.cwd(), 'build', 'Release', 'xdbm_native.node'));

async function until(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe.skipIf(!isRoot || !addon)('managed log under ensemble churn on the real manager (root: loop devices, addon)', () => {
  let root: string;
  const loops: string[] = [];
  let manager: BackendManager;
  let log: ManagedLog;
  const acked = new Map<number, Buffer>();
  /** Members of the log's ensemble at the moment each append was acknowledged. */
  const ackedWith: number[] = [];
  const errors: string[] = [];
  let stop = false;
  let writers: Promise<void>[] = [];
  const metaPath = (): string => join(root, 'meta', 'xdbm-meta.json');

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'xdbm-churn-'));
    const nodes: object[] = [];
    for (let i = 0; i < 3; i++) {
      const img = join(root, `blk${i}.img`);
      const f = await open(img, 'w');
      await f.truncate(24 << 20);
      await f.close();
      const loop = (await run('losetup', ['--find', '--show', img])).stdout.trim();
      loops.push(loop);
      nodes.push({ node_id: `n${i}`, address: `10.1.0.${i + 1}`,
        endpoints: [{ endpoint_id: `blk-${i}`, type: 'block', connection_string: `block://${loop}`, weight: 1, probe_area_mb: 4 }] });
    }
    for (let i = 3; i < 6; i++) {
      const dir = join(root, `dir${i}`);
      await mkdir(dir, { recursive: true });
      nodes.push({ node_id: `n${i}`, address: `10.1.0.${i + 1}`,
        endpoints: [{ endpoint_id: `dir-${i}`, type: 'local', connection_string: `file://${dir}`, weight: 1 }] });
    }
    manager = await BackendManager.open({
      dynamic_backend_manager: {
        target_active_backends: 3,
        health_check_interval_ms: 200,
        candidate_nodes: nodes,
        failover: { failure_threshold: 2, recovery_threshold: 2, failover_timeout_ms: 5000, hold_down_base_ms: 200, hold_down_max_ms: 400 },
        monitoring: { health_check_types: ['basic'], probe_timeout_ms: 1000, fail_slow: { enabled: false } },
        wal: { ack_quorum: 2, segment_bytes: 1024 * 1024, metadata: { type: 'file', path: metaPath() } },
      },
    });
    await manager.start();
    // Epoch 1 on the three devices.
    for (let i = 0; i < 3; i++) {
      const id = `blk-${i}`;
      if (manager.getActiveBackends().some((a) => a.endpointId === id)) continue;
      const victim = manager.getActiveBackends().map((a) => a.endpointId).find((x) => x.startsWith('dir-'))!;
      await manager.forceBackendSwitch(victim, id);
    }
    log = await manager.openLog('raft', { writeDeadlineMs: 1000, failoverTimeoutMs: 1500 }) as ManagedLog;
    expect([...log.members()].sort()).toEqual(['blk-0', 'blk-1', 'blk-2']);
    const writer = async (w: number): Promise<void> => {
      for (let seq = 0; !stop; seq++) {
        const payload = Buffer.concat([Buffer.from(`w${w}-${seq}-`), randomBytes(32 + ((seq * 37 + w * 11) % 700))]);
        try {
          const { index } = await log.append(payload);
          ackedWith.push(log.members().length);
          expect(acked.has(index)).toBe(false);
          acked.set(index, payload);
        } catch (e) {
          errors.push((e as XdbmError).code ?? String(e));
          await new Promise((r) => setTimeout(r, 20));
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    writers = [0, 1, 2, 3].map(writer);
  }, 60_000);

  afterAll(async () => {
    stop = true;
    await Promise.allSettled(writers);
    await log?.close().catch(() => undefined);
    await manager?.stop().catch(() => undefined);
    for (const l of loops) await run('losetup', ['-d', l]).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }, 60_000);

  const actives = (): string[] => manager.getActiveBackends().map((a) => a.endpointId);
  const progress = async (n: number): Promise<void> => {
    const target = acked.size + n;
    await until(() => acked.size >= target, `${n} more acknowledged appends`);
  };
  const changes = (): number => log.stats().ensembleChanges.length;

  it('churns the active set 4+ times (switches, failures, a rejoin, below quorum and back)', async () => {
    await progress(40);
    const epoch1 = new Set(acked.keys());

    // 1. manual switch: blk-0 out (the manager closes it).
    let c = changes();
    await manager.forceBackendSwitch('blk-0', 'dir-3');
    await until(() => changes() > c && !log.members().includes('blk-0'), 'blk-0 left');
    await progress(20);

    // 2. data-path failure of blk-1: failed over to dir-4, closed.
    c = changes();
    manager.reportDataPathError('blk-1', new XdbmError(ErrorCode.IO_TIMEOUT, 'test: timed out'));
    manager.reportDataPathError('blk-1', new XdbmError(ErrorCode.IO_TIMEOUT, 'test: timed out'));
    await until(() => changes() > c && !log.members().includes('blk-1'), 'blk-1 left');
    await progress(20);

    // 3. blk-2 out too: none of epoch 1's members is active now (all closed by the manager).
    c = changes();
    await manager.forceBackendSwitch('blk-2', ['dir-3', 'dir-4', 'dir-5'].find((id) => !actives().includes(id))!);
    await until(() => changes() > c && !log.members().includes('blk-2'), 'blk-2 left');
    await progress(20);

    // 4. blk-0 rejoins in a later epoch.
    // (the failover of step 2 may already have picked it as blk-1's replacement).
    c = changes();
    if (!actives().includes('blk-0')) await manager.forceBackendSwitch(actives().find((id) => id.startsWith('dir-'))!, 'blk-0');
    await until(() => log.members().includes('blk-0'), 'blk-0 rejoined');
    await progress(20);

    // 5. Below the ack quorum: blk-0 and one directory fail with nothing eligible to replace them.
    const gone = ['blk-0', actives().find((id) => id.startsWith('dir-'))!];
    for (const id of ['blk-1', 'blk-2', 'dir-3', 'dir-4', 'dir-5'].filter((x) => !actives().includes(x))) {
      manager.reportDataPathError(id, new XdbmError(ErrorCode.IO_ERROR, 'test: out of the pool'));
      manager.reportDataPathError(id, new XdbmError(ErrorCode.IO_ERROR, 'test: out of the pool'));
    }
    for (const id of gone) {
      manager.reportDataPathError(id, new XdbmError(ErrorCode.IO_ERROR, 'test: failed'));
      manager.reportDataPathError(id, new XdbmError(ErrorCode.IO_ERROR, 'test: failed'));
    }
    await until(() => actives().length < 2, 'active set shrank below the ack quorum', 10_000);
    // 6. The monitor's probes find them healthy again; the set refills and the log goes on.
    await until(() => actives().length === 3, 'active set refilled', 20_000);
    await progress(40);
    expect(log.stats().ensembleChanges.length).toBeGreaterThanOrEqual(4);
    expect(epoch1.size).toBeGreaterThanOrEqual(40);
  }, 90_000);

  it('acknowledged every append with at least the ack quorum, and lost none of them', async () => {
    stop = true;
    await Promise.all(writers);
    const unexpected = errors.filter((e) => e !== ErrorCode.QUORUM_LOST);
    expect(unexpected).toEqual([]);
    expect(Math.min(...ackedWith)).toBeGreaterThanOrEqual(2);
    const indexes = [...acked.keys()].sort((a, b) => a - b);
    expect(indexes[0]).toBe(1);
    expect(indexes.at(-1)).toBe(indexes.length);
    const lost: { index: number; code: string }[] = [];
    const check = async (): Promise<void> => {
      lost.length = 0;
      for (const i of indexes) {
        try {
          if (!(await log.read(i)).equals(acked.get(i)!)) lost.push({ index: i, code: 'MISMATCH' });
        } catch (e) {
          lost.push({ index: i, code: (e as XdbmError).code });
        }
      }
    };
    await check();
    expect(lost).toEqual([]);

    // None of epoch 1's members active any more, and the manager's instances of them closed (as after a
    // failover's graceful shutdown, or while the monitor reopens a FAILED one): still readable.
    for (const id of ['blk-0', 'blk-1', 'blk-2']) {
      if (!actives().includes(id)) continue;
      const dir = ['dir-3', 'dir-4', 'dir-5'].find((x) => !actives().includes(x))!;
      await manager.forceBackendSwitch(id, dir);
    }
    await until(() => log.members().every((id) => id.startsWith('dir-')), 'epoch-1 members left the ensemble');
    for (const id of ['blk-0', 'blk-1', 'blk-2']) await manager.getBackend(id)!.close();
    await check();
    expect(lost).toEqual([]);

    // And after a restart of the log (recovery), everything still reads back.
    await log.close();
    log = await manager.openLog('raft', { writeDeadlineMs: 1000, failoverTimeoutMs: 3000 }) as ManagedLog;
    expect(log.lastIndex()).toBe(indexes.length);
    await check();
    expect(lost).toEqual([]);
  }, 90_000);
});
