/**
 * Time as the log sees it. Every timer and every clock reading of the log, recovery, the reader and
 * re-replication goes through a Clock, so the deterministic simulator (test/sim) can run the real
 * code on virtual time and replay a seed exactly.
 */
export interface TimerHandle {
  readonly id: number;
}

export interface Clock {
  /** Milliseconds, monotonic enough for deadlines and durations. */
  nowMs(): number;
  /** Runs fn once after ms. */
  setTimer(fn: () => void, ms: number): TimerHandle;
  clearTimer(h: TimerHandle): void;
}

class RealClock implements Clock {
  #next = 1;
  readonly #timers = new Map<number, NodeJS.Timeout>();
  nowMs(): number { return Date.now(); }
  setTimer(fn: () => void, ms: number): TimerHandle {
    const id = this.#next++;
    const t = setTimeout(() => { this.#timers.delete(id); fn(); }, Math.max(0, ms));
    // Not unref'd: an await on a deadline or on close() must keep the process alive until it settles
    // (an open log keeps its process alive like any open handle; close() stops its timers).
    this.#timers.set(id, t);
    return { id };
  }
  clearTimer(h: TimerHandle): void {
    const t = this.#timers.get(h.id);
    if (t) clearTimeout(t);
    this.#timers.delete(h.id);
  }
}

export const realClock: Clock = new RealClock();

export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((r) => { clock.setTimer(r, ms); });
}
