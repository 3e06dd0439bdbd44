/**
 * Writer side of the metrics SharedArrayBuffer: used by probe workers (publish a probe result) and by
 * the main thread (data-path ops, state). Safe with several writers at once: the seqlock word is taken
 * with Atomics.compareExchange (even -> odd) and released by storing the next even value.
 * Imports nothing from the main thread, so a worker can load it on its own.
 */
import {
  F_AVG_LATENCY_US, F_BANDWIDTH_MBPS, F_ERROR_RATE, F_ERRORS, F_IOPS, F_LAST_PROBE_DURATION_MS,
  F_LAST_PROBE_MS, F_LAST_PROBE_OK, F_LAST_PROBE_QUEUE_US, F_LAST_UPDATE_MS, F_LATENCY_SUM_US, F_LOAD, F_OPS, F_P50_LATENCY_US,
  F_P99_LATENCY_US, HISTOGRAM_BUCKETS, S_CONSEC_FAILURES, S_CONSEC_SUCCESSES, S_INFLIGHT,
  S_INFLIGHT_THREAD, S_LAST_PROBE_KIND, S_SEQ, S_SLOT_GEN, slotF64Base, slotHistogramBase, slotWordBase,
  viewsOf, type MetricsViews,
} from './layout.js';
import { bucketOf, percentileFromBuckets } from './histogram.js';
import type { ProbeResult } from '../probes/types.js';

/** What a worker publishes after one probe: the figures of its ProbeResult plus its latency samples. */
export type ProbePublication = Pick<ProbeResult,
  'ok' | 'ops' | 'errors' | 'errorRate' | 'avgLatencyUs' | 'p50LatencyUs' | 'p99LatencyUs' | 'bandwidthMBps' | 'iops' |
  'durationMs' | 'finishedAtMs' | 'queueUs'> & {
  /** 1-based index in PROBE_KINDS. */
  kindCode: number;
  /** Latencies of successful operations, microseconds (go into the histogram and the latency sum). */
  latenciesUs?: ArrayLike<number>;
};

/** EWMA weight of one data-path op in avgLatencyUs and errorRate. */
export const OP_EWMA_ALPHA = 0.2;

/**
 * How long a writer waits for another writer to leave a slot before it drops its update. Writers hold
 * a slot for microseconds; a longer hold means the holder was preempted or died mid-publish (a worker
 * terminated past its deadline), and the main thread must never spin on that.
 */
export const DEFAULT_LOCK_WAIT_MS = 20;

export interface SlotWriterOptions {
  lockWaitMs?: number;
}

export class SlotWriter {
  readonly #v: MetricsViews;
  readonly #lockWaitMs: number;
  /** Updates dropped because a slot stayed locked past lockWaitMs. */
  droppedWrites = 0;

  constructor(bufferOrViews: SharedArrayBuffer | MetricsViews, opts: SlotWriterOptions = {}) {
    this.#v = bufferOrViews instanceof SharedArrayBuffer ? viewsOf(bufferOrViews) : bufferOrViews;
    this.#lockWaitMs = opts.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS;
  }

  get views(): MetricsViews {
    return this.#v;
  }

  /**
   * Takes the slot's seqlock; returns the odd value taken, or 0 when another writer held it for longer
   * than waitMs.
   */
  lock(slot: number, waitMs: number = this.#lockWaitMs): number {
    const { i32 } = this.#v;
    const w = slotWordBase(slot) + S_SEQ;
    let deadline = 0;
    for (;;) {
      const cur = Atomics.load(i32, w);
      if ((cur & 1) === 0) {
        if (Atomics.compareExchange(i32, w, cur, cur + 1) === cur) return cur + 1;
        continue;
      }
      if (deadline === 0) deadline = Date.now() + waitMs;
      else if (Date.now() > deadline) return 0;
      // Another writer is inside: wait a moment for the word to change instead of burning the core.
      Atomics.wait(i32, w, cur, 1);
    }
  }

  unlock(slot: number, taken: number): void {
    const w = slotWordBase(slot) + S_SEQ;
    Atomics.store(this.#v.i32, w, taken + 1);
    Atomics.notify(this.#v.i32, w);
  }

  /** Runs fn with the seqlock held; returns false (fn not run, droppedWrites + 1) when it could not be taken. */
  withLock(slot: number, fn: (f: number, h: number) => void): boolean {
    const taken = this.lock(slot);
    if (taken === 0) {
      this.droppedWrites++;
      return false;
    }
    try {
      fn(slotF64Base(slot), slotHistogramBase(slot));
    } finally {
      this.unlock(slot, taken);
    }
    return true;
  }

  /**
   * Marks a probe of the slot as running on thread `threadId` (or clears it with 0). With `slotGen`,
   * does nothing (returns false) when the slot was re-registered meanwhile.
   */
  setInFlight(slot: number, threadId: number, slotGen?: number): boolean {
    const base = slotWordBase(slot);
    if (slotGen !== undefined && Atomics.load(this.#v.i32, base + S_SLOT_GEN) !== slotGen) return false;
    Atomics.store(this.#v.i32, base + S_INFLIGHT_THREAD, threadId);
    Atomics.store(this.#v.i32, base + S_INFLIGHT, threadId === 0 ? 0 : 1);
    return true;
  }

  /**
   * Publishes a probe result. When `slotGen` is given and no longer matches the slot (the endpoint was
   * released and the slot reused while this probe ran), or the slot stayed locked past lockWaitMs,
   * nothing is written and false is returned.
   */
  publishProbe(slot: number, p: ProbePublication, slotGen?: number): boolean {
    const { i32, f64, u32 } = this.#v;
    const base = slotWordBase(slot);
    if (slotGen !== undefined && Atomics.load(i32, base + S_SLOT_GEN) !== slotGen) return false;
    const done = this.withLock(slot, (f, h) => {
      f64[f + F_OPS]! += p.ops;
      f64[f + F_ERRORS]! += p.errors;
      let sum = 0;
      if (p.latenciesUs) {
        for (let i = 0; i < p.latenciesUs.length; i++) {
          const l = p.latenciesUs[i]!;
          sum += l;
          u32[h + bucketOf(l)]! += 1;
        }
      }
      f64[f + F_LATENCY_SUM_US]! += sum;
      f64[f + F_AVG_LATENCY_US] = p.avgLatencyUs;
      f64[f + F_P50_LATENCY_US] = p.p50LatencyUs;
      f64[f + F_P99_LATENCY_US] = p.p99LatencyUs;
      f64[f + F_BANDWIDTH_MBPS] = p.bandwidthMBps;
      f64[f + F_IOPS] = p.iops;
      f64[f + F_ERROR_RATE] = p.errorRate;
      f64[f + F_LAST_PROBE_DURATION_MS] = p.durationMs;
      f64[f + F_LAST_PROBE_MS] = p.finishedAtMs;
      f64[f + F_LAST_PROBE_OK] = p.ok ? 1 : 0;
      f64[f + F_LAST_PROBE_QUEUE_US] = p.queueUs ?? 0;
      f64[f + F_LAST_UPDATE_MS] = p.finishedAtMs;
    });
    if (!done) return false;
    Atomics.store(i32, base + S_LAST_PROBE_KIND, p.kindCode);
    if (p.ok) {
      Atomics.store(i32, base + S_CONSEC_FAILURES, 0);
      Atomics.add(i32, base + S_CONSEC_SUCCESSES, 1);
    } else {
      Atomics.store(i32, base + S_CONSEC_SUCCESSES, 0);
      Atomics.add(i32, base + S_CONSEC_FAILURES, 1);
    }
    return true;
  }

  /** One data-path or probe op: counters, histogram, EWMA of latency and error rate, p50/p99 estimate. */
  recordOp(slot: number, latencyUs: number, ok: boolean, bytes: number, nowMs: number): void {
    void bytes; // bandwidth comes from probes; data-path bytes are not rated per op
    const { f64, u32 } = this.#v;
    this.withLock(slot, (f, h) => {
      const first = f64[f + F_OPS] === 0;
      f64[f + F_OPS]! += 1;
      if (ok) {
        f64[f + F_LATENCY_SUM_US]! += latencyUs;
        u32[h + bucketOf(latencyUs)]! += 1;
        f64[f + F_AVG_LATENCY_US] = first
          ? latencyUs
          : f64[f + F_AVG_LATENCY_US]! * (1 - OP_EWMA_ALPHA) + latencyUs * OP_EWMA_ALPHA;
        const counts = u32.subarray(h, h + HISTOGRAM_BUCKETS);
        f64[f + F_P50_LATENCY_US] = percentileFromBuckets(counts, 0.5);
        f64[f + F_P99_LATENCY_US] = percentileFromBuckets(counts, 0.99);
      } else {
        f64[f + F_ERRORS]! += 1;
      }
      const e = ok ? 0 : 1;
      f64[f + F_ERROR_RATE] = first ? e : f64[f + F_ERROR_RATE]! * (1 - OP_EWMA_ALPHA) + e * OP_EWMA_ALPHA;
      f64[f + F_LAST_UPDATE_MS] = nowMs;
    });
  }

  setLoad(slot: number, load: number): void {
    const { f64 } = this.#v;
    this.withLock(slot, (f) => {
      f64[f + F_LOAD] = load;
    });
  }

  /**
   * Recovery for a writer that died inside the seqlock (a worker terminated mid-publish): if the seq
   * word is odd, bump it to even so readers stop retrying. Only call once that writer is known gone.
   */
  forceUnlock(slot: number): boolean {
    const { i32 } = this.#v;
    const w = slotWordBase(slot) + S_SEQ;
    const cur = Atomics.load(i32, w);
    if ((cur & 1) === 0) return false;
    const done = Atomics.compareExchange(i32, w, cur, cur + 1) === cur;
    Atomics.notify(i32, w);
    return done;
  }
}
