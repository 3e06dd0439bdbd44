/**
 * The one place that names every offset of the metrics SharedArrayBuffer (piscina src/symbols.ts style).
 *
 * Buffer = header + capacity x slot. Everything is addressed through three views of the same buffer:
 *   i32 = new Int32Array(sab)    Int32 words (Atomics-capable): header, seqlock, state, flags
 *   f64 = new Float64Array(sab)  Float64 values: counters and figures (exact integers up to 2^53)
 *   u32 = new Uint32Array(sab)   Uint32 histogram buckets
 * Every slot starts on a 64-byte boundary, so all Float64 fields are 8-byte aligned.
 *
 * Consistency: the Float64 block and the histogram of a slot are covered by the slot's seqlock word
 * (S_SEQ). A writer takes it from even to odd with Atomics.compareExchange (so several writers, main
 * thread and workers, exclude one another), writes, then stores seq+1 (even again). A reader copies the
 * slot and retries while the word was odd or changed. Words marked "atomic" live outside the seqlock
 * and are read and written with Atomics.load/store on their own.
 */

/** Header words (Int32 indices from the start of the buffer). */
export const H_MAGIC = 0;
export const H_VERSION = 1;
/** Number of slots in the buffer. */
export const H_SLOT_COUNT = 2;
/** Bytes of one slot (lets a reader check it was built with the same layout). */
export const H_SLOT_BYTES = 3;
/** Bumped by the main thread whenever a slot is registered or released. */
export const H_GENERATION = 4;
export const HEADER_BYTES = 64;

export const LAYOUT_MAGIC = 0x7864626d; // 'xdbm'
export const LAYOUT_VERSION = 1;

/** Int32 word offsets inside a slot (add slotWordBase(slot)). */
/** Seqlock word: odd while a writer is inside, bumped by 2 per publish. */
export const S_SEQ = 0;
/** HEALTH_STATE_CODE of the endpoint (atomic; 0 = slot free). */
export const S_STATE = 1;
/** 1 while a probe of this endpoint runs in a worker (atomic). */
export const S_INFLIGHT = 2;
/** threadId of the worker running that probe, 0 when none (atomic). */
export const S_INFLIGHT_THREAD = 3;
/** Consecutive failed probes (atomic; reset by a passed probe). */
export const S_CONSEC_FAILURES = 4;
/** Consecutive passed probes (atomic; reset by a failed probe). */
export const S_CONSEC_SUCCESSES = 5;
/** Registration generation of this slot: a worker publishes only when it still matches (atomic). */
export const S_SLOT_GEN = 6;
/** Kind of the last probe: index in PROBE_KINDS + 1, 0 = none (atomic). */
export const S_LAST_PROBE_KIND = 7;
export const SLOT_INT_WORDS = 8;

/** Float64 indices inside a slot (add slotF64Base(slot)); all under the seqlock. */
export const F_LAST_UPDATE_MS = 0;
/** Cumulative operations recorded (probe ops and data-path ops). */
export const F_OPS = 1;
/** Cumulative failed operations. */
export const F_ERRORS = 2;
/** Cumulative latency of successful operations, microseconds. */
export const F_LATENCY_SUM_US = 3;
export const F_AVG_LATENCY_US = 4;
export const F_P50_LATENCY_US = 5;
export const F_P99_LATENCY_US = 6;
export const F_BANDWIDTH_MBPS = 7;
export const F_IOPS = 8;
/** 0..1 over the last probe window (EWMA for data-path ops). */
export const F_ERROR_RATE = 9;
/** 0..1 load figure (in-flight data-path ops / queue depth). */
export const F_LOAD = 10;
/** Duration of the last probe, ms. */
export const F_LAST_PROBE_DURATION_MS = 11;
/** Date.now() when the last probe finished. */
export const F_LAST_PROBE_MS = 12;
/** 1 when the last probe passed, 0 when it failed. */
export const F_LAST_PROBE_OK = 13;
/**
 * Time the last probe waited before its first I/O (pool queue + worker wake-up), microseconds. Kept
 * apart from every latency figure: it measures this process, not the backend.
 */
export const F_LAST_PROBE_QUEUE_US = 14;
export const SLOT_F64_COUNT = 16;

/**
 * log2 latency histogram: bucket 0 counts latencies below 2 us, bucket i (1..30) counts
 * [2^i, 2^(i+1)) us, bucket 31 everything from 2^31 us (about 36 minutes) up. Uint32 counts, under
 * the seqlock.
 */
export const HISTOGRAM_BUCKETS = 32;

const SLOT_INT_BYTES = SLOT_INT_WORDS * 4; // 32
const SLOT_F64_BYTES = SLOT_F64_COUNT * 8; // 128
const SLOT_HIST_BYTES = HISTOGRAM_BUCKETS * 4; // 128
/** Bytes of one slot, rounded up to 64. */
export const SLOT_BYTES = Math.ceil((SLOT_INT_BYTES + SLOT_F64_BYTES + SLOT_HIST_BYTES) / 64) * 64;

/** Byte offset of a slot's first byte. */
export function slotByteOffset(slot: number): number {
  return HEADER_BYTES + slot * SLOT_BYTES;
}
/** Index in an Int32Array view of the slot's S_SEQ word. */
export function slotWordBase(slot: number): number {
  return slotByteOffset(slot) / 4;
}
/** Index in a Float64Array view of the slot's first Float64 field. */
export function slotF64Base(slot: number): number {
  return (slotByteOffset(slot) + SLOT_INT_BYTES) / 8;
}
/** Index in a Uint32Array view of the slot's histogram bucket 0. */
export function slotHistogramBase(slot: number): number {
  return (slotByteOffset(slot) + SLOT_INT_BYTES + SLOT_F64_BYTES) / 4;
}

export function bufferBytesFor(capacitySlots: number): number {
  return HEADER_BYTES + capacitySlots * SLOT_BYTES;
}

/** The three views every reader and writer uses. */
export interface MetricsViews {
  i32: Int32Array;
  f64: Float64Array;
  u32: Uint32Array;
  slotCount: number;
}

export function viewsOf(buffer: SharedArrayBuffer): MetricsViews {
  const i32 = new Int32Array(buffer);
  return { i32, f64: new Float64Array(buffer), u32: new Uint32Array(buffer), slotCount: Atomics.load(i32, H_SLOT_COUNT) };
}
