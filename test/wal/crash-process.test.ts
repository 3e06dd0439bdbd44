/**
 * Real writer processes killed and paused at random moments (kill -9, SIGSTOP/SIGCONT), one or two
 * at a time fighting over the same log, on real directories, with the file metadata store and with a
 * real etcd. Each writer records a Jepsen-style history (helpers/writer-process.mjs); afterwards one
 * more writer opens the log and every acknowledged append must read back byte-identical (invariant 1),
 * no index acknowledged twice with different payloads (invariant 2). The writers run the compiled code
 * in dist/ (npm test builds it first).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { crc32c } from '../../src/wal/crc32c.js';
import type { HistoryEvent } from '../../src/wal/history.js';
import { openManagedLog } from '../../src/wal/log.js';
import { EtcdMetadataStore } from '../../src/wal/metadata/etcd-store.js';
import { etcdAvailable, startEtcd, type EtcdServer } from './helpers/etcd-server.js';
import { TestEnsemble } from './helpers/test-ensemble.js';
import { until } from '../support/until.js';

const WRITER = fileURLToPath(new URL('./helpers/writer-process.mjs', import.meta.url));
const DIST = fileURLToPath(new URL('../../dist/src/wal/log.js', import.meta.url));
const built = existsSync(DIST);
const CANDIDATES = 6;

let root: string;
const children = new Set<ChildProcess>();
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'xdbm-crash-'));
  for (let i = 0; i < CANDIDATES; i++) await mkdir(join(root, `b${i}`));
});
afterEach(async () => {
  for (const c of children) { try { process.kill(c.pid!, 'SIGKILL'); } catch { /* gone */ } }
  children.clear();
  await rm(root, { recursive: true, force: true });
});

function writer(name: string, metadata: string, active = 'b0,b1,b2', appenders = 4): { child: ChildProcess; history: string; lines: string[] } {
  const history = join(root, `${name}.jsonl`);
  const child = spawn(process.execPath, [WRITER, root, String(CANDIDATES), active, metadata, name, history, String(appenders)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const lines: string[] = [];
  child.stdout!.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  child.stderr!.on('data', (d: Buffer) => lines.push(`stderr: ${d.toString()}`));
  return { child, history, lines };
}


function kill(c: ChildProcess, sig: NodeJS.Signals): Promise<void> {
  return new Promise((r) => {
    if (c.exitCode !== null || c.signalCode !== null) return r();
    c.once('exit', () => r());
    c.kill(sig);
  });
}

function events(history: string): HistoryEvent[] {
  if (!existsSync(history)) return [];
  return readFileSync(history, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as HistoryEvent);
}

const acks = (h: HistoryEvent[]): HistoryEvent[] => h.filter((e) => e.type === 'ok' && e.f === 'append');

/** Invariants 1 and 2 over the histories, against one more writer's reads. */
async function check(histories: string[], metadata: { dir?: string; etcd?: string }): Promise<{ acked: number; lastIndex: number }> {
  const byIndex = new Map<number, HistoryEvent>();
  const twice: string[] = [];
  for (const h of histories) {
    for (const e of acks(events(h))) {
      const prev = byIndex.get(e.index!);
      if (prev && prev.crc !== e.crc) twice.push(`${e.index}: ${prev.process} ${prev.crc} vs ${e.process} ${e.crc}`);
      byIndex.set(e.index!, e);
    }
  }
  expect(twice, 'an index acknowledged with two payloads').toEqual([]);
  const t = await TestEnsemble.create({ root, candidates: 0, metadataDir: metadata.dir ?? join(root, 'meta') });
  for (let i = 0; i < CANDIDATES; i++) t.backends.push((await import('./helpers/test-ensemble.js')).dirBackend(`b${i}`, join(root, `b${i}`)));
  t.active = ['b0', 'b1', 'b2'];
  const store = metadata.etcd ? new EtcdMetadataStore({ endpoints: [metadata.etcd], prefix: '/xdbm-test/' }) : undefined;
  const log = await openManagedLog(t.asManager(), 'raft', { ...(store ? { metadataStore: store } : {}) });
  try {
    const bad: string[] = [];
    for (const [i, e] of byIndex) {
      const got = await log.read(i).catch((err: { code?: string }) => err);
      if (!Buffer.isBuffer(got)) bad.push(`${i}: ${String((got as { code?: string }).code)}`);
      else if (crc32c(got) !== e.crc || got.length !== e.bytes) bad.push(`${i}: different payload`);
    }
    expect(bad.slice(0, 10), `${bad.length} acknowledged entries lost or changed`).toEqual([]);
    expect(log.lastIndex()).toBeGreaterThanOrEqual(Math.max(0, ...byIndex.keys()));
    return { acked: byIndex.size, lastIndex: log.lastIndex() };
  } finally {
    await log.close();
    await store?.close();
  }
}

const acksIn = (history: string): number => acks(events(history)).length;

function stores(): [string, () => Promise<{ arg: string; meta: { dir?: string; etcd?: string }; stop: () => Promise<void> }>][] {
  const out: [string, () => Promise<{ arg: string; meta: { dir?: string; etcd?: string }; stop: () => Promise<void> }>][] = [
    ['file store', async () => ({ arg: join(root, 'meta'), meta: { dir: join(root, 'meta') }, stop: async () => undefined })],
  ];
  if (etcdAvailable) {
    out.push(['etcd', async () => {
      const etcd: EtcdServer = await startEtcd();
      return { arg: `etcd:${etcd.clientUrl}`, meta: { etcd: etcd.clientUrl }, stop: () => etcd.stop() };
    }]);
  }
  return out;
}

let seed = 0x5eed;
const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };

describe.skipIf(!built)('crash tests on real processes (needs dist/: npm test builds it; etcd runs when /usr/bin/etcd exists: apt-get install etcd-server)', () => {
  beforeAll(() => { seed = Number(process.env.XDBM_CRASH_SEED ?? 0x5eed); });
  afterAll(() => undefined);

  for (const [storeName, makeStore] of stores()) {
    it(`kill -9 at random moments, one writer after another, then two fighting (${storeName})`, async () => {
      const s = await makeStore();
      try {
        const histories: string[] = [];
        for (let round = 0; round < 4; round++) {
          const w = writer(`w${round}`, s.arg, round % 2 === 0 ? 'b0,b1,b2' : 'b0,b3,b4');
          histories.push(w.history);
          await until(() => acksIn(w.history) > 20 || w.child.exitCode !== null, `writer ${round} acknowledges`, 20_000);
          await new Promise((r) => setTimeout(r, 20 + rand(300))); // the kill lands anywhere in the write path
          await kill(w.child, 'SIGKILL');
        }
        // Two writers at once: each open fences the other, which reopens and fences back.
        const a = writer('fightA', s.arg, 'b0,b1,b2');
        const b = writer('fightB', s.arg, 'b3,b4,b5');
        histories.push(a.history, b.history);
        await until(() => acksIn(a.history) + acksIn(b.history) > 100, 'the fighters acknowledge', 30_000);
        await new Promise((r) => setTimeout(r, rand(300)));
        await Promise.all([kill(a.child, 'SIGKILL'), kill(b.child, 'SIGKILL')]);
        const r = await check(histories, s.meta);
        console.log(`kill -9 (${storeName}): ${r.acked} acknowledged appends from ${histories.length} writers, all read back; lastIndex ${r.lastIndex}`);
        expect(r.acked).toBeGreaterThan(100);
      } finally {
        await s.stop();
      }
    }, 120_000);

    it(`a writer stopped with SIGSTOP while another takes over loses nothing the new one acknowledged (${storeName})`, async () => {
      const s = await makeStore();
      try {
        const a = writer('paused', s.arg, 'b0,b1,b2', 8);
        await until(() => acksIn(a.history) > 200, 'A acknowledges', 20_000);
        a.child.kill('SIGSTOP');
        const stoppedAt = acksIn(a.history);
        const b = writer('taker', s.arg, 'b0,b1,b2', 4);
        await until(() => acksIn(b.history) > 200, 'B acknowledges', 20_000);
        a.child.kill('SIGCONT'); // A wakes up with its writes in flight
        await until(() => a.lines.includes('fenced') || a.lines.some((l) => l.startsWith('opened') && a.lines.indexOf(l) > 0), 'A sees it was fenced', 20_000)
          .catch((e: Error) => { throw new Error(`${e.message}; A said: ${a.lines.slice(-10).join(' | ')}; B said: ${b.lines.slice(-5).join(' | ')}`); });
        await until(() => acksIn(b.history) > 400, 'B goes on', 20_000);
        await Promise.all([kill(a.child, 'SIGKILL'), kill(b.child, 'SIGKILL')]);
        const r = await check([a.history, b.history], s.meta);
        const late = acks(events(a.history)).length - stoppedAt;
        console.log(`SIGSTOP (${storeName}): ${r.acked} acknowledged appends read back; A acknowledged ${late} more after waking (each one B's recovery included)`);
        expect(r.acked).toBeGreaterThan(stoppedAt);
      } finally {
        await s.stop();
      }
    }, 120_000);
  }
});
