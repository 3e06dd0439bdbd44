/**
 * Virtual time and processes of the simulated world. One event queue ordered by (time, sequence); the
 * run loop drains microtasks (one setImmediate turn) before each event, so the real log's promise
 * chains settle exactly between events and a seed replays the same way every time.
 *
 * A Proc is one simulated OS process (a writer with its manager, store client and member handles).
 * Events bound to a Proc are held while it is paused (SIGSTOP) and dropped once it crashed (kill -9).
 */
import type { Clock, TimerHandle } from '../../src/wal/clock.js';
import { Rng } from './prng.js';

export type ProcState = 'running' | 'paused' | 'crashed';

interface Ev {
  t: number;
  seq: number;
  fn: () => void;
  proc?: Proc;
  /** A storage-side landing of this proc's I/O (held while paused only if proc.holdLands). */
  land?: boolean;
  cancelled?: boolean;
}

export class Proc {
  state: ProcState = 'running';
  held: Ev[] = [];
  /** While paused: whether I/O already sent also waits (true) or reaches the storage meanwhile (false). */
  holdLands = false;
  readonly onCrash: (() => void)[] = [];
  constructor(readonly name: string) {}
  get alive(): boolean { return this.state !== 'crashed'; }
}

export class SimDeadlock extends Error {}

export class World {
  now = 0;
  events = 0;
  readonly rng: Rng;
  readonly #heap: Ev[] = [];
  #seq = 0;
  readonly #trace: string[] = [];
  readonly traceLimit: number;
  readonly verbose: boolean;

  constructor(seed: number, o: { verbose?: boolean; traceLimit?: number } = {}) {
    this.rng = new Rng(seed);
    this.verbose = !!o.verbose;
    this.traceLimit = o.traceLimit ?? 60;
  }

  #stamps = 0;
  /** Virtual time made strictly increasing (ordering of client events within one millisecond). */
  stamp(): number { return this.now + ++this.#stamps / 1e7; }

  log(msg: string): void {
    const line = `${String(this.now).padStart(7)} ${msg}`;
    if (this.verbose) console.log(line);
    this.#trace.push(line);
    if (this.#trace.length > this.traceLimit) this.#trace.shift();
  }

  trace(): string[] { return [...this.#trace]; }

  at(delayMs: number, fn: () => void, proc?: Proc, land = false): Ev {
    const ev: Ev = { t: this.now + Math.max(0, delayMs), seq: this.#seq++, fn, proc, land };
    this.#push(ev);
    return ev;
  }

  cancel(ev: Ev): void { ev.cancelled = true; }

  sleep(ms: number, proc?: Proc): Promise<void> {
    return new Promise((r) => { this.at(ms, r, proc); });
  }

  pause(p: Proc, holdLands: boolean): void {
    if (p.state !== 'running') return;
    p.state = 'paused';
    p.holdLands = holdLands;
    this.log(`PAUSE ${p.name} (in-flight I/O ${holdLands ? 'held' : 'lands'})`);
  }

  resume(p: Proc): void {
    if (p.state !== 'paused') return;
    p.state = 'running';
    this.log(`RESUME ${p.name} (${p.held.length} held events)`);
    const held = p.held;
    p.held = [];
    for (const ev of held) { ev.t = this.now; ev.seq = this.#seq++; this.#push(ev); }
  }

  crash(p: Proc): void {
    if (p.state === 'crashed') return;
    p.state = 'crashed';
    p.held = [];
    this.log(`CRASH ${p.name}`);
    for (const f of p.onCrash.splice(0)) f();
  }

  /** Runs events until `done` settles. Throws SimDeadlock when nothing is left to run or the budget is spent. */
  async runUntil(done: Promise<unknown>, maxEvents: number): Promise<void> {
    let settled = false;
    done.then(() => { settled = true; }, () => { settled = true; });
    for (;;) {
      await new Promise<void>((r) => setImmediate(r));
      if (settled) return;
      const ev = this.#pop();
      if (!ev) throw new SimDeadlock(`no event left at ${this.now} ms and the scenario is still waiting`);
      if (++this.events > maxEvents) throw new SimDeadlock(`event budget ${maxEvents} spent at ${this.now} ms`);
      if (ev.cancelled) continue;
      this.now = Math.max(this.now, ev.t);
      const p = ev.proc;
      if (p) {
        if (p.state === 'crashed') continue;
        if (p.state === 'paused' && (!ev.land || p.holdLands)) { p.held.push(ev); continue; }
      }
      ev.fn();
    }
  }

  #push(ev: Ev): void {
    const h = this.#heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const par = (i - 1) >> 1;
      if (less(h[par]!, ev)) break;
      h[i] = h[par]!;
      i = par;
    }
    h[i] = ev;
  }

  #pop(): Ev | undefined {
    const h = this.#heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        let mv = last;
        if (l < h.length && less(h[l]!, mv)) { m = l; mv = h[l]!; }
        if (r < h.length && less(h[r]!, mv)) { m = r; mv = h[r]!; }
        if (m === i) break;
        h[i] = h[m]!;
        i = m;
      }
      h[i] = last;
    }
    return top;
  }
}

function less(a: Ev, b: Ev): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}

/** The injected Clock of one process: virtual time, timers held while it is paused, gone once it crashed. */
export class ProcClock implements Clock {
  #next = 1;
  readonly #timers = new Map<number, ReturnType<World['at']>>();
  constructor(readonly world: World, readonly proc: Proc) {}
  nowMs(): number { return this.world.now; }
  setTimer(fn: () => void, ms: number): TimerHandle {
    const id = this.#next++;
    const ev = this.world.at(Math.max(0, ms), () => { this.#timers.delete(id); fn(); }, this.proc);
    this.#timers.set(id, ev);
    return { id };
  }
  clearTimer(h: TimerHandle): void {
    const ev = this.#timers.get(h.id);
    if (ev) this.world.cancel(ev);
    this.#timers.delete(h.id);
  }
}
