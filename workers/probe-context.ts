/**
 * Per-task state inside a probe worker: the deadline and cancel checks made before every operation,
 * and the tally of operations, errors and latencies that becomes the ProbeResult.
 */
import { ErrorCode, XdbmError, fromSystemError, isXdbmError } from '../src/errors.js';
import type { ProbeErrorInfo } from '../src/probes/types.js';
import { C_CANCEL, type ProbeTask } from '../src/probes/task.js';

export class ProbeContext {
  readonly task: ProbeTask;
  readonly #control: Int32Array;
  ops = 0;
  errors = 0;
  bytes = 0;
  /** Latencies of successful operations, microseconds. */
  readonly latenciesUs: number[] = [];
  /** Time spent in operations whose bytes count for bandwidth, microseconds. */
  busyUs = 0;
  firstError?: ProbeErrorInfo;

  constructor(task: ProbeTask) {
    this.task = task;
    this.#control = new Int32Array(task.control);
  }

  /** Milliseconds left before the deadline (may be negative). */
  remainingMs(): number {
    return this.task.deadlineMs - Date.now();
  }

  /** Throws XDBM_PROBE_TIMEOUT when the deadline passed or the pool cancelled the task. */
  check(what: string): void {
    if (Atomics.load(this.#control, C_CANCEL) !== 0) {
      throw new XdbmError(ErrorCode.PROBE_TIMEOUT, `probe cancelled before ${what}`);
    }
    if (Date.now() >= this.task.deadlineMs) {
      throw new XdbmError(ErrorCode.PROBE_TIMEOUT, `probe deadline passed before ${what}`);
    }
  }

  /** Runs one timed operation; a failure is counted (and the first kept), never thrown, except a timeout. */
  timed(what: string, bytes: number, fn: () => void): boolean {
    this.check(what);
    const t0 = process.hrtime.bigint();
    try {
      fn();
    } catch (e) {
      this.fail(e, what);
      return false;
    }
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    this.ops++;
    this.bytes += bytes;
    this.busyUs += us;
    this.latenciesUs.push(us);
    return true;
  }

  /** Counts a failed operation. Timeouts and out-of-area errors are rethrown: they end the probe. */
  fail(e: unknown, what: string): void {
    const err = toProbeError(e, what);
    if (err.code === ErrorCode.PROBE_TIMEOUT || err.code === ErrorCode.OUT_OF_PROBE_AREA) throw e;
    this.ops++;
    this.errors++;
    this.firstError ??= err;
  }
}

export function toProbeError(e: unknown, what: string): ProbeErrorInfo {
  const x = isXdbmError(e) ? e : fromSystemError(e, what);
  const out: ProbeErrorInfo = { code: x.code, message: x.message };
  if (typeof (x as XdbmError).errno === 'number') out.errno = (x as XdbmError).errno;
  return out;
}
