/**
 * What the clients saw (the model) and the invariants of issue 11 checked against it after a run.
 * Numbers follow the issue (and src/wal/log.ts):
 *   1  every acknowledged append that was not truncated away, and kept at least ackQuorum copies that
 *      no injected fault destroyed, reads back byte-identical from the final writer;
 *   2  an index is never acknowledged or read with two different payloads (within one truncation
 *      generation), and nothing is read that was never appended or that an acknowledged truncation removed;
 *   3  an append a paused/fenced writer got acknowledged after a newer writer opened is one the newer
 *      writer recovered (at or below its recovered end; byte equality through 1 and 2);
 *   4  nothing a newer writer acknowledged is lost once an older writer resumed (1, for its entries);
 *   5  a gone member is never treated as empty: nothing was created or written on it while gone;
 *   6  missing metadata with data on members: open refuses with XDBM_LOG_CORRUPT and changes nothing;
 *   L  liveness after healing: the final writer opens and reads (reported, counted as a violation).
 */
import type { HistoryEvent } from '../../src/wal/history.js';
import { MemoryHistory } from '../../src/wal/history.js';
import { crc32c } from '../../src/wal/crc32c.js';
import type { SimDisk } from './member.js';

export type Status = 'pending' | 'ok' | 'fail' | 'info';

export interface AppendOp { writer: string; key: string; tInv: number; tEnd: number; status: Status; index?: number; error?: string }
export interface TruncOp { kind: 'suffix' | 'prefix'; writer: string; at: number; tInv: number; tEnd: number; status: Status; error?: string }
export interface ReadOp { writer: string; index: number; tInv: number; tEnd: number; key?: string; error?: string; final?: boolean }
export interface WriterRec { name: string; openInv: number; openOk?: number; recovered?: number; resumedAt?: number }
export interface Violation { inv: string; msg: string }

const INF = Number.POSITIVE_INFINITY;

export class Model {
  readonly appends: AppendOp[] = [];
  readonly truncs: TruncOp[] = [];
  readonly reads: ReadOp[] = [];
  readonly writers: WriterRec[] = [];
  readonly history = new MemoryHistory();
  readonly violations: Violation[] = [];
  readonly notes: string[] = [];
  readonly #byKey = new Map<string, AppendOp>();

  /** Intact copies of (index, payload) that no injected fault destroyed (set by the scenario). */
  copiesOf: (index: number, key: string) => number = () => Number.POSITIVE_INFINITY;
  ackQuorum = 2;

  violate(inv: string, msg: string): void { this.violations.push({ inv, msg }); }

  hist(e: HistoryEvent): void { this.history.record(e); }

  invokeAppend(writer: string, payload: Buffer, t: number): AppendOp {
    const op: AppendOp = { writer, key: payload.toString('hex'), tInv: t, tEnd: INF, status: 'pending' };
    this.appends.push(op);
    this.#byKey.set(op.key, op);
    this.hist({ type: 'invoke', f: 'append', process: writer, timeMs: t, crc: crc32c(payload), bytes: payload.length });
    return op;
  }
  appendOf(key: string): AppendOp | undefined { return this.#byKey.get(key); }

  /** Effective end of a truncation's window: it can no longer apply once a later writer opened. */
  #effEnd(t: TruncOp): number {
    if (t.status === 'ok') return t.tEnd;
    let end = INF;
    for (const w of this.writers) if (w.openOk !== undefined && w.openOk > t.tInv && w.name !== t.writer) end = Math.min(end, w.openOk);
    return end;
  }
  /**
   * A rejected truncation did not cut anything (the log says so: "nothing was cut"); one whose writer
   * crashed or never answered may have.
   */
  #mayApply(t: TruncOp): boolean {
    return t.status === 'ok' || t.status === 'pending' || t.status === 'info';
  }

  /** A suffix truncation at or below `index` that may have run between t1 and t2. */
  #separated(index: number, t1: number, t2: number): boolean {
    return this.truncs.some((t) => t.kind === 'suffix' && this.#mayApply(t) && t.at <= index && t.tInv <= t2 && this.#effEnd(t) >= t1);
  }

  #okAt(index: number): AppendOp[] {
    return this.appends.filter((a) => a.status === 'ok' && a.index === index).sort((a, b) => a.tEnd - b.tEnd);
  }

  /** Invariant 2 on acknowledgements. */
  checkAcks(): void {
    const byIndex = new Map<number, AppendOp[]>();
    for (const a of this.appends) {
      if (a.status !== 'ok') continue;
      let l = byIndex.get(a.index!);
      if (!l) byIndex.set(a.index!, (l = []));
      l.push(a);
    }
    for (const [i, l] of byIndex) {
      l.sort((a, b) => a.tEnd - b.tEnd);
      for (let k = 1; k < l.length; k++) {
        const a = l[k - 1]!;
        const b = l[k]!;
        // An entry whose copies a fault destroyed below the quorum may be lost, and its index reused.
        if (this.copiesOf(i, a.key) < this.ackQuorum) continue;
        if (a.key !== b.key && !this.#separated(i, Math.min(a.tInv, b.tInv), Math.max(a.tEnd, b.tEnd))) {
          this.violate('2', `index ${i} acknowledged with two payloads: ${a.writer}@${a.tEnd} ${short(a.key)} and ${b.writer}@${b.tEnd} ${short(b.key)}, no truncation between`);
        }
      }
    }
  }

  /** Invariant 2 on one read. */
  checkRead(r: ReadOp): void {
    if (r.key === undefined) return;
    const n = this.violations.length;
    this.#checkRead(r);
    const me = this.writers.find((w) => w.name === r.writer);
    const newer = me && this.writers.find((w) => w.openInv > me.openInv && w.openOk !== undefined && w.openOk < r.tInv);
    if (newer) for (const v of this.violations.slice(n)) v.msg = `deposed writer (${newer.name} opened at ${newer.openOk!.toFixed(0)}): ${v.msg}`;
  }

  #checkRead(r: ReadOp): void {
    if (r.key === undefined) return;
    const src = this.#byKey.get(r.key);
    if (!src) { this.violate('2', `${r.writer} read [${r.index}] = ${short(r.key)} at ${r.tEnd}: bytes no append ever wrote`); return; }
    if (src.status === 'ok' && src.index !== r.index) {
      this.violate('2', `${r.writer} read [${r.index}] at ${r.tEnd}: payload acknowledged at index ${src.index} by ${src.writer}`);
      return;
    }
    const before = this.#okAt(r.index).filter((a) => a.tEnd <= r.tInv);
    const q = before.at(-1);
    if (q && q.key !== r.key && this.copiesOf(r.index, q.key) >= this.ackQuorum && !this.#separated(r.index, q.tInv, r.tEnd)) {
      this.violate('2', `${r.writer} read [${r.index}] at ${r.tEnd} = ${short(r.key)} (${src.writer}, ${src.status}), but ${q.writer} had it acknowledged at ${q.tEnd} as ${short(q.key)}`);
      return;
    }
    if (src.status === 'ok' && src.tEnd <= r.tInv) {
      const gone = this.truncs.find((t) => t.kind === 'suffix' && t.status === 'ok' && t.at <= r.index && t.tInv >= src.tEnd && t.tEnd <= r.tInv);
      if (gone) this.violate('2', `${r.writer} read [${r.index}] at ${r.tEnd}: entry acknowledged at ${src.tEnd}, removed by truncateSuffix(${gone.at}) acknowledged at ${gone.tEnd}`);
    }
  }

  /**
   * Invariants 1, 3 and 4 against the final writer: `final` maps index -> key read (or error).
   */
  checkFinal(o: {
    ackQuorum: number; disks: SimDisk[]; firstIndex: number; lastIndex: number; final: Map<number, { key?: string; error?: string }>;
  }): { checked: number; exempt: number } {
    let checked = 0;
    let exempt = 0;
    const indexes = new Set<number>();
    for (const a of this.appends) if (a.status === 'ok') indexes.add(a.index!);
    const maxPrefix = Math.max(0, ...this.truncs.filter((t) => t.kind === 'prefix' && this.#mayApply(t)).map((t) => t.at));
    for (const i of [...indexes].sort((a, b) => a - b)) {
      const l = this.#okAt(i);
      const e = l.at(-1)!;
      if (i < maxPrefix) { exempt++; continue; }
      let removed = false;
      for (const t of this.truncs) {
        if (t.kind !== 'suffix' || !this.#mayApply(t) || t.at > i) continue;
        // After the append, or concurrent with it (its effect lies anywhere in [tInv, tEnd]): gone or uncertain.
        if (this.#effEnd(t) >= e.tInv) { removed = true; break; }
      }
      if (removed) { exempt++; continue; }
      const copies = o.disks.filter((d) => d.everDurable.has(`${i}|${e.key}`) && !d.destroyed.has(`${i}|${e.key}`)).length;
      if (copies < o.ackQuorum) { exempt++; continue; }
      checked++;
      const w = this.writers.find((x) => x.name === e.writer);
      const olderResumed = !!w && this.writers.some((v) => v.openInv < w.openInv && v.resumedAt !== undefined && w.openOk !== undefined && v.resumedAt >= w.openOk);
      const inv = olderResumed ? '4' : '1';
      // 3: acknowledged by an older writer after a newer one had recovered.
      for (const b of this.writers) {
        if (!w || b.openOk === undefined || b.recovered === undefined || b.openInv <= (w.openOk ?? INF)) continue;
        if (e.tEnd > b.openOk && i > b.recovered) {
          this.violate('3', `${e.writer} got [${i}] acknowledged at ${e.tEnd}, after ${b.name} opened at ${b.openOk} having recovered only up to ${b.recovered}`);
        }
      }
      if (i < o.firstIndex) {
        const failed = this.truncs.find((t) => t.kind === 'prefix' && t.at > i && !this.#mayApply(t));
        this.violate(inv, `acknowledged [${i}] (${e.writer}@${e.tEnd}, ${copies} intact copies) is below the final firstIndex ${o.firstIndex}; ${failed ? `truncatePrefix(${failed.at}) of ${failed.writer} failed (${failed.error}) but took effect` : 'no truncatePrefix asked for it'}`);
        continue;
      }
      if (i > o.lastIndex) { this.violate(inv, `acknowledged [${i}] (${e.writer}@${e.tEnd}, ${copies} intact copies) is above the final lastIndex ${o.lastIndex}: lost`); continue; }
      const got = o.final.get(i);
      if (!got || got.key === undefined) { this.violate(inv, `acknowledged [${i}] (${e.writer}@${e.tEnd}, ${copies} intact copies) does not read back: ${got?.error ?? 'not read'}`); continue; }
      if (got.key !== e.key) {
        const other = this.#byKey.get(got.key);
        this.violate(inv, `acknowledged [${i}] = ${short(e.key)} (${e.writer}@${e.tEnd}) reads back as ${short(got.key)} (${other ? `${other.writer}, ${other.status}` : 'never appended'})`);
      }
    }
    return { checked, exempt };
  }
}

export function short(key: string): string { return key.length > 20 ? `${key.slice(0, 16)}..` : key; }
