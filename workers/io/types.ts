/** What a probe needs from a target, whatever it is (a directory or a byte range of a device). */
import type { ProbeContext } from '../probe-context.js';

export interface StressJob {
  queueDepth: number;
  durationMs: number;
  blockBytes: number;
}

export interface StressOutcome {
  ops: number;
  errors: number;
  bytes: number;
  elapsedUs: number;
  /** Per-operation latencies of successful operations, microseconds. */
  latenciesUs: number[];
  firstErrno: number;
  /** How the load was generated: 'io_uring', 'io_uring-direct', 'fs-concurrent'. */
  engine: string;
}

/**
 * A preallocated object written over in place, each write made durable: the log's own pattern (appends
 * into a preallocated segment) and fio's (psync + fdatasync on a laid-out file), so a probe that times
 * region writes times the device, not file creation and block allocation.
 */
export interface ProbeRegion {
  /** pwrite of `data` at `offsetBytes` inside the region, then fdatasync: the only timed part. */
  write(offsetBytes: number, data: Uint8Array): void;
  close(): void;
}

export interface ProbeIo {
  /** Buffers passed to write must be aligned to this and sized in multiples of it when `aligned`. */
  readonly alignBytes: number;
  /** True when writes go through O_DIRECT (lengths are rounded up to alignBytes). */
  readonly direct: boolean;
  /** Buffer suitable for this target's writes. */
  alloc(lengthBytes: number): Buffer;
  /** Creates or overwrites the probe object `name` with `data` and makes it durable. */
  writeObject(name: string, data: Uint8Array): void;
  readObject(name: string, lengthBytes: number): Buffer;
  /** Removes the object (devices: zeroes its blocks in the probe area). */
  deleteObject(name: string): void;
  /** Lays out (untimed) a region of `lengthBytes` for in-place durable writes. */
  region(name: string, lengthBytes: number): ProbeRegion;
  /** Queue-depth load for a bounded time. */
  stress(job: StressJob, ctx: ProbeContext): Promise<StressOutcome>;
  close(): void;
}
