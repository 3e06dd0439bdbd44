/**
 * The message the pool (src/probes/pool.ts) sends to the probe worker (workers/probe-worker.ts), and the
 * per-task control words they share. Structured-clone safe; imports nothing a worker cannot load.
 */
import type { ProbeTarget } from '../backends/backend.js';
import type { ProbeKind } from '../types.js';

/** Control words of one task: a 16-byte SharedArrayBuffer viewed as Int32Array. */
/** threadId of the worker that picked the task up (0 while queued). */
export const C_THREAD_ID = 0;
/** C_PHASE values: queued, running, finished. */
export const C_PHASE = 1;
export const PHASE_QUEUED = 0;
export const PHASE_RUNNING = 1;
export const PHASE_DONE = 2;
/** Set to 1 by the pool when the caller no longer waits (deadline or abort): stop between operations. */
export const C_CANCEL = 2;
/**
 * Who publishes this task's result into the metrics slot: the first to compareExchange 0 -> 1 (the
 * worker when it finishes, or the pool when it answers a timeout or crash). So the slot always agrees
 * with what the caller was told, even when a late worker finishes after its deadline.
 */
export const C_PUBLISHED = 3;
/**
 * Microseconds from the request (ProbeTask.requestedAtMs) to the worker picking the task up: pool
 * queueing plus worker wake-up. Written once by the worker before its first I/O; -1 while queued.
 * The pool reads it to count the deadline from the start of the I/O.
 */
export const C_QUEUE_US = 4;
export const CONTROL_BYTES = 32;
/** C_QUEUE_US while the task has not been picked up. */
export const QUEUE_US_UNSET = -1;

/** Epoch milliseconds with sub-millisecond precision, comparable between threads (performance.now() is per thread). */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

export interface ProbeThresholds {
  /** Performance probe fails when its average write latency exceeds this (seed MAX_ACCEPTABLE_LATENCY_US). */
  maxAcceptableLatencyUs: number;
  /** Performance and stress probes fail when their error rate exceeds this (seed MAX_ACCEPTABLE_ERROR_RATE). */
  maxAcceptableErrorRate: number;
}

/** Seed defaults, used when the caller passes none (same values as src/config/defaults.ts). */
export const DEFAULT_THRESHOLDS: Readonly<ProbeThresholds> = Object.freeze({
  maxAcceptableLatencyUs: 100_000,
  maxAcceptableErrorRate: 0.1,
});

/** Performance probe shape (seed: 100 x 4 KiB). */
export const PERF_OPS = 100;
export const PERF_BLOCK_BYTES = 4096;
/** Stress probe defaults. */
export const STRESS_DEFAULT_QUEUE_DEPTH = 16;
export const STRESS_DEFAULT_DURATION_MS = 200;
export const STRESS_BLOCK_BYTES = 4096;
/**
 * Size of the file a stress probe writes into on dir targets. It is written in full (and synced)
 * before the load, so the random writes overwrite allocated blocks, as log writes to a preallocated
 * segment do, instead of timing the file system's block allocation.
 */
export const STRESS_FILE_BYTES = 2 * 1024 * 1024;

export interface ProbeTask {
  target: ProbeTarget;
  kind: ProbeKind;
  /** epochMs() when the caller asked for the probe (the start of its queueing). */
  requestedAtMs: number;
  /** I/O budget, counted from when the worker picks the task up, not from the request. */
  timeoutMs: number;
  /**
   * Date.now() past which the worker starts no new operation: set by the worker when it picks the task
   * up (its start + timeoutMs), so time spent queued behind other probes never eats the I/O budget.
   */
  deadlineMs: number;
  queueDepth: number;
  durationMs: number;
  thresholds: ProbeThresholds;
  /** Health facts gathered by the backend on the main thread (NVMe: controller, ANA, SMART); full probe only. */
  health?: Record<string, unknown>;
  /** Metrics slot to publish into (absent: do not publish). */
  slot?: number;
  /** Registration generation of that slot: a late publish to a reused slot is dropped. */
  slotGen?: number;
  /** Int32 control words (C_*), CONTROL_BYTES long. */
  control: SharedArrayBuffer;
}

/** workerData of the probe pool's workers. */
export interface ProbeWorkerData {
  /** The metrics SharedArrayBuffer (layout in src/metrics/layout.ts), when the pool has a store. */
  metricsBuffer?: SharedArrayBuffer;
}
