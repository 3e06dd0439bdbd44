/**
 * Adversarial review of the replicated log (wal-v2): interleavings chosen to lose an acknowledged
 * entry, hand out an index twice, or wedge the log. Real directories; members are FileMembers wrapped
 * so a test can hold a specific call at a specific point (no sleeps for ordering).
 *
 * A test that shows a bug asserts the CORRECT behaviour, so it fails until the bug is fixed.
 */
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
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
      await until(() => w1.phase === 'fenced', 5000, 'old writer fenced').catch(() => console.log('W1 not fenced:', w1.phase, JSON.stringify(w1.stats().dataPathErrors)));
      await w1.close().catch(() => undefined);
      await w2.close();
    }
  });
});

describe('adversarial: close() racing a queued metadata change', () => {
  /**
   * close() builds its informational note ({...meta, closedAt}) from the metadata as it is when close()
   * is called, then queues it on the writer's chain behind whatever is there. A truncateSuffix that
   * is under way (phase 'writing', no CAS in flight yet: it is creating e<K> on the members) records
   * epoch K first; then the note is CAS'd against the NEW version with the OLD document, undoing the
   * truncation. The truncateSuffix promise resolved; after a reopen the cut entries are back.
   */
  it('a truncateSuffix that resolved is not undone by a concurrent close()', async () => {
    const t = await TestEnsemble.create({ root, candidates: 3 });
    const createGate = deferred();
    const createReached = deferred();
    let armCreate = false;
    const log = await openManagedLog(t.asManager(), 'raft', {
      rereplicateIntervalMs: 0,
      memberFactory: hookedFactory({
        create: async (id) => { if (armCreate && id === 'b1') { armCreate = false; createReached.resolve(); await createGate.promise; } },
      }),
    }) as ReplicatedLog;
    for (let i = 1; i <= 10; i++) await log.append(entry(i));
    armCreate = true;
    const tp = log.truncateSuffix(6);
    await createReached.promise;
    const cp = log.close();
    await new Promise((r) => setTimeout(r, 20)); // close() has built its note and queued it
    createGate.resolve();
    await tp; // the truncation is recorded: 6..10 are gone
    await cp;
    const doc = JSON.parse(await readFile(join(root, 'meta', 'raft.json'), 'utf8')) as { meta: LogMetadata };
    // Now: epoch 1 unsealed on b0-b2 and claimedEpoch 1 again; every e2 left on the members makes the
    // next open fail (create of e2: "belongs to another writer"), the one after resurrects 6..10.
    const firstTry = await openManagedLog(t.asManager(), 'raft', { memberFactory: hookedFactory({}), rereplicateIntervalMs: 0, failoverTimeoutMs: 500 })
      .then(async (l) => { await l.close(); return 'opened'; }, (e) => String((e as { code?: string }).code));
    // The failed open reported b0-b2 to the manager: bring them back (a report on an unknown id reselects).
    for (const id of ['b0', 'b1', 'b2']) t.recover(id);
    t.reportDataPathError('nobody', new Error('reselect'));
    await until(() => t.active.length === 3, 2000, 'members back');
    const again = await openManagedLog(t.asManager(), 'raft', { memberFactory: hookedFactory({}), rereplicateIntervalMs: 0 });
    try {
      // lastIndex: entries cut by a truncateSuffix that resolved must not come back.
      expect({ firstTry, epochs: doc.meta.epochs.map((e) => `${e.epoch}@${e.firstIndex}`), lastIndex: again.lastIndex() })
        .toEqual({ firstTry: 'opened', epochs: ['1@1', '2@6'], lastIndex: 5 });
      expect((await again.append(entry(6, 'new'))).index).toBe(6);
    } finally {
      await again.close();
    }
  });
});

describe('adversarial: close() note loses acknowledged entries', () => {
  /**
   * Same stale note as above, with the note's CAS slow (held in the store): close() has not moved the
   * log to 'closed' yet, so appends are still taken and acknowledged in epoch 2 (recorded by the
   * truncation). Then the note lands, restoring the epoch-1-only document: a reopen recovers epoch 1
   * and the entries acknowledged in epoch 2 are gone.
   */
  it('entries acknowledged while close() records its note survive a reopen', async () => {
    const t = await TestEnsemble.create({ root, candidates: 3 });
    const store = new FileMetadataStore({ path: join(root, 'meta') });
    const noteGate = deferred();
    const noteReached = deferred();
    const held = {
      kind: 'file', get: (n: string) => store.get(n), list: () => store.list(), close: () => store.close(),
      compareAndSet: async (n: string, m: LogMetadata, v: number) => {
        if (m.closedAt) { noteReached.resolve(); await noteGate.promise; }
        return store.compareAndSet(n, m, v);
      },
    } as unknown as MetadataStore;
    const createGate = deferred();
    const createReached = deferred();
    let armCreate = false;
    const log = await openManagedLog(t.asManager(), 'raft', {
      rereplicateIntervalMs: 0, metadataStore: held, writeDeadlineMs: 60_000,
      memberFactory: hookedFactory({
        create: async (id) => { if (armCreate && id === 'b1') { armCreate = false; createReached.resolve(); await createGate.promise; } },
      }),
    }) as ReplicatedLog;
    const acked = new Map<number, Buffer>();
    for (let i = 1; i <= 10; i++) acked.set((await log.append(entry(i))).index, entry(i));
    armCreate = true;
    const tp = log.truncateSuffix(10);
    await createReached.promise;
    const cp = log.close();
    await new Promise((r) => setTimeout(r, 20));
    createGate.resolve();
    await tp;
    acked.delete(10);
    await noteReached.promise;
    for (let i = 10; i <= 14; i++) acked.set((await log.append(entry(i, 'e2'))).index, entry(i, 'e2'));
    noteGate.resolve();
    await cp;
    for (const id of ['b0', 'b1', 'b2']) t.recover(id);
    let again: ReplicatedLog | undefined;
    for (let k = 0; k < 2 && !again; k++) {
      again = await openManagedLog(t.asManager(), 'raft', { memberFactory: hookedFactory({}), rereplicateIntervalMs: 0, failoverTimeoutMs: 500 })
        .then((l) => l as ReplicatedLog, () => undefined);
      if (!again) {
        for (const id of ['b0', 'b1', 'b2']) t.recover(id);
        t.reportDataPathError('nobody', new Error('reselect'));
        await until(() => t.active.length === 3, 2000, 'members back');
      }
    }
    expect(again, 'reopen').toBeDefined();
    try {
      const bad: string[] = [];
      for (const [i, want] of acked) {
        const got = await again!.read(i).catch((e) => (e as { code?: string }).code);
        if (!(Buffer.isBuffer(got) && got.equals(want))) bad.push(`${i}: ${Buffer.isBuffer(got) ? got.toString() : String(got)}`);
      }
      expect(bad, 'acknowledged entries lost or different after the reopen').toEqual([]);
    } finally {
      await again?.close();
    }
  });
});

describe('adversarial: leftovers of an unrecorded change', () => {
  /**
   * An ensemble change (or truncateSuffix) creates e<K> on its members with K = claimedEpoch + 1
   * BEFORE its CAS; if the store is down (probe fails) and the writer then crashes, claimedEpoch is
   * still K-1 and empty e<K> directories stay behind. The next writer claims K, its members' open()
   * scans find e<K>, and FileMember.create() refuses a copy it found on the medium ("belongs to
   * another writer") even though it is empty, unlike the mkdir-EEXIST path that takes an empty one
   * over. Every member is excluded AND reported failed to the manager: the open fails with
   * XDBM_QUORUM_LOST and the manager has marked the whole ensemble FAILED.
   */
  it('an empty e<K> left by a crashed writer\'s unrecorded change does not fail the next open', async () => {
    const t = await TestEnsemble.create({ root, candidates: 3 });
    const w1 = await openManagedLog(t.asManager(), 'raft', { memberFactory: hookedFactory({}), rereplicateIntervalMs: 0 });
    for (let i = 1; i <= 5; i++) await w1.append(entry(i));
    await w1.close();
    // What W1's change to epoch 2 leaves when its probe fails (store down) and W1 then dies.
    for (const id of ['b0', 'b1', 'b2']) await mkdir(join(t.dirOf(id), 'wal', 'raft', 'e2'));
    const w2 = await openManagedLog(t.asManager(), 'raft', { memberFactory: hookedFactory({}), rereplicateIntervalMs: 0, failoverTimeoutMs: 500 })
      .catch((e) => e as Error);
    expect(t.reports.map((r) => `${r.id}:${r.code}`), 'members reported failed').toEqual([]);
    expect(w2).not.toBeInstanceOf(Error);
    if (!(w2 instanceof Error)) {
      expect(w2.lastIndex()).toBe(5);
      await w2.close();
    }
  });
});

describe('adversarial: liveness after a failed ensemble change', () => {
  /**
   * A manager-driven change (no member of the log failed) cannot find ackQuorum usable members before
   * the failover timeout: chooseEnsemble throws XDBM_QUORUM_LOST and #stall() moves the log to
   * 'stalled'. With nothing pending, #needsNewEpoch stays false. When the manager's active set is
   * later exactly the current ensemble again, the next append schedules a change, #changeEnsemble
   * finds "same" and returns without leaving 'stalled'; #pump refuses to write in 'stalled' and
   * nothing retries: the append never resolves or fails.
   */
  it('an append after a failed manager-driven change, once the active set is the ensemble again, completes', async () => {
    const t = await TestEnsemble.create({ root, candidates: 4 });
    let refuse = false;
    const log = await openManagedLog(t.asManager(), 'raft', {
      rereplicateIntervalMs: 0, failoverTimeoutMs: 400, writeDeadlineMs: 1000,
      memberFactory: hookedFactory({
        create: (id, copy) => { if (refuse && copy.epoch >= 2 && id !== 'b0') throw Object.assign(new Error('EIO'), { code: 'EIO' }); },
      }),
    }) as ReplicatedLog;
    for (let i = 1; i <= 3; i++) await log.append(entry(i));
    refuse = true;
    t.switchActive('b2', 'b3'); // a manual switch: the change cannot get 2 usable members
    await until(() => log.phase === 'stalled', 5000, 'stalled after the failed change');
    refuse = false;
    for (const id of ['b1', 'b2', 'b3']) t.recover(id);
    t.reportDataPathError('nobody', new Error('reselect'));
    await until(() => t.active.length === 3, 2000, 'manager reselected');
    expect(t.active.slice().sort()).toEqual(['b0', 'b1', 'b2']); // exactly the ensemble of epoch 1
    const outcome = await Promise.race([
      log.append(entry(4)).then((r) => `ok ${r.index}`, (e) => `failed ${(e as { code?: string }).code}`),
      new Promise<string>((r) => setTimeout(() => r('still pending after 5 s'), 5000)),
    ]);
    expect(outcome).toBe('ok 4');
    await log.close();
  }, 20_000);
});

describe('adversarial: garbage collection vs. the fenced writer', () => {
  /**
   * The new writer seals epoch 1 on the members that hold all of it and, at open, collects the copies
   * the metadata does not name: the lagging member's s1 is removed. The old writer's write to that
   * member then finds neither e1/<seg> nor s1 and reports XDBM_IO_ERROR instead of XDBM_FENCED: it
   * reports a healthy member failed to the manager and starts an ensemble change instead of stopping.
   */
  it('the old writer\'s write to a lagging member whose fenced copy was collected fails with XDBM_FENCED, and no member is reported failed', async () => {
    const t = await TestEnsemble.create({ root, candidates: 3 });
    const holdB2 = deferred();
    let holding = false;
    const w1 = await openManagedLog(t.asManager(), 'raft', {
      writeDeadlineMs: 20_000, rereplicateIntervalMs: 0,
      memberFactory: hookedFactory({ append: async (id) => { if (holding && id === 'b2') await holdB2.promise; } }),
    }) as ReplicatedLog;
    for (let i = 1; i <= 5; i++) await w1.append(entry(i));
    holding = true;
    await w1.append(entry(6)); // on b0, b1; b2's write is held
    const w2 = await openManagedLog(t.asManager(), 'raft', { rereplicateIntervalMs: 0, memberFactory: hookedFactory({}) });
    holdB2.resolve();
    await until(() => w1.phase === 'fenced' || w1.stats().dataPathErrors.length > 0, 5000, 'old writer saw the fence');
    const errs = w1.stats().dataPathErrors.map((e) => `${e.endpointId}:${e.code}`);
    expect({ phase: w1.phase, errs, reports: t.reports.map((r) => `${r.id}:${r.code}`) }).toEqual({ phase: 'fenced', errs: [], reports: [] });
    await w1.close();
    await w2.close();
  });
});

describe('adversarial: a fenced writer that does not know it yet', () => {
  /**
   * W1 (epoch 1, claimedEpoch 1) has not written since W2 claimed epoch 2 and wrote to e2. A manual
   * switch makes W1 change its ensemble: its K is claimedEpoch(its own stale document) + 1 = 2, and
   * chooseEnsemble's create(e2) on W2's members fails with EEXIST (not empty): W1 excludes them and
   * REPORTS W2's healthy members failed to the manager, before its probe would have told it it is
   * fenced.
   */
  it('a stale writer\'s ensemble change does not report the new writer\'s members failed', async () => {
    const t = await TestEnsemble.create({ root, candidates: 4, failoverTimeoutMs: 500 });
    const w1 = await openManagedLog(t.asManager(), 'raft', { rereplicateIntervalMs: 0, failoverTimeoutMs: 500, memberFactory: hookedFactory({}) }) as ReplicatedLog;
    for (let i = 1; i <= 3; i++) await w1.append(entry(i));
    const w2 = await openManagedLog(t.asManager(), 'raft', { rereplicateIntervalMs: 0, failoverTimeoutMs: 500, memberFactory: hookedFactory({}) }) as ReplicatedLog;
    await w2.append(entry(4)); // e2 on b0-b2 holds data now
    t.switchActive('b2', 'b3');
    await until(() => w1.phase === 'fenced' || t.reports.length > 0, 5000, 'W1 reacted');
    await new Promise((r) => setTimeout(r, 200));
    expect({ w1: w1.phase, reports: t.reports.map((r) => `${r.id}:${r.code}`) }).toEqual({ w1: 'fenced', reports: [] });
    await w1.close();
    await w2.close();
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

  it('truncateSuffix racing appends and a member failure: acknowledged entries below the cut and after it all read back, no index twice', async () => {
    const t = await TestEnsemble.create({ root, candidates: 4, failoverTimeoutMs: 3000 });
    const createGate = deferred();
    const createReached = deferred();
    let armCreate = false;
    let failB2 = false;
    const log = await openManagedLog(t.asManager(), 'raft', {
      writeDeadlineMs: 20_000, rereplicateIntervalMs: 0,
      memberFactory: hookedFactory({
        create: async (id, copy) => { if (armCreate && id === 'b1' && copy.epoch === 2) { armCreate = false; createReached.resolve(); await createGate.promise; } },
        append: (id) => { if (failB2 && id === 'b2') throw Object.assign(new Error('EIO'), { code: 'EIO' }); },
      }),
    }) as ReplicatedLog;
    const acked = new Map<number, Buffer>();
    for (let i = 1; i <= 10; i++) acked.set((await log.append(entry(i))).index, entry(i));
    armCreate = true;
    const tp = log.truncateSuffix(6);
    await createReached.promise;
    // While the truncation waits on b1: more appends (acknowledged in epoch 1) and b2 fails.
    const during = await Promise.all([11, 12].map((i) => log.append(entry(i, 'during'))));
    failB2 = true;
    const p13 = log.append(entry(13, 'late'));
    createGate.resolve();
    await tp;
    const r13 = await p13;
    failB2 = false;
    for (const [i] of acked) if (i >= 6) acked.delete(i);
    // 11-13, acknowledged in epoch 1 while the truncation was under way, may be cut with it (they are
    // concurrent with it); one acknowledged only after the cut was recorded follows the cut.
    expect(during.map((d) => d.index)).toEqual([11, 12]);
    if (r13.index < 11) acked.set(r13.index, entry(13, 'late'));
    for (let i = 0; i < 5; i++) { const p = entry(20 + i, 'after'); acked.set((await log.append(p)).index, p); }
    const indexes = [...acked.keys()].sort((a, b) => a - b);
    expect(indexes).toEqual(Array.from({ length: indexes.length }, (_, k) => k + 1));
    for (const [i, want] of acked) expect(await log.read(i)).toEqual(want);
    await log.close();
    const again = await openManagedLog(t.asManager(), 'raft', { memberFactory: hookedFactory({}), rereplicateIntervalMs: 0 });
    expect(again.lastIndex()).toBe(indexes.at(-1));
    for (const [i, want] of acked) expect(await again.read(i)).toEqual(want);
    await again.close();
  });

  it('metadata store down past the failover timeout while a member fails, then back: the log acknowledges again', async () => {
    const t = await TestEnsemble.create({ root, candidates: 4, failoverTimeoutMs: 400 });
    const store = new FileMetadataStore({ path: join(root, 'meta') });
    let down = false;
    const eio = () => Object.assign(new Error('store down'), { code: 'EIO' });
    const flaky = {
      kind: 'file', list: () => store.list(), close: () => store.close(),
      get: async (n: string) => { if (down) throw eio(); return store.get(n); },
      compareAndSet: async (n: string, m: LogMetadata, v: number) => { if (down) throw eio(); return store.compareAndSet(n, m, v); },
    } as unknown as MetadataStore;
    let failB1 = false;
    let failB2 = false;
    const log = await openManagedLog(t.asManager(), 'raft', {
      writeDeadlineMs: 300, rereplicateIntervalMs: 0, failoverTimeoutMs: 400, metadataStore: flaky,
      memberFactory: hookedFactory({ append: (id) => {
        if ((failB1 && id === 'b1') || (failB2 && id === 'b2')) throw Object.assign(new Error('EIO'), { code: 'EIO' });
      } }),
    }) as ReplicatedLog;
    const acked = new Map<number, Buffer>();
    for (let i = 1; i <= 3; i++) acked.set((await log.append(entry(i))).index, entry(i));
    down = true;
    failB1 = true;
    failB2 = true;
    const failed = await log.append(entry(4)).then(() => 'ok', (e) => String((e as { code?: string }).code));
    expect(failed).not.toBe('ok');
    await new Promise((r) => setTimeout(r, 600));
    down = false;
    failB1 = false;
    failB2 = false;
    t.recover('b1');
    t.recover('b2');
    let r: { index: number } | undefined;
    const end = Date.now() + 8000;
    while (!r && Date.now() < end) {
      r = await log.append(entry(5, 'back')).catch(() => undefined);
      if (!r) await new Promise((res) => setTimeout(res, 100));
    }
    expect(r, `phase ${log.phase}`).toBeDefined();
    expect(r!.index).toBe(4);
    acked.set(r!.index, entry(5, 'back'));
    for (const [i, want] of acked) expect(await log.read(i)).toEqual(want);
    await log.close();
  });

  it('a member unreachable at fence time comes back while the old writer still writes to it: nothing the old writer acknowledges is lost', async () => {
    const t = await TestEnsemble.create({ root, candidates: 4, failoverTimeoutMs: 1000 });
    const w1 = await openManagedLog(t.asManager(), 'raft', { memberFactory: hookedFactory({}), rereplicateIntervalMs: 0, writeDeadlineMs: 5000 }) as ReplicatedLog;
    const acked = new Map<number, Buffer>();
    for (let i = 1; i <= 5; i++) acked.set((await w1.append(entry(i))).index, entry(i));
    // W2 cannot open b2 (unreachable at fence time): it fences b0 and b1 only.
    const w2 = await openManagedLog(t.asManager(), 'raft', {
      rereplicateIntervalMs: 0, failoverTimeoutMs: 1000,
      memberFactory: hookedFactory({ open: (id) => { if (id === 'b2') throw Object.assign(new Error('EIO'), { code: 'EIO' }); } }),
    });
    // W1 still writes to b2 (never fenced there): whatever it acknowledges must survive.
    const late = await Promise.all([6, 7, 8].map((i) => w1.append(entry(i, 'late')).then((r) => ({ r, i }), () => undefined)));
    for (const x of late) if (x) acked.set(x.r.index, entry(x.i, 'late'));
    expect(w1.phase).toBe('fenced');
    const n = await w2.append(entry(9, 'w2'));
    acked.set(n.index, entry(9, 'w2'));
    for (const [i, want] of acked) expect(await w2.read(i)).toEqual(want);
    await w1.close();
    await w2.close();
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
