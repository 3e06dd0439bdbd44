/**
 * Adversarial review of the replicated log (wal-v2): interleavings chosen to lose an acknowledged
 * entry, hand out an index twice, or wedge the log. Real directories; members are FileMembers wrapped
 * so a test can hold a specific call at a specific point (no sleeps for ordering).
 *
 * A test that shows a bug asserts the CORRECT behaviour, so it fails until the bug is fixed.
 */
import { appendFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StorageBackend } from '../../src/backends/backend.js';
import { FileMember } from '../../src/wal/file-member.js';
import { openManagedLog, type ReplicatedLog } from '../../src/wal/log.js';
import type { CopyInfo, CopyRef, MemberLog, ReplicaRecord } from '../../src/wal/member-log.js';
import { FileMetadataStore } from '../../src/wal/metadata/file-store.js';
import type { LogMetadata, MetadataStore, VersionedMetadata } from '../../src/wal/metadata/types.js';
import { encodeRecords } from '../../src/wal/record-format.js';
import { TestEnsemble } from './helpers/test-ensemble.js';

const entry = (i: number, tag = ''): Buffer => Buffer.from(`adv-${tag}${i}:${'q'.repeat(i % 29)}`);

let root: string;
beforeEach(async () => { root = await mkdtemp(join(tmpdir(), 'xdbm-adv-')); });
afterEach(async () => { await rm(root, { recursive: true, force: true }); });

// ---- tools -------------------------------------------------------------------------------------

interface Deferred<T = void> { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void }
function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => { resolve = a; reject = b; });
  return { promise, resolve, reject };
}

async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Hooks {
  /** Runs before the inner call; may await a gate. */
  open?: (id: string) => Promise<void> | void;
  fence?: (id: string, epoch: number) => Promise<void> | void;
  append?: (id: string, copy: CopyRef, records: ReadonlyArray<ReplicaRecord>) => Promise<void> | void;
  /** Runs after the inner append resolved, before the caller sees it. */
  afterAppend?: (id: string, copy: CopyRef, records: ReadonlyArray<ReplicaRecord>) => Promise<void> | void;
  create?: (id: string, copy: CopyRef) => Promise<void> | void;
  collect?: (id: string) => Promise<void> | void;
}

/** A FileMember with hooks before selected calls. */
class Hooked implements MemberLog {
  constructor(readonly inner: FileMember, readonly hooks: Hooks) {}
  get endpointId(): string { return this.inner.endpointId; }
  async open(): Promise<void> { await this.hooks.open?.(this.endpointId); return this.inner.open(); }
  copies(): CopyInfo[] { return this.inner.copies(); }
  hasData(): boolean { return this.inner.hasData(); }
  has(copy: CopyRef, index: number): boolean { return this.inner.has(copy, index); }
  lastIndex(copy: CopyRef): number { return this.inner.lastIndex(copy); }
  damaged(copy: CopyRef): number[] { return this.inner.damaged(copy); }
  read(copy: CopyRef, index: number): Promise<Buffer> { return this.inner.read(copy, index); }
  async create(copy: CopyRef): Promise<void> { await this.hooks.create?.(this.endpointId, copy); return this.inner.create(copy); }
  async append(copy: CopyRef, records: ReadonlyArray<ReplicaRecord>): Promise<void> {
    await this.hooks.append?.(this.endpointId, copy, records);
    await this.inner.append(copy, records);
    await this.hooks.afterAppend?.(this.endpointId, copy, records);
  }
  async fence(epoch: number): Promise<void> { await this.hooks.fence?.(this.endpointId, epoch); return this.inner.fence(epoch); }
  truncatePrefix(beforeIndex: number): Promise<void> { return this.inner.truncatePrefix(beforeIndex); }
  async collect(keep: (c: CopyRef) => boolean, olderThanEpoch: number): Promise<void> {
    await this.hooks.collect?.(this.endpointId);
    return this.inner.collect(keep, olderThanEpoch);
  }
  close(): Promise<void> { return this.inner.close(); }
}

function fileMember(b: StorageBackend, name: string, segmentBytes = 1 << 20): FileMember {
  return new FileMember({ endpointId: b.endpointId, rootDir: (b.config.target as { path: string }).path, logName: name, segmentBytes });
}

function hookedFactory(hooks: Hooks, segmentBytes = 1 << 20) {
  return (b: StorageBackend, name: string): MemberLog => new Hooked(fileMember(b, name, segmentBytes), hooks);
}

const E1: CopyRef = { epoch: 1, by: 1 };

async function memberOn(t: TestEnsemble, id: string): Promise<FileMember> {
  const m = new FileMember({ endpointId: id, rootDir: t.dirOf(id), logName: 'raft', segmentBytes: 1 << 20 });
  await m.open();
  return m;
}

// ---- findings ----------------------------------------------------------------------------------

describe('adversarial: storage fence vs. a stale scan', () => {
  /**
   * M3 says: once fence(N) resolves, every append that was durable before it is visible to the
   * fencer. FileMember.fence() renames e<N> to s<N> but, when the copy was already scanned by open(),
   * only re-points the paths: records the old writer made durable between the fencer's open() scan
   * and its rename are never seen by the fencer.
   */
  it('FileMember: an append that resolved between the fencer\'s open() and its fence() is seen by the fencer', async () => {
    const t = await TestEnsemble.create({ root, candidates: 1 });
    const writer = await memberOn(t, 'b0');
    await writer.create(E1);
    await writer.append(E1, [1, 2, 3].map((i) => ({ index: i, payload: entry(i) })));
    const fencer = await memberOn(t, 'b0'); // recovery's pool.get(): open() scans e1 (up to 3)
    await writer.append(E1, [{ index: 4, payload: entry(4) }]); // resolves: durable, e1 not renamed yet
    await fencer.fence(1);
    await expect(writer.append(E1, [{ index: 5, payload: entry(5) }])).rejects.toMatchObject({ code: 'XDBM_FENCED' });
    // Everything the writer was told is durable must be visible to the fencer (M3).
    expect(fencer.lastIndex(E1)).toBe(4);
    expect(await fencer.read(E1, 4)).toEqual(entry(4));
    await writer.close();
    await fencer.close();
  });

  /**
   * The same window through the public API. Ack quorum 2 of 3; the old writer W1's copy on b2 is slow
   * (its write of 6 is held). The new writer W2's recovery opens (scans) b0, and before it renames
   * e1 on b0, W1's append of 6 lands on b0 and b1 and is ACKNOWLEDGED. W2 then fences b0 without a
   * rescan (sees 5), opens b1 (sees 6) and b2 (sees 5): the 2nd highest lastIndex is 5, so L = 5.
   * Entry 6 is lost, and W2 hands index 6 out again with another payload.
   */
  it('log: an entry acknowledged while recovery is between scan and fence of a member survives the reopen', async () => {
    const t = await TestEnsemble.create({ root, candidates: 3 });
    const holdB2 = deferred();
    let holding = false;
    const w1 = await openManagedLog(t.asManager(), 'raft', {
      writeDeadlineMs: 20_000, rereplicateIntervalMs: 0,
      memberFactory: hookedFactory({ append: async (id) => { if (holding && id === 'b2') await holdB2.promise; } }),
    }) as ReplicatedLog;
    const acked = new Map<number, Buffer>();
    for (let i = 1; i <= 5; i++) acked.set((await w1.append(entry(i))).index, entry(i));
    holding = true;

    const fenceGate = deferred();
    const fenceReached = deferred();
    const w2p = openManagedLog(t.asManager(), 'raft', {
      writeDeadlineMs: 20_000, rereplicateIntervalMs: 0,
      memberFactory: hookedFactory({
        fence: async (id, epoch) => { if (id === 'b0' && epoch === 1) { fenceReached.resolve(); await fenceGate.promise; } },
      }),
    });
    await fenceReached.promise;
    // W1 does not read the metadata to acknowledge: entry 6 is acknowledged by b0 and b1.
    const r6 = await w1.append(entry(6, 'old'));
    acked.set(r6.index, entry(6, 'old'));
    expect(r6.index).toBe(6);
    fenceGate.resolve();
    const w2 = await w2p;
    try {
      expect(w2.lastIndex(), 'recovered end of log').toBeGreaterThanOrEqual(6);
      const next = await w2.append(entry(7, 'new'));
      expect(next.index, 'index handed out again').not.toBe(6);
      for (const [i, want] of acked) expect(await w2.read(i).catch((e) => e), `acknowledged entry ${i}`).toEqual(want);
    } finally {
      holdB2.resolve(); // b2's held write now meets the fence: W1 learns it is fenced
      await until(() => w1.phase === 'fenced', 5000, 'old writer fenced').catch(() => undefined);
      await w1.close().catch(() => undefined);
      await w2.close();
    }
  });
});

describe('adversarial: file metadata store', () => {
  /**
   * The CAS lock is broken once it is older than staleLockMs, but its holder may still be inside the
   * critical section (slow fsync, an NFS hiccup, a stopped process): it read version v before the
   * lock was broken, the breaker reads v too, and both write v+1. Two writers both believe their CAS
   * won (split brain on the metadata: e.g. an old writer's ensemble change and a new writer's claim).
   */
  it('two compareAndSet from the same version never both succeed, even when the first holder is slow past staleLockMs', async () => {
    const dir = join(root, 'meta');
    const hold = deferred();
    const inGet = deferred();
    let slowNext = false;
    class SlowStore extends FileMetadataStore {
      override async get(logName: string): Promise<VersionedMetadata | undefined> {
        const v = await super.get(logName);
        if (slowNext) { slowNext = false; inGet.resolve(); await hold.promise; }
        return v;
      }
    }
    const meta = (w: string): LogMetadata => ({ epochs: [{ epoch: 1, firstIndex: 1, members: ['x'] }], firstIndex: 1, writerId: w });
    const a = new SlowStore({ path: dir, staleLockMs: 100, lockWaitMs: 5000 });
    const b = new FileMetadataStore({ path: dir, staleLockMs: 100, lockWaitMs: 5000 });
    const v1 = await a.compareAndSet('raft', meta('init'), 0);
    slowNext = true;
    const pa = a.compareAndSet('raft', meta('A'), v1).then((v) => ({ ok: true as const, v }), (e) => ({ ok: false as const, e }));
    await inGet.promise; // A holds the lock and has read v1
    const pb = b.compareAndSet('raft', meta('B'), v1).then((v) => ({ ok: true as const, v }), (e) => ({ ok: false as const, e }));
    const rb = await pb; // B breaks the "stale" lock after 100 ms
    hold.resolve();
    const ra = await pa;
    const winners = [ra, rb].filter((r) => r.ok).length;
    const stored = JSON.parse(await readFile(join(dir, 'raft.json'), 'utf8')) as { meta: LogMetadata };
    expect(winners, `both CAS from version ${v1} succeeded; stored writerId=${stored.meta.writerId}`).toBe(1);
  });
});

// ---- attacks the code withstood ------------------------------------------------------------------

describe('adversarial: withstood', () => {
  it('a member write of the old epoch completing after an ensemble change acknowledges nothing in the new one', async () => {
    const t = await TestEnsemble.create({ root, candidates: 4, replaceDelayMs: 0, failoverTimeoutMs: 3000 });
    const holdB1 = deferred();
    const b1Reached = deferred();
    let armed = false;
    const log = await openManagedLog(t.asManager(), 'raft', {
      writeDeadlineMs: 20_000, rereplicateIntervalMs: 0,
      memberFactory: hookedFactory({
        append: async (id, copy) => {
          if (armed && id === 'b1' && copy.epoch === 1) { b1Reached.resolve(); await holdB1.promise; }
          if (armed && id === 'b2' && copy.epoch === 1) throw Object.assign(new Error('EIO'), { code: 'EIO' });
        },
      }),
    }) as ReplicatedLog;
    const acked = new Map<number, Buffer>();
    for (let i = 1; i <= 3; i++) acked.set((await log.append(entry(i))).index, entry(i));
    armed = true;
    const p4 = log.append(entry(4));
    await b1Reached.promise;
    // b2 failed; b0 has 4; b1 is held. A change to {b0, b1, b3} from index 4 (nothing acknowledged at 4).
    await until(() => log.metadata().epochs.length > 1, 5000, 'ensemble change recorded');
    holdB1.resolve();
    const r4 = await p4;
    acked.set(r4.index, entry(4));
    for (let i = 5; i <= 10; i++) acked.set((await log.append(entry(i))).index, entry(i));
    await log.close();
    const again = await openManagedLog(t.asManager(), 'raft', { memberFactory: hookedFactory({}), rereplicateIntervalMs: 0 });
    for (const [i, want] of acked) expect(await again.read(i)).toEqual(want);
    expect(again.lastIndex()).toBe(10);
    await again.close();
  });

  it('a crash between the recovery tail copy and its CAS, then a recovery with a different reachable set', async () => {
    const t = await TestEnsemble.create({ root, candidates: 4 });
    const w1 = await openManagedLog(t.asManager(), 'raft', { memberFactory: hookedFactory({}), rereplicateIntervalMs: 0 });
    const acked = new Map<number, Buffer>();
    for (let i = 1; i <= 8; i++) acked.set((await w1.append(entry(i))).index, entry(i));
    await w1.close();
    // W1 "crashed" with its write of 9 durable on b0 only (never acknowledged).
    const dir0 = join(t.dirOf('b0'), 'wal', 'raft', 'e1');
    const seg = (await readdir(dir0)).filter((n) => n.endsWith('.wal')).sort().at(-1)!;
    await appendFile(join(dir0, seg), encodeRecords([{ index: 9, payload: entry(9, 'unacked') }]));
    // W2 cannot reach b2: L = 9 (need 1), tail [9, 9] copied to the new ensemble, then its recording
    // CAS (the 2nd) fails: a crash between the copy and the record.
    const store = new FileMetadataStore({ path: join(root, 'meta') });
    let casCalls = 0;
    const failing = {
      kind: 'file', get: (n: string) => store.get(n), list: () => store.list(), close: () => store.close(),
      compareAndSet: async (n: string, m: LogMetadata, v: number) => {
        casCalls++;
        if (casCalls === 2) throw Object.assign(new Error('crash before the record'), { code: 'EIO' });
        return store.compareAndSet(n, m, v);
      },
    } as unknown as MetadataStore;
    const noB2: Hooks = { open: (id) => { if (id === 'b2') throw Object.assign(new Error('EIO'), { code: 'EIO' }); } };
    await expect(openManagedLog(t.asManager(), 'raft', { memberFactory: hookedFactory(noB2), metadataStore: failing, rereplicateIntervalMs: 0, failoverTimeoutMs: 2000 })).rejects.toBeTruthy();
    expect(casCalls).toBe(2);
    // W3 reaches b2 again (and b3 holds W2's unrecorded tail copy).
    t.recover('b2');
    const w3 = await openManagedLog(t.asManager(), 'raft', { memberFactory: hookedFactory({}), rereplicateIntervalMs: 0 });
    expect([8, 9]).toContain(w3.lastIndex());
    for (const [i, want] of acked) expect(await w3.read(i)).toEqual(want);
    const n = await w3.append(entry(10, 'w3'));
    acked.set(n.index, entry(10, 'w3'));
    await w3.close();
    const w4 = await openManagedLog(t.asManager(), 'raft', { memberFactory: hookedFactory({}), rereplicateIntervalMs: 0 });
    for (const [i, want] of acked) expect(await w4.read(i)).toEqual(want);
    await w4.close();
  });

  it('close() returns in bounded time while a member append never returns', async () => {
    const t = await TestEnsemble.create({ root, candidates: 3 });
    const never = deferred();
    let armed = false;
    const log = await openManagedLog(t.asManager(), 'raft', {
      writeDeadlineMs: 200, rereplicateIntervalMs: 0, failoverTimeoutMs: 500,
      memberFactory: hookedFactory({ append: async (id) => { if (armed && id === 'b2') await never.promise; } }),
    });
    await log.append(entry(1));
    armed = true;
    await log.append(entry(2));
    const t0 = Date.now();
    await log.close();
    expect(Date.now() - t0).toBeLessThan(3000);
    never.resolve();
  });
});
