/**
 * MetricsStore over a SharedArrayBuffer (layout in layout.ts). The main thread owns the registry
 * (endpointId -> slot); probe workers publish into slots with SlotWriter; the main thread reads
 * consistent copies with the seqlock, never by message.
 */
import { ErrorCode, XdbmError } from '../errors.js';
import { HEALTH_STATE_BY_CODE, HEALTH_STATE_CODE, PROBE_KINDS, type EndpointMetrics, type HealthState, type ProbeKind } from '../types.js';
import type { MetricsStore } from './types.js';
import {
  F_AVG_LATENCY_US, F_BANDWIDTH_MBPS, F_ERROR_RATE, F_ERRORS, F_IOPS, F_LAST_PROBE_DURATION_MS,
  F_LAST_PROBE_MS, F_LAST_PROBE_OK, F_LAST_PROBE_QUEUE_US, F_LAST_UPDATE_MS, F_LATENCY_SUM_US, F_LOAD, F_OPS, F_P50_LATENCY_US,
  F_P99_LATENCY_US, H_GENERATION, H_MAGIC, H_SLOT_BYTES, H_SLOT_COUNT, H_VERSION, HISTOGRAM_BUCKETS,
  LAYOUT_MAGIC, LAYOUT_VERSION, S_CONSEC_FAILURES, S_CONSEC_SUCCESSES, S_INFLIGHT, S_INFLIGHT_THREAD,
  S_LAST_PROBE_KIND, S_SEQ, S_SLOT_GEN, S_STATE, SLOT_BYTES, SLOT_F64_COUNT, bufferBytesFor, slotF64Base,
  slotHistogramBase, slotWordBase, viewsOf, type MetricsViews,
} from './layout.js';
import { SlotWriter } from './slot-writer.js';

/** Everything a slot holds, copied under the seqlock. */
export interface SlotSnapshot {
  endpointId: string;
  slot: number;
  state: HealthState;
  metrics: EndpointMetrics;
  ops: number;
  errors: number;
  latencySumUs: number;
  histogram: number[];
  inFlight: boolean;
  inFlightThreadId: number;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  lastProbeKind?: ProbeKind;
  lastProbeOk: boolean;
  lastProbeMs: number;
  lastProbeDurationMs: number;
  /** Pool queueing and worker wake-up before the last probe's first I/O, microseconds (not backend latency). */
  lastProbeQueueUs: number;
  /** Seqlock value the copy was taken at (even). */
  seq: number;
  /**
   * True when a writer held the slot longer than READ_LOCK_WAIT_MS (preempted, or died mid-publish)
   * and this is the last consistent copy read before, not the current one.
   */
  stale: boolean;
}

/**
 * How long a reader waits for a writer to leave a slot. Past it the reader returns the slot's last
 * consistent copy marked stale rather than block the main thread (a writer preempted by the OS can hold
 * a slot for many milliseconds on a loaded machine).
 */
export const READ_LOCK_WAIT_MS = 20;

export class SharedMetricsStore implements MetricsStore {
  readonly buffer: SharedArrayBuffer;
  readonly capacitySlots: number;
  readonly writer: SlotWriter;
  readonly #v: MetricsViews;
  readonly #slots = new Map<string, number>();
  readonly #ids: (string | undefined)[];
  /** Last consistent copy of each slot, the fallback when a writer holds it too long. */
  readonly #lastGood: (SlotSnapshot | undefined)[];

  constructor(capacitySlots: number, buffer?: SharedArrayBuffer) {
    if (!Number.isInteger(capacitySlots) || capacitySlots < 1) {
      throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `capacitySlots must be a positive integer, got ${capacitySlots}`);
    }
    if (buffer) {
      const i32 = new Int32Array(buffer);
      if (buffer.byteLength < bufferBytesFor(capacitySlots) || Atomics.load(i32, H_MAGIC) !== LAYOUT_MAGIC ||
          Atomics.load(i32, H_VERSION) !== LAYOUT_VERSION || Atomics.load(i32, H_SLOT_BYTES) !== SLOT_BYTES ||
          Atomics.load(i32, H_SLOT_COUNT) < capacitySlots) {
        throw new XdbmError(ErrorCode.INVALID_ARGUMENT, 'buffer is not an xdbm metrics buffer of this layout and size');
      }
      this.buffer = buffer;
    } else {
      this.buffer = new SharedArrayBuffer(bufferBytesFor(capacitySlots));
      const i32 = new Int32Array(this.buffer);
      Atomics.store(i32, H_VERSION, LAYOUT_VERSION);
      Atomics.store(i32, H_SLOT_COUNT, capacitySlots);
      Atomics.store(i32, H_SLOT_BYTES, SLOT_BYTES);
      Atomics.store(i32, H_MAGIC, LAYOUT_MAGIC);
    }
    this.capacitySlots = capacitySlots;
    this.#v = viewsOf(this.buffer);
    this.writer = new SlotWriter(this.#v);
    this.#ids = new Array<string | undefined>(capacitySlots).fill(undefined);
    this.#lastGood = new Array<SlotSnapshot | undefined>(capacitySlots).fill(undefined);
  }

  /** Bumped on every register/release. */
  get generation(): number {
    return Atomics.load(this.#v.i32, H_GENERATION);
  }

  get size(): number {
    return this.#slots.size;
  }

  register(endpointId: string): number {
    const have = this.#slots.get(endpointId);
    if (have !== undefined) return have;
    const slot = this.#ids.indexOf(undefined);
    if (slot < 0) {
      throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `metrics store is full (${this.capacitySlots} slots)`, {
        details: { endpointId },
      });
    }
    this.#ids[slot] = endpointId;
    this.#lastGood[slot] = undefined;
    this.#slots.set(endpointId, slot);
    const { i32, f64, u32 } = this.#v;
    const base = slotWordBase(slot);
    // A fresh slot has no writer but ours; one left locked by a dead writer of a released endpoint is freed.
    this.writer.forceUnlock(slot);
    this.writer.withLock(slot, (f, h) => {
      f64.fill(0, f, f + SLOT_F64_COUNT);
      u32.fill(0, h, h + HISTOGRAM_BUCKETS);
    });
    for (const w of [S_INFLIGHT, S_INFLIGHT_THREAD, S_CONSEC_FAILURES, S_CONSEC_SUCCESSES, S_LAST_PROBE_KIND]) {
      Atomics.store(i32, base + w, 0);
    }
    Atomics.add(i32, base + S_SLOT_GEN, 1);
    Atomics.store(i32, base + S_STATE, HEALTH_STATE_CODE.UNKNOWN);
    Atomics.add(i32, H_GENERATION, 1);
    return slot;
  }

  release(endpointId: string): void {
    const slot = this.#slots.get(endpointId);
    if (slot === undefined) return;
    this.#slots.delete(endpointId);
    this.#ids[slot] = undefined;
    const base = slotWordBase(slot);
    Atomics.add(this.#v.i32, base + S_SLOT_GEN, 1); // a stuck worker's late publish is now dropped
    Atomics.store(this.#v.i32, base + S_STATE, 0);
    Atomics.add(this.#v.i32, H_GENERATION, 1);
  }

  slotOf(endpointId: string): number | undefined {
    return this.#slots.get(endpointId);
  }

  /** Registration generation of the endpoint's slot; probes carry it so a late publish to a reused slot is dropped. */
  slotGeneration(endpointId: string): number {
    return Atomics.load(this.#v.i32, slotWordBase(this.#slotOrThrow(endpointId)) + S_SLOT_GEN);
  }

  endpointIds(): string[] {
    return [...this.#slots.keys()];
  }

  snapshot(endpointId: string): EndpointMetrics {
    return this.detail(endpointId).metrics;
  }

  snapshotAll(): Map<string, EndpointMetrics> {
    const out = new Map<string, EndpointMetrics>();
    for (const [id, slot] of this.#slots) out.set(id, this.#read(id, slot).metrics);
    return out;
  }

  detail(endpointId: string): SlotSnapshot {
    return this.#read(endpointId, this.#slotOrThrow(endpointId));
  }

  detailAll(): SlotSnapshot[] {
    return [...this.#slots].map(([id, slot]) => this.#read(id, slot));
  }

  recordOp(endpointId: string, latencyUs: number, ok: boolean, bytes: number): void {
    this.writer.recordOp(this.#slotOrThrow(endpointId), latencyUs, ok, bytes, Date.now());
  }

  setState(endpointId: string, state: HealthState): void {
    Atomics.store(this.#v.i32, slotWordBase(this.#slotOrThrow(endpointId)) + S_STATE, HEALTH_STATE_CODE[state]);
  }

  getState(endpointId: string): HealthState {
    return HEALTH_STATE_BY_CODE[Atomics.load(this.#v.i32, slotWordBase(this.#slotOrThrow(endpointId)) + S_STATE)] ?? 'UNKNOWN';
  }

  /** 0..1 load figure (in-flight data-path ops / queue depth). */
  setLoad(endpointId: string, load: number): void {
    this.writer.setLoad(this.#slotOrThrow(endpointId), load);
  }

  isInFlight(endpointId: string): boolean {
    return Atomics.load(this.#v.i32, slotWordBase(this.#slotOrThrow(endpointId)) + S_INFLIGHT) === 1;
  }

  #slotOrThrow(endpointId: string): number {
    const slot = this.#slots.get(endpointId);
    if (slot === undefined) {
      throw new XdbmError(ErrorCode.UNKNOWN_ENDPOINT, `no metrics slot registered for ${endpointId}`);
    }
    return slot;
  }

  /** Seqlock read: copy, and retry while a writer is inside (odd) or finished one meanwhile (changed). */
  #read(endpointId: string, slot: number): SlotSnapshot {
    const { i32, f64, u32 } = this.#v;
    const w = slotWordBase(slot);
    const f = slotF64Base(slot);
    const h = slotHistogramBase(slot);
    const fields = new Float64Array(SLOT_F64_COUNT);
    const hist = new Array<number>(HISTOGRAM_BUCKETS);
    let deadline = 0;
    for (;;) {
      const s1 = Atomics.load(i32, w + S_SEQ);
      if ((s1 & 1) === 0) {
        for (let i = 0; i < SLOT_F64_COUNT; i++) fields[i] = f64[f + i]!;
        for (let i = 0; i < HISTOGRAM_BUCKETS; i++) hist[i] = u32[h + i]!;
        if (Atomics.load(i32, w + S_SEQ) === s1) {
          const snap = this.#build(endpointId, slot, fields, hist, s1);
          this.#lastGood[slot] = snap;
          return snap;
        }
      } else if (deadline === 0) {
        deadline = Date.now() + READ_LOCK_WAIT_MS;
      } else if (Date.now() > deadline) {
        const last = this.#lastGood[slot];
        if (last) return { ...last, stale: true };
        throw new XdbmError(ErrorCode.IO_TIMEOUT, `metrics slot ${slot} (${endpointId}) stayed locked for ${READ_LOCK_WAIT_MS} ms and was never read before`);
      } else {
        Atomics.wait(i32, w + S_SEQ, s1, 1);
      }
    }
  }

  #build(endpointId: string, slot: number, x: Float64Array, hist: number[], seq: number): SlotSnapshot {
    const i32 = this.#v.i32;
    const w = slotWordBase(slot);
    const kindCode = Atomics.load(i32, w + S_LAST_PROBE_KIND);
    return {
      endpointId,
      slot,
      state: HEALTH_STATE_BY_CODE[Atomics.load(i32, w + S_STATE)] ?? 'UNKNOWN',
      metrics: {
        avgLatencyUs: x[F_AVG_LATENCY_US]!,
        p50LatencyUs: x[F_P50_LATENCY_US]!,
        p99LatencyUs: x[F_P99_LATENCY_US]!,
        bandwidthMBps: x[F_BANDWIDTH_MBPS]!,
        iops: x[F_IOPS]!,
        errorRate: x[F_ERROR_RATE]!,
        load: x[F_LOAD]!,
        lastUpdateMs: x[F_LAST_UPDATE_MS]!,
      },
      ops: x[F_OPS]!,
      errors: x[F_ERRORS]!,
      latencySumUs: x[F_LATENCY_SUM_US]!,
      histogram: hist,
      inFlight: Atomics.load(i32, w + S_INFLIGHT) === 1,
      inFlightThreadId: Atomics.load(i32, w + S_INFLIGHT_THREAD),
      consecutiveFailures: Atomics.load(i32, w + S_CONSEC_FAILURES),
      consecutiveSuccesses: Atomics.load(i32, w + S_CONSEC_SUCCESSES),
      lastProbeKind: kindCode > 0 ? PROBE_KINDS[kindCode - 1] : undefined,
      lastProbeOk: x[F_LAST_PROBE_OK] === 1,
      lastProbeMs: x[F_LAST_PROBE_MS]!,
      lastProbeDurationMs: x[F_LAST_PROBE_DURATION_MS]!,
      lastProbeQueueUs: x[F_LAST_PROBE_QUEUE_US]!,
      seq,
      stale: false,
    };
  }
}
