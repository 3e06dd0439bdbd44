/**
 * One seed: a world of 6-8 simulated members and a metadata store, writers running the REAL log
 * (src/wal/log.ts) with PRNG-chosen client operations and faults, then healing, a final writer that
 * reads everything, and the checker (model.ts).
 */
import { writeFileSync } from 'node:fs';
import type { StorageBackend } from '../../src/backends/backend.js';
import { isXdbmError } from '../../src/errors.js';
import { MemoryHistory } from '../../src/wal/history.js';
import { openManagedLog } from '../../src/wal/log.js';
import type { ManagedLog } from '../../src/wal/log-types.js';
import type { MemberLog } from '../../src/wal/member-log.js';
import { SimManager, simBackend } from './manager.js';
import { type MemberBugs, SimDisk, SimMember, type DiskFault } from './member.js';
import { SimMetaDb, SimMetadataStore, summarize } from './metadata.js';
import { Model, type AppendOp, type ReadOp, type TruncOp } from './model.js';
import type { Rng } from './prng.js';
import { Proc, ProcClock, SimDeadlock, World } from './world.js';

export interface SimOptions {
  verbose?: boolean;
  /** A deliberately broken member (the checker must notice). */
  bugs?: MemberBugs;
  /** Write the histories of failing seeds to /tmp/xdbm-sim-<seed>.jsonl (default true). */
  writeHistory?: boolean;
  maxEvents?: number;
  /** Let a metadata CAS apply after its caller's deadline (default true). */
  lateCas?: boolean;
}

export interface SeedResult {
  seed: number;
  violations: { inv: string; msg: string }[];
  /** How often each kind of fault was injected. */
  coverage: Record<string, number>;
  /** Suspicious events of the run that hint at a root cause (metadata-regression, late-cas). */
  tags: string[];
  trace: string[];
  notes: string[];
  stats: { events: number; virtualMs: number; acked: number; checked: number; exempt: number; writers: number; reads: number };
}

const LOG = 'simlog';

interface Writer {
  n: number;
  name: string;
  proc: Proc;
  mgr: SimManager;
  log?: ManagedLog;
  pending: Set<AppendOp | TruncOp>;
  inflightAppends: number;
}

function codeOf(e: unknown): string {
  return isXdbmError(e) ? e.code : e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

export async function runSeed(seed: number, opts: SimOptions = {}): Promise<SeedResult> {
  const world = new World(seed, { verbose: opts.verbose });
  const rng = world.rng;
  const model = new Model();
  const logHistory = new MemoryHistory();
  const bugs = opts.bugs ?? {};

  // ---- the world --------------------------------------------------------------------------------
  const nDisks = rng.int(6, 8);
  const ackQuorum = 2;
  const nActive = 3;
  const disks = new Map<string, SimDisk>();
  const backends = new Map<string, StorageBackend>();
  for (let k = 0; k < nDisks; k++) {
    const id = `m${k}`;
    disks.set(id, new SimDisk(id));
    backends.set(id, simBackend(id));
  }
  const ids = [...disks.keys()];
  const db = new SimMetaDb();
  db.lateCas_allowed = opts.lateCas !== false;
  const memberRng = rng.fork();
  const metaRng = rng.fork();
  const mgrRng = rng.fork();
  const clientRng = rng.fork();
  const note = (m: string): void => world.log(m);
  // Fault profile of this seed: some seeds never destroy data (invariant 1 then covers every entry).
  const destructive = rng.chance(0.6);
  const profile = {
    gone: rng.int(0, 8), eio: rng.int(0, 5), enospc: rng.int(0, 3), hang: rng.int(0, 4), slow: rng.int(0, 4),
    bitflip: destructive ? rng.int(0, 3) : 0, lostwrite: destructive ? rng.int(0, 2) : 0, misdirect: destructive ? rng.int(0, 2) : 0,
    metaDown: rng.int(0, 4), metaSlow: rng.int(0, 3), crash: rng.int(0, 5), pause: rng.int(0, 4), reselect: rng.int(0, 3),
  };
  // Rolling losses (re-replication): members die for good one at a time, with time between the
  // losses and no other fault that destroys or hides copies; every acknowledged entry must survive.
  const rolling = !destructive && rng.chance(0.35);
  // Calm otherwise: no writer churn (a new writer restarts re-replication), no hidden copies.
  if (rolling) Object.assign(profile, { gone: 0, hang: 0, metaDown: 0, metaSlow: 0, crash: 0, pause: 0 });
  const lossAt = rolling ? [1500, 5500, 9500] : [];
  const durationMs = rolling ? 12_000 : rng.int(1500, 5000);
  const lost = new Set<string>();
  // Client mix: truncations are rare in rolling seeds (each suffix truncation is an epoch to re-replicate).
  const clientMix = rolling
    ? { append: 86, read: 10, suffix: 0.05, prefix: 0.3, idle: 4 }
    : { append: 82, read: 10, suffix: rng.pick([0, 0.5, 2]), prefix: rng.pick([0, 0.5, 2]), idle: 4 };
  const writeDeadlineMs = rng.pick([150, 300, 600]);
  const failoverTimeoutMs = rng.pick([500, 1500, 3000]);
  const maxBatchEntries = rng.int(1, 16);
  const rereplicateIntervalMs = rng.pick([200, 500, 1000]);
  const rereplicateChunkEntries = rng.pick([8, 64, 256]);
  world.log(`seed ${seed}: ${rolling ? 'rolling losses, ' : ''}${nDisks} members, ${durationMs} ms, deadline ${writeDeadlineMs}, failover ${failoverTimeoutMs}, batch ${maxBatchEntries}, re-replication every ${rereplicateIntervalMs} ms by ${rereplicateChunkEntries}, profile ${JSON.stringify(profile)}`);

  const flags = new Set<string>();
  const coverage: Record<string, number> = {};
  const cov = (k: string): void => { coverage[k] = (coverage[k] ?? 0) + 1; };
  const named = (member: string, c: { epoch: number; by: number }): boolean => {
    const m = db.snapshot(LOG);
    const e = m?.epochs.find((x) => x.epoch === c.epoch);
    if (!e) return false;
    return c.by === c.epoch ? e.members.includes(member) : (e.copies ?? []).some((x) => x.member === member && x.by === c.by);
  };
  let payloadSeq = 0;
  let writerSeq = 0;
  const writers: Writer[] = [];
  let current: Writer | undefined;
  let stopClients = false;
  let lastActives = rng.pick([ids.slice(0, nActive), pickN(rng, ids, nActive)]);
  const paused: Writer[] = [];

  const memberFactory = (proc: Proc) => (b: StorageBackend, logName: string): MemberLog =>
    new SimMember({ world, rng: memberRng, bugs, note, named, flag: (t) => flags.add(t) }, disks.get(b.endpointId)!, proc, logName);

  // ---- writers ------------------------------------------------------------------------------------
  async function openWriter(why: string): Promise<Writer | undefined> {
    const n = ++writerSeq;
    const name = `w${n}`;
    const proc = new Proc(name);
    const present = ids.filter((id) => disks.get(id)!.present);
    // Reopen on the same members, on others, or on any (the manager may not know yet that one is gone).
    const x = rng.float();
    const actives = x < 0.5 && lastActives.every((id) => disks.get(id)!.present) ? lastActives
      : x < 0.8 ? pickN(rng, present.length >= nActive ? present : ids, nActive)
      : pickN(rng, ids, nActive);
    const mgr = new SimManager(world, proc, mgrRng, disks, backends, actives, ackQuorum, failoverTimeoutMs);
    mgr.start();
    const w: Writer = { n, name, proc, mgr, pending: new Set(), inflightAppends: 0 };
    writers.push(w);
    const rec = { name, openInv: world.stamp() } as Model['writers'][number];
    model.writers.push(rec);
    world.log(`OPEN ${name} on ${actives.join(',')} (${why})`);
    model.hist({ type: 'invoke', f: 'open', process: name, timeMs: world.now });
    const store = new SimMetadataStore(world, db, proc, metaRng, note, failoverTimeoutMs);
    const p = openManagedLog(mgr.asApi(), LOG, {
      memberFactory: memberFactory(proc), metadataStore: store, clock: new ProcClock(world, proc), writerId: name,
      history: logHistory, ackQuorum, writeDeadlineMs, failoverTimeoutMs, maxBatchEntries, rereplicateIntervalMs,
      rereplicateChunkEntries,
    });
    const r = await raceTimeout(p, 30_000);
    if (r.ok) {
      w.log = r.v;
      rec.openOk = world.stamp();
      rec.recovered = r.v.lastIndex();
      lastActives = actives;
      world.log(`OPENED ${name}: [${r.v.firstIndex()}, ${r.v.lastIndex()}] on ${r.v.members().join(',')}; meta ${summarizeDb()}`);
      model.hist({ type: 'ok', f: 'open', process: name, timeMs: world.now, index: r.v.lastIndex() });
      return w;
    }
    world.log(`OPEN ${name} failed: ${r.timedOut ? 'timed out' : `${codeOf(r.e)} ${r.e instanceof Error ? r.e.message.slice(0, 300) : ''}`}`);
    model.hist({ type: 'fail', f: 'open', process: name, timeMs: world.now, error: r.timedOut ? 'timeout' : codeOf(r.e) });
    world.crash(proc);
    return undefined;
  }

  function summarizeDb(): string {
    const m = db.snapshot(LOG);
    return m ? summarize(m) : '(none)';
  }

  async function raceTimeout<T>(p: Promise<T>, ms: number): Promise<{ ok: true; v: T } | { ok: false; e?: unknown; timedOut?: boolean }> {
    let done = false;
    const res = new Promise<{ ok: true; v: T } | { ok: false; e?: unknown; timedOut?: boolean }>((resolve) => {
      p.then((v) => { if (!done) { done = true; resolve({ ok: true, v }); } }, (e) => { if (!done) { done = true; resolve({ ok: false, e }); } });
      world.at(ms, () => { if (!done) { done = true; resolve({ ok: false, timedOut: true }); } });
    });
    return res;
  }

  /** Opens a writer, retrying (and healing a little) until one opens. */
  async function takeOver(why: string): Promise<Writer | undefined> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const w = await openWriter(`${why}, attempt ${attempt + 1}`);
      if (w) return w;
      await world.sleep(rng.int(100, 800));
      if (attempt >= 2) healSome();
    }
    return undefined;
  }

  function settle(w: Writer, op: AppendOp | TruncOp, ok: boolean, e?: unknown): void {
    if (op.status !== 'pending') return;
    w.pending.delete(op);
    op.tEnd = world.stamp();
    // A failure whose metadata change may have landed (XDBM_FENCED with details.outcome 'unknown') is
    // indeterminate, like a crash: the operation may have taken effect.
    const unknown = !ok && (e as { details?: { outcome?: string } } | undefined)?.details?.outcome === 'unknown';
    op.status = ok ? 'ok' : unknown ? 'info' : 'fail';
    if (!ok) op.error = codeOf(e);
  }

  function crashWriter(w: Writer): void {
    if (w.log && w.proc.alive) {
      const st = w.log.stats();
      world.log(`${w.name} at crash: phase ${st.phase}, epoch ${st.epoch}, under-replicated ${st.underReplicatedEntries}, re-replicated ${st.rereplicatedEntries}`);
    }
    world.crash(w.proc);
    for (const op of w.pending) {
      op.status = 'info';
      op.tEnd = world.stamp();
      op.error = 'crashed';
      model.hist({ type: 'info', f: 'kind' in op ? (op.kind === 'suffix' ? 'truncate-suffix' : 'truncate-prefix') : 'append', process: w.name, timeMs: world.now, error: 'crashed' });
    }
    w.pending.clear();
    const k = paused.indexOf(w);
    if (k >= 0) paused.splice(k, 1);
  }

  // ---- clients --------------------------------------------------------------------------------------
  async function client(w: Writer): Promise<void> {
    const log = w.log!;
    for (;;) {
      await world.sleep(clientRng.int(0, 12), w.proc);
      if (stopClients || !w.proc.alive) return;
      const phase = log.stats().phase;
      if (phase === 'fenced' || phase === 'closed') { world.log(`${w.name} client stops: log ${phase}`); return; }
      const what = clientRng.weighted(clientMix);
      if (what === 'append') {
        if (w.inflightAppends >= 24) continue;
        const id = ++payloadSeq;
        const payload = Buffer.concat([u32(seed), u32(id), clientRng.bytes(clientRng.int(0, 24))]);
        const op = model.invokeAppend(w.name, payload, world.stamp());
        w.pending.add(op);
        w.inflightAppends++;
        let p: Promise<{ index: number }>;
        try { p = log.append(payload); } catch (e) { p = Promise.reject(e); }
        p.then((r) => {
          w.inflightAppends--;
          if (op.status !== 'pending') return;
          op.index = r.index;
          settle(w, op, true);
          model.hist({ type: 'ok', f: 'append', process: w.name, timeMs: world.now, index: r.index, crc: 0, bytes: payload.length });
        }, (e) => {
          w.inflightAppends--;
          settle(w, op, false, e);
          model.hist({ type: op.status === 'fail' ? 'fail' : 'info', f: 'append', process: w.name, timeMs: world.now, error: codeOf(e) });
        });
      } else if (what === 'read') {
        const lo = log.firstIndex();
        const hi = log.lastIndex();
        if (hi < lo) continue;
        const index = clientRng.int(lo, hi);
        const r: ReadOp = { writer: w.name, index, tInv: world.stamp(), tEnd: Infinity };
        model.hist({ type: 'invoke', f: 'read', process: w.name, timeMs: world.now, index });
        log.read(index).then((buf) => {
          r.tEnd = world.stamp();
          r.key = buf.toString('hex');
          model.reads.push(r);
          model.hist({ type: 'ok', f: 'read', process: w.name, timeMs: world.now, index, bytes: buf.length });
        }, (e) => {
          r.tEnd = world.stamp();
          r.error = codeOf(e);
          model.hist({ type: 'fail', f: 'read', process: w.name, timeMs: world.now, index, error: r.error });
        });
      } else if (what === 'suffix' || what === 'prefix') {
        const lo = log.firstIndex();
        const hi = log.lastIndex();
        const at = what === 'suffix' ? Math.max(lo, hi - clientRng.int(0, 6)) : Math.min(hi + 1, lo + clientRng.int(1, 12));
        if (at < 1) continue;
        const op: TruncOp = { kind: what, writer: w.name, at, tInv: world.stamp(), tEnd: Infinity, status: 'pending' };
        model.truncs.push(op);
        w.pending.add(op);
        const f = what === 'suffix' ? 'truncate-suffix' : 'truncate-prefix';
        model.hist({ type: 'invoke', f, process: w.name, timeMs: world.now, index: at });
        world.log(`${w.name} ${f}(${at}) invoked (log [${lo}, ${hi}])`);
        let p: Promise<void>;
        try { p = what === 'suffix' ? log.truncateSuffix(at) : log.truncatePrefix(at); } catch (e) { p = Promise.reject(e); }
        p.then(() => {
          settle(w, op, true);
          world.log(`${w.name} ${f}(${at}) ok`);
          model.hist({ type: 'ok', f, process: w.name, timeMs: world.now, index: at });
        }, (e) => {
          settle(w, op, false, e);
          world.log(`${w.name} ${f}(${at}) failed: ${codeOf(e)}`);
          model.hist({ type: op.status === 'fail' ? 'fail' : 'info', f, process: w.name, timeMs: world.now, index: at, error: codeOf(e) });
        });
      }
    }
  }

  // ---- faults ---------------------------------------------------------------------------------------
  const faultEnds: (() => void)[] = [];
  function setFault(d: SimDisk, f: DiskFault, ms: number): void {
    if (d.fault !== 'none') return;
    if ((f === 'lostwrite' || f === 'misdirect') && [...disks.values()].some((x) => x.fault === 'lostwrite' || x.fault === 'misdirect')) return;
    d.fault = f;
    world.log(`FAULT ${d.id}: ${f} for ${ms} ms`);
    cov(f);
    const end = (): void => { if (d.fault === f) { d.fault = 'none'; world.log(`HEAL ${d.id}: ${f} over`); } };
    faultEnds.push(end);
    world.at(ms, end);
  }
  function healSome(): void {
    const gone = [...disks.values()].filter((d) => !d.present && !lost.has(d.id));
    if (gone.length > 0) { const d = rng.pick(gone); d.present = true; world.log(`BACK ${d.id} (healing to make progress)`); }
    if (db.down) { db.setDown(false); world.log('META back (healing to make progress)'); }
  }
  function healAll(): void {
    for (const d of disks.values()) {
      d.fault = 'none';
      if (lost.has(d.id)) continue;
      if (!d.present) world.log(`BACK ${d.id}`);
      d.present = true;
    }
    db.setDown(false);
    db.slow = false;
    for (const w of writers) w.mgr.clearSuspects();
  }

  async function faultStep(): Promise<void> {
    const kinds = Object.fromEntries(Object.entries(profile).map(([k, v]) => [k, v])) as Record<keyof typeof profile, number>;
    const what = rng.weighted({ ...kinds, nothing: 10 });
    const all = [...disks.values()];
    const d = rng.pick(all);
    switch (what) {
      case 'gone': {
        const goneNow = all.filter((x) => !x.present).length;
        if (d.present && goneNow < 2) {
          d.present = false;
          world.log(`GONE ${d.id}`);
          cov('gone');
          world.at(rng.int(100, 3000), () => { if (!d.present) { d.present = true; world.log(`BACK ${d.id}`); } });
        }
        break;
      }
      case 'eio': setFault(d, 'eio', rng.int(50, 1500)); break;
      case 'enospc': setFault(d, 'enospc', rng.int(50, 1500)); break;
      case 'hang': setFault(d, 'hang', rng.int(50, 1500)); break;
      case 'slow': setFault(d, 'slow', rng.int(100, 2000)); break;
      case 'lostwrite': setFault(d, 'lostwrite', rng.int(50, 800)); break;
      case 'misdirect': setFault(d, 'misdirect', rng.int(50, 500)); break;
      case 'bitflip': {
        const recs = [];
        for (const cs of d.logs.values()) for (const c of cs.values()) for (const r of c.recs) if (r.intact) recs.push(r);
        if (recs.length > 0) {
          const r = rng.pick(recs);
          r.intact = false;
          d.destroy(r);
          world.log(`FAULT ${d.id}: bit flip in [${r.index}]`);
          cov('bitflip');
        }
        break;
      }
      case 'metaDown': if (!db.down) {
        db.setDown(true);
        cov('metaDown');
        world.log('META unavailable');
        world.at(rng.int(100, 4000), () => { if (db.down) { db.setDown(false); world.log('META back'); } });
      } break;
      case 'metaSlow': if (!db.slow) {
        db.slow = true;
        cov('metaSlow');
        world.log('META slow');
        world.at(rng.int(200, 3000), () => { db.slow = false; world.log('META fast'); });
      } break;
      case 'crash': if (current) {
        const w = current;
        crashWriter(w);
        cov('crash');
        current = undefined;
        await world.sleep(rng.int(0, 300));
        const nw = await takeOver(`after crash of ${w.name}`);
        if (nw) { current = nw; void client(nw); }
      } break;
      case 'pause': if (current && paused.length < 2) {
        const w = current;
        world.pause(w.proc, rng.chance(0.5));
        cov('pause');
        paused.push(w);
        const nw = await takeOver(`${w.name} paused`);
        if (nw) { current = nw; void client(nw); }
        else { world.resume(w.proc); paused.splice(paused.indexOf(w), 1); }
      } break;
      case 'reselect': if (current) {
        const w = current;
        const out = rng.pick(w.mgr.actives);
        const pool = ids.filter((x) => !w.mgr.actives.includes(x) && disks.get(x)!.present);
        if (pool.length > 0) { w.mgr.replace(out, rng.pick(pool), 'reselection'); cov('reselect'); }
      } break;
      default: break;
    }
    if (paused.length > 0 && rng.chance(0.3)) {
      const w = paused.shift()!;
      model.writers.find((x) => x.name === w.name)!.resumedAt = world.stamp();
      world.resume(w.proc);
    }
  }

  // ---- the run --------------------------------------------------------------------------------------
  let finalInfo = { checked: 0, exempt: 0 };
  const scenario = async (): Promise<void> => {
    const first = await takeOver('first writer');
    if (!first) { model.violate('L', 'the first writer never opened on a healthy world'); return; }
    current = first;
    void client(first);
    /** Every sealed epoch has ackQuorum holders (ensemble or re-replicated copies) on members that are there. */
    const replicated = (): boolean => {
      const m = db.snapshot(LOG);
      if (!m) return true;
      return m.epochs.every((e, k) => {
        const next = m.epochs[k + 1];
        if (next && next.firstIndex <= Math.max(e.firstIndex, m.firstIndex)) return true; // empty range
        const holders = new Set([...e.members, ...(e.copies ?? []).map((c) => c.member)]);
        return [...holders].filter((id) => disks.get(id)?.present && !lost.has(id)).length >= ackQuorum;
      });
    };
    let lossesLeft = lossAt.length;
    const losses = lossAt.map((t, k) => async (): Promise<void> => {
      await world.sleep(Math.max(0, t - world.now));
      // After the previous loss, wait (up to 15 s) until re-replication has restored every range.
      for (let waited = 0; k > 0 && waited < 15_000 && !replicated(); waited += 100) await world.sleep(100);
      if (k > 0 && !replicated()) {
        flags.add('rereplication-timeout');
        world.log('re-replication did not restore every range within 15 s; losing the next member anyway');
      }
      lossesLeft--;
      // The member holding the most records of the log (the original members first).
      const cands = [...disks.values()].filter((d) => d.present && !lost.has(d.id)).sort((a, b) => b.recordCount() - a.recordCount());
      const d = cands[0];
      if (!d || cands.length <= nActive) return;
      d.present = false;
      lost.add(d.id);
      world.log(`LOST ${d.id} for good (${d.recordCount()} records; rolling losses)`);
      cov('memberLost');
    });
    void (async () => { for (const f of losses) await f(); })();
    while (world.now < durationMs || (lossesLeft > 0 && world.now < 60_000)) {
      await world.sleep(rng.int(20, 300));
      await faultStep();
    }

    // Heal, let the survivors settle, resume everyone.
    stopClients = true;
    healAll();
    for (const w of paused.splice(0)) {
      model.writers.find((x) => x.name === w.name)!.resumedAt = world.stamp();
      world.resume(w.proc);
    }
    await world.sleep(3000);
    for (const w of writers) if (w.proc.alive) crashWriter(w);

    // Invariant 6: metadata deleted while members hold data.
    if (rng.chance(0.2) && db.docs.has(LOG) && [...disks.values()].some((d) => d.logs.get(LOG)?.size)) {
      const saved = db.docs.get(LOG)!;
      // Missing, or unreadable: a document of an older format, or one naming no epoch.
      const how = rng.pick(['deleted', 'old format', 'no epochs'] as const);
      if (how === 'deleted') db.docs.delete(LOG);
      else {
        const m = JSON.parse(saved.json) as { format?: number; epochs: unknown[] };
        if (how === 'old format') delete m.format; else m.epochs = [];
        db.docs.set(LOG, { json: JSON.stringify(m), version: db.nextVersion() });
      }
      const before = [...disks.values()].map((d) => `${d.id}:${d.recordCount()}:${d.logs.get(LOG)?.size ?? 0}`).join(' ');
      world.log(`META document ${how} (invariant 6)`);
      cov(`metadata ${how}`);
      const w6 = await openWriter(`metadata ${how}`);
      if (w6) {
        model.violate('6', `open with the metadata ${how} succeeded (log [${w6.log!.firstIndex()}, ${w6.log!.lastIndex()}]) while members hold data`);
      } else {
        const last = logHistory.events.filter((e) => e.f === 'open' && e.process === `w${writerSeq}`).at(-1);
        if (last?.error !== 'XDBM_LOG_CORRUPT') model.violate('6', `open with the metadata ${how} failed with ${last?.error ?? '?'}, not XDBM_LOG_CORRUPT`);
      }
      for (const w of writers) if (w.proc.alive) crashWriter(w);
      const after = [...disks.values()].map((d) => `${d.id}:${d.recordCount()}:${d.logs.get(LOG)?.size ?? 0}`).join(' ');
      if (after !== before) model.violate('6', `the refused open changed members: ${before} -> ${after}`);
      db.docs.set(LOG, { json: saved.json, version: db.nextVersion() });
    }

    // The final writer reads everything.
    healAll();
    const fin = await takeOver('final writer');
    if (!fin) {
      const destroyedAny = [...disks.values()].some((d) => d.destroyed.size > 0);
      if (destroyedAny) model.notes.push('final writer refused to open after faults destroyed copies (premise of invariant 1 may not hold)');
      else model.violate('L', 'the final writer did not open on a healed world');
      return;
    }
    const log = fin.log!;
    const final = new Map<number, { key?: string; error?: string }>();
    for (let i = log.firstIndex(); i <= log.lastIndex(); i++) {
      const r: ReadOp = { writer: fin.name, index: i, tInv: world.stamp(), tEnd: Infinity, final: true };
      const res = await raceTimeout(log.read(i), 20_000);
      r.tEnd = world.stamp();
      if (res.ok) { r.key = res.v.toString('hex'); final.set(i, { key: r.key }); model.reads.push(r); }
      else { r.error = res.timedOut ? 'timeout' : codeOf(res.e); final.set(i, { error: r.error }); }
    }
    world.log(`FINAL ${fin.name}: [${log.firstIndex()}, ${log.lastIndex()}], meta ${summarizeDb()}`);
    finalInfo = model.checkFinal({ ackQuorum, disks: [...disks.values()], firstIndex: log.firstIndex(), lastIndex: log.lastIndex(), final });
  };

  try {
    await world.runUntil(scenario(), opts.maxEvents ?? 400_000);
  } catch (e) {
    if (e instanceof SimDeadlock) model.violate('L', e.message);
    else model.violate('X', `simulator error: ${e instanceof Error ? e.stack : String(e)}`);
  }
  for (const d of disks.values()) {
    if (d.writesWhileGone.length > 0) model.violate('5', `${d.id} was written while gone: ${d.writesWhileGone.slice(0, 3).join('; ')}`);
  }
  model.ackQuorum = ackQuorum;
  model.copiesOf = (i, key) => [...disks.values()].filter((d) => d.everDurable.has(`${i}|${key}`) && !d.destroyed.has(`${i}|${key}`)).length;
  for (const r of db.regressions.slice(0, 2)) model.violate('2', `metadata went backwards (lost a later change): ${r}`);
  model.checkAcks();
  for (const r of model.reads) model.checkRead(r);

  const acked = model.appends.filter((a) => a.status === 'ok').length;
  if (opts.verbose) {
    for (const d of disks.values()) {
      for (const [k, c] of d.logs.get(LOG) ?? []) {
        const runs: string[] = [];
        let a = -1; let b = -1;
        for (const r of c.recs) {
          const mark = r.intact ? '' : '!';
          if (r.intact && r.index === b + 1 && a >= 0) { b = r.index; continue; }
          if (a >= 0) runs.push(a === b ? `${a}` : `${a}-${b}`);
          if (!r.intact) { runs.push(`${mark}${r.index}`); a = -1; b = -1; continue; }
          a = r.index; b = r.index;
        }
        if (a >= 0) runs.push(a === b ? `${a}` : `${a}-${b}`);
        console.log(`  disk ${d.id}${d.present ? '' : ' (gone)'} copy ${k}${c.fenced ? ' fenced' : ''}: ${runs.join(',')}`);
      }
    }
  }
  // Hints at known root causes (see the report): which suspicious events this run had.
  const tags: string[] = [];
  if (db.regressions.length > 0) tags.push('metadata-regression');
  if (db.lateCas > 0) tags.push('late-cas');
  if (db.lateCas > 0) coverage.lateCas = db.lateCas;
  // Invariant 3 exercised: acknowledgements an older writer got after a newer one had opened.
  const late = model.appends.filter((a) => a.status === 'ok' && model.writers.some((w) => {
    const me = model.writers.find((x) => x.name === a.writer);
    return !!me && w.openInv > me.openInv && w.openOk !== undefined && a.tEnd > w.openOk;
  })).length;
  if (late > 0) coverage.acksAfterTakeover = late;
  if (rolling) tags.push('rolling-losses');
  tags.push(...flags);
  if (model.violations.some((v) => v.msg.startsWith('deposed writer'))) tags.push('stale-read-by-deposed-writer');
  const result: SeedResult = {
    seed, violations: model.violations, tags, coverage, trace: world.trace(), notes: model.notes,
    stats: { events: world.events, virtualMs: world.now, acked, checked: finalInfo.checked, exempt: finalInfo.exempt, writers: writerSeq, reads: model.reads.length },
  };
  if (result.violations.length > 0 && opts.writeHistory !== false) {
    const lines = model.history.events.map((e) => JSON.stringify(e)).join('\n');
    writeFileSync(`/tmp/xdbm-sim-${seed}.jsonl`, `${lines}\n`);
    writeFileSync(`/tmp/xdbm-sim-${seed}.log.jsonl`, `${logHistory.events.map((e) => JSON.stringify(e)).join('\n')}\n`);
  }
  return result;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function pickN<T>(rng: Rng, a: readonly T[], n: number): T[] {
  const c = [...a];
  const out: T[] = [];
  while (out.length < n && c.length > 0) out.push(c.splice(rng.int(0, c.length - 1), 1)[0]!);
  return out;
}
