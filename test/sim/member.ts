/**
 * Simulated storage: a SimDisk per endpoint (survives writer crashes; shared by every writer), and
 * SimMember, the MemberLog a writer process opens on it (member-log.ts contract M1-M4).
 *
 * Durability: an append's records reach the disk ("land") after a PRNG delay and become durable when
 * the append completes. When the writer process crashes, its appends in flight are lost, land whole or
 * land torn (PRNG). A fence landing between an append's landing and its completion makes the append
 * fail with XDBM_FENCED although its records are there.
 *
 * Faults per disk: gone (not mounted: open and I/O fail, data kept), EIO, ENOSPC, hang (forever, or
 * completes very late), slow, lost writes (a lying member: acknowledged, later dropped), misdirected
 * writes (the records go elsewhere and damage another record), bit flips. Every copy a fault destroys
 * is recorded (destroyed), and every copy that became durable too (everDurable), per (index, payload):
 * invariant 1's premise counts copies from these.
 */
import { ErrorCode, XdbmError } from '../../src/errors.js';
import type { CopyInfo, CopyRef, MemberLog, ReplicaRecord } from '../../src/wal/member-log.js';
import type { Rng } from './prng.js';
import type { Proc, World } from './world.js';

export interface Rec {
  index: number;
  payload: Buffer;
  key: string;
  intact: boolean;
  durable: boolean;
  /** A lying member acknowledged it but will not keep it. */
  doomed?: boolean;
}

export class SimCopy {
  fenced = false;
  /** Sorted by index (appends only add after the last record). */
  readonly recs: Rec[] = [];
  readonly byIndex = new Map<number, Rec>();
  constructor(readonly epoch: number, readonly by: number) {}
  lastIntact(): number {
    for (let k = this.recs.length - 1; k >= 0; k--) if (this.recs[k]!.intact) return this.recs[k]!.index;
    return 0;
  }
  firstIntact(): number {
    for (const r of this.recs) if (r.intact) return r.index;
    return 0;
  }
  remove(r: Rec): void {
    const k = this.recs.indexOf(r);
    if (k >= 0) this.recs.splice(k, 1);
    if (this.byIndex.get(r.index) === r) this.byIndex.delete(r.index);
  }
}

export type DiskFault = 'none' | 'eio' | 'enospc' | 'hang' | 'slow' | 'lostwrite' | 'misdirect';

export class SimDisk {
  present = true;
  fault: DiskFault = 'none';
  /** logName -> copyKey -> copy. The log's directory exists iff the log has an entry here. */
  readonly logs = new Map<string, Map<string, SimCopy>>();
  /** logName -> fenced writer epochs. */
  readonly fences = new Map<string, Set<number>>();
  readonly everDurable = new Set<string>();
  readonly destroyed = new Set<string>();
  /** Invariant 5: things a member created or wrote while this disk was gone (broken members only). */
  readonly writesWhileGone: string[] = [];
  constructor(readonly id: string) {}

  copy(log: string, c: CopyRef): SimCopy | undefined {
    return this.logs.get(log)?.get(ck(c));
  }
  fencedEpochs(log: string): Set<number> {
    let s = this.fences.get(log);
    if (!s) this.fences.set(log, (s = new Set()));
    return s;
  }
  markDurable(r: Rec): void {
    if (r.durable) return;
    r.durable = true;
    if (r.intact && !r.doomed) this.everDurable.add(`${r.index}|${r.key}`);
  }
  destroy(r: Rec): void {
    this.destroyed.add(`${r.index}|${r.key}`);
  }
  /** Copies of (index, payload) on this disk that are durable and intact now. */
  holds(index: number, key: string): boolean {
    for (const copies of this.logs.values()) {
      for (const c of copies.values()) {
        const r = c.byIndex.get(index);
        if (r && r.key === key && r.intact && r.durable) return true;
      }
    }
    return false;
  }
  recordCount(): number {
    let n = 0;
    for (const copies of this.logs.values()) for (const c of copies.values()) n += c.recs.length;
    return n;
  }
}

function ck(c: CopyRef): string { return `${c.epoch}/${c.by}`; }

const err = (code: XdbmError['code'], msg: string, details?: Record<string, unknown>): XdbmError => new XdbmError(code, msg, { details });

export interface MemberBugs {
  /** fence() resolves without fencing anything (proves the checker sees a missing storage-side fence). */
  noFence?: boolean;
  /** open() of a missing member succeeds and shows it empty (proves invariant 5 is checked). */
  missingAsEmpty?: boolean;
}

export interface SimIoTiming {
  /** Delay of one I/O reaching the storage, and of its answer. */
  minMs: number;
  maxMs: number;
}

interface InFlight {
  kind: 'append';
  copy: SimCopy;
  recs: Rec[];
  landed: boolean;
  /** Reaches the storage now (a crash: the write was in the kernel or on the wire). */
  landNow?: () => void;
}

export interface SimEnv {
  world: World;
  rng: Rng;
  bugs: MemberBugs;
  /** Records a storage-side event for the trace. */
  note: (msg: string) => void;
  /** Whether the metadata (as stored now) names this copy on this member; collecting one is noted. */
  named?: (member: string, c: CopyRef) => boolean;
  /** Suspicious events (root-cause hints): 'collected-named-copy'. */
  flag?: (tag: string) => void;
}

/** keyOf(payload) for the checker: payloads are small, hex is fine. */
export function keyOf(p: Uint8Array): string { return Buffer.from(p).toString('hex'); }

export class SimMember implements MemberLog {
  readonly endpointId: string;
  #opened = false;
  #closed = false;
  /** missingAsEmpty bug: the shadow this member writes to instead of the (gone) disk. */
  #shadow?: SimDisk;
  readonly #inflight = new Set<InFlight>();

  constructor(readonly env: SimEnv, readonly disk: SimDisk, readonly proc: Proc, readonly logName: string) {
    this.endpointId = disk.id;
    proc.onCrash.push(() => this.#crash());
  }

  get #d(): SimDisk { return this.#shadow ?? this.disk; }
  #copies(): Map<string, SimCopy> | undefined { return this.#d.logs.get(this.logName); }

  // ---- synchronous views ------------------------------------------------------------------------

  copies(): CopyInfo[] {
    const out: CopyInfo[] = [];
    for (const c of this.#copies()?.values() ?? []) {
      out.push({ epoch: c.epoch, by: c.by, firstIndex: c.firstIntact(), lastIndex: c.lastIntact(), fenced: c.fenced });
    }
    return out;
  }
  hasData(): boolean {
    const cs = this.#copies();
    return !!cs && cs.size > 0;
  }
  has(copy: CopyRef, index: number): boolean {
    const r = this.#d.copy(this.logName, copy)?.byIndex.get(index);
    return !!r && r.intact;
  }
  lastIndex(copy: CopyRef): number {
    return this.#d.copy(this.logName, copy)?.lastIntact() ?? 0;
  }
  damaged(copy: CopyRef): number[] {
    const c = this.#d.copy(this.logName, copy);
    if (!c) return [];
    const last = c.lastIntact();
    return c.recs.filter((r) => !r.intact && r.index < last).map((r) => r.index);
  }

  // ---- I/O ----------------------------------------------------------------------------------------

  /**
   * One I/O: decides its fault when issued, reaches the storage (land) after a delay, answers after
   * another. land() runs against the disk as it is at that moment and returns the result or throws.
   */
  #io<T>(what: string, kind: 'read' | 'write' | 'meta', land: () => T, onSettled?: (ok: boolean) => unknown, hooks?: { landNow?: () => void }): Promise<T> {
    if (this.#closed) return Promise.reject(err(ErrorCode.CLOSED, `sim member ${this.endpointId} closed`));
    const { world, rng } = this.env;
    const disk = this.disk;
    return new Promise<T>((resolve, reject) => {
      let d1 = rng.int(0, 4);
      let d2 = rng.int(0, 4);
      const f = disk.fault;
      if (f === 'slow') { d1 += rng.int(0, 150); d2 += rng.int(0, 150); }
      if (f === 'hang' && rng.chance(0.8)) {
        // Forever, or very late (an NFS server that comes back): the log's deadline has long fired.
        if (rng.chance(0.5)) { this.env.note(`${this.endpointId}: ${what} hangs forever`); return; }
        d1 += rng.int(2000, 8000);
      }
      const failNow = (f === 'eio' && rng.chance(0.6)) ? err(ErrorCode.IO_ERROR, `${this.endpointId}: ${what}: EIO`, { syscallCode: 'EIO' })
        : (f === 'enospc' && kind === 'write' && rng.chance(0.7)) ? new XdbmError(ErrorCode.NO_SPACE, `${this.endpointId}: ${what}: ENOSPC`, { syscallCode: 'ENOSPC' })
        : null;
      let landed = false;
      const doLand = (): { ok: true; v: T } | { ok: false; e: unknown } | null => {
        if (landed) return null;
        landed = true;
        let result: { ok: true; v: T } | { ok: false; e: unknown };
        if (failNow) result = { ok: false, e: failNow };
        else if (!disk.present && !(this.env.bugs.missingAsEmpty && (this.#shadow || what === 'open'))) {
          result = { ok: false, e: err(ErrorCode.NOT_MOUNTED, `${this.endpointId} is not mounted (${what})`) };
        } else {
          try { result = { ok: true, v: land() }; } catch (e) { result = { ok: false, e }; }
        }
        return result;
      };
      if (hooks) hooks.landNow = () => { doLand(); };
      world.at(d1, () => {
        const result = doLand();
        if (!result) return;
        world.at(d2, () => {
          const override = onSettled?.(result.ok);
          if (override) reject(override);
          else if (result.ok) resolve(result.v); else reject(result.e);
        }, this.proc);
      }, this.proc, true);
    });
  }

  async open(): Promise<void> {
    await this.#io('open', 'meta', () => {
      if (!this.disk.present && this.env.bugs.missingAsEmpty) {
        this.#shadow = new SimDisk(this.disk.id);
        this.disk.writesWhileGone.push('open treated the missing member as empty');
      }
      this.#opened = true;
    });
  }

  async read(copy: CopyRef, index: number): Promise<Buffer> {
    return this.#io(`read ${ck(copy)}[${index}]`, 'read', () => {
      const r = this.#d.copy(this.logName, copy)?.byIndex.get(index);
      if (!r) throw err(ErrorCode.ENTRY_NOT_FOUND, `${this.endpointId} has no ${ck(copy)}[${index}]`, { index });
      if (!r.intact) throw err(ErrorCode.CHECKSUM_MISMATCH, `${this.endpointId} ${ck(copy)}[${index}] fails its check`, { index });
      return Buffer.from(r.payload);
    });
  }

  async create(copy: CopyRef): Promise<void> {
    await this.#io(`create ${ck(copy)}`, 'write', () => {
      const d = this.#d;
      if (d !== this.disk || !this.disk.present) this.disk.writesWhileGone.push(`create ${ck(copy)}`);
      if (d.fencedEpochs(this.logName).has(copy.by)) throw err(ErrorCode.FENCED, `${this.endpointId}: writer of epoch ${copy.by} is fenced (create ${ck(copy)})`);
      let cs = d.logs.get(this.logName);
      if (!cs) d.logs.set(this.logName, (cs = new Map()));
      if (!cs.has(ck(copy))) cs.set(ck(copy), new SimCopy(copy.epoch, copy.by));
    });
  }

  append(copy: CopyRef, records: ReadonlyArray<ReplicaRecord>): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    const { rng } = this.env;
    const f = this.disk.fault;
    const lie = f === 'lostwrite' && rng.chance(0.5);
    const misdirect = f === 'misdirect' && rng.chance(0.4);
    const op: InFlight = { kind: 'append', copy: undefined as unknown as SimCopy, recs: [], landed: false };
    const what = `append ${ck(copy)}[${records[0]!.index}..${records.at(-1)!.index}]`;
    const p = this.#io(what, 'write', () => {
      const d = this.#d;
      if (d !== this.disk || !this.disk.present) this.disk.writesWhileGone.push(what);
      const c = d.copy(this.logName, copy);
      if (!c) throw err(ErrorCode.ENTRY_NOT_FOUND, `${this.endpointId}: ${what}: copy not created`);
      if (c.fenced) {
        // M3: refused unless every record is already durable there (an idempotent re-send).
        const all = records.every((r) => { const x = c.byIndex.get(r.index); return x && x.durable && x.intact && x.key === keyOf(r.payload); });
        if (all) return;
        throw err(ErrorCode.FENCED, `${this.endpointId}: ${what}: epoch ${copy.by} is fenced`);
      }
      const first = records[0]!.index;
      const last = c.lastIntact();
      if (first <= last) {
        this.env.note(`CONTRACT ${this.endpointId}: ${what} rewrites at or below lastIndex ${last} (M2)`);
        throw err(ErrorCode.INTERNAL, `sim: ${what} would rewrite records at or below ${last} (M2)`);
      }
      // A torn tail from a crashed writer is cut by the new records (never intact ones).
      while (c.recs.length > 0 && c.recs.at(-1)!.index >= first) c.remove(c.recs.at(-1)!);
      op.copy = c;
      op.landed = true;
      if (misdirect) {
        // The write went elsewhere on this member: the intended records are not there, another one is damaged.
        const victims: Rec[] = [];
        for (const cc of d.logs.get(this.logName)?.values() ?? []) for (const r of cc.recs) if (r.intact) victims.push(r);
        if (victims.length > 0) {
          const v = rng.pick(victims);
          v.intact = false;
          d.destroy(v);
          this.env.note(`FAULT ${this.endpointId}: misdirected ${what} damaged [${v.index}]`);
        } else this.env.note(`FAULT ${this.endpointId}: misdirected ${what}`);
        return;
      }
      for (const r of records) {
        const rec: Rec = { index: r.index, payload: Buffer.from(r.payload), key: keyOf(r.payload), intact: true, durable: false, doomed: lie };
        c.recs.push(rec);
        c.byIndex.set(r.index, rec);
        op.recs.push(rec);
      }
      if (lie) {
        this.env.note(`FAULT ${this.endpointId}: lost write ${what} (acknowledged, dropped later)`);
        const recs = op.recs;
        this.env.world.at(rng.int(50, 2000), () => { for (const r of recs) c.remove(r); });
      }
    }, (ok) => {
      this.#inflight.delete(op);
      if (!ok || !op.landed) return undefined;
      const kept = op.recs.every((r) => op.copy.byIndex.get(r.index) === r);
      if (op.copy.fenced && (!kept || rng.chance(0.5))) {
        // Landed before the fence, answered after it: the caller hears XDBM_FENCED though the data is there.
        for (const r of op.recs) if (op.copy.byIndex.get(r.index) === r) this.#d.markDurable(r);
        return err(ErrorCode.FENCED, `${this.endpointId}: ${what}: fenced before it was acknowledged`);
      }
      for (const r of op.recs) if (op.copy.byIndex.get(r.index) === r) this.#d.markDurable(r);
      return undefined;
    }, op);
    this.#inflight.add(op);
    return p;
  }

  async fence(epoch: number): Promise<void> {
    await this.#io(`fence ${epoch}`, 'write', () => {
      if (this.env.bugs.noFence) return;
      const d = this.#d;
      d.fencedEpochs(this.logName).add(epoch);
      for (const c of d.logs.get(this.logName)?.values() ?? []) {
        if (c.by !== epoch) continue;
        c.fenced = true;
        // Landed but not yet durable: the fence settles them, in order: a prefix stays, the rest is gone.
        let k0 = c.recs.length;
        while (k0 > 0 && !c.recs[k0 - 1]!.durable) k0--;
        const tail = c.recs.slice(k0);
        const keep = this.env.rng.int(0, tail.length);
        tail.forEach((r, k) => { if (k < keep) d.markDurable(r); else c.remove(r); });
      }
    });
  }

  async truncatePrefix(beforeIndex: number): Promise<void> {
    await this.#io(`truncatePrefix ${beforeIndex}`, 'write', () => {
      // Whole segments of 8 indexes [8s, 8s+7] that lie wholly below beforeIndex.
      for (const c of this.#d.logs.get(this.logName)?.values() ?? []) {
        for (const r of [...c.recs]) if (Math.floor(r.index / 8) * 8 + 7 < beforeIndex) c.remove(r);
      }
    });
  }

  async collect(keep: (c: CopyRef) => boolean, olderThanEpoch: number): Promise<void> {
    const issued = this.env.world.now;
    await this.#io(`collect <${olderThanEpoch}`, 'write', () => {
      const cs = this.#d.logs.get(this.logName);
      if (!cs) return;
      for (const [k, c] of [...cs]) {
        if (c.by < olderThanEpoch && !keep({ epoch: c.epoch, by: c.by })) {
          if (c.recs.length > 0 && this.env.named?.(this.endpointId, c)) {
            this.env.flag?.('collected-named-copy');
            this.env.note(`${this.endpointId}: collect removes copy ${k}, which the metadata names`);
          }
          this.env.note(`${this.endpointId}: collect by ${this.proc.name} (< epoch ${olderThanEpoch}, issued at ${issued}) removed copy ${k} (${c.recs.length} records)`);
          cs.delete(k);
        }
      }
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  /** The writer process died: its appends in flight are lost, land whole, or land torn. */
  #crash(): void {
    const { rng } = this.env;
    for (const op of this.#inflight) {
      // Not landed yet: lost with the process, or it was already on its way and lands now.
      if (!op.landed && rng.chance(0.4)) op.landNow?.();
      if (!op.landed) continue;
      const tail = op.recs.filter((r) => !r.durable && op.copy.byIndex.get(r.index) === r);
      if (tail.length === 0) continue;
      const last = op.copy.recs.at(-1);
      const atTail = last === tail.at(-1);
      const x = rng.int(0, 2);
      if (x === 0 || !atTail) { for (const r of tail) this.#d.markDurable(r); continue; }
      if (x === 1) { for (const r of tail) op.copy.remove(r); continue; }
      const keep = rng.int(0, tail.length - 1);
      for (let k = 0; k < tail.length; k++) {
        const r = tail[k]!;
        if (k < keep) this.#d.markDurable(r);
        else if (k === keep) { r.intact = false; r.durable = true; }
        else op.copy.remove(r);
      }
    }
    this.#inflight.clear();
  }
}
