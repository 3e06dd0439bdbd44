/**
 * Performance probe (seed performance_benchmark_check): 100 durable 4 KiB writes of 0xAA, each to its
 * own `_perf_test_N` object, deleted after it (the delete is not timed). Average latency, p50/p99,
 * bandwidth and IOPS come from the successful writes. Passes when at least one write succeeded, the
 * average latency is at most maxAcceptableLatencyUs and the error rate at most maxAcceptableErrorRate.
 */
import { ErrorCode } from '../../src/errors.js';
import { PERF_BLOCK_BYTES, PERF_OPS } from '../../src/probes/task.js';
import type { ProbeIo } from '../io/types.js';
import type { ProbeContext } from '../probe-context.js';
import { outcomeOf, type ProbeOutcome } from './outcome.js';

export async function performanceProbe(io: ProbeIo, ctx: ProbeContext): Promise<ProbeOutcome> {
  const buf = io.alloc(PERF_BLOCK_BYTES).fill(0xaa);
  const data = buf.subarray(0, PERF_BLOCK_BYTES);
  for (let i = 0; i < PERF_OPS; i++) {
    const name = `_perf_test_${i}`;
    ctx.timed('write', PERF_BLOCK_BYTES, () => io.writeObject(name, data));
    ctx.check('delete');
    try {
      io.deleteObject(name);
    } catch {
      // the seed ignores a failed clean-up; the next probe overwrites the same object
    }
  }
  const th = ctx.task.thresholds;
  const okOps = ctx.ops - ctx.errors;
  const errorRate = ctx.ops > 0 ? ctx.errors / ctx.ops : 1;
  const avgUs = okOps > 0 ? ctx.busyUs / okOps : 0;
  if (okOps === 0) return outcomeOf(ctx, { ok: false });
  if (avgUs > th.maxAcceptableLatencyUs) {
    return outcomeOf(ctx, {
      ok: false,
      error: { code: ErrorCode.PROBE_THRESHOLD, message: `average write latency ${avgUs.toFixed(0)} us exceeds ${th.maxAcceptableLatencyUs} us` },
    });
  }
  if (errorRate > th.maxAcceptableErrorRate) {
    return outcomeOf(ctx, {
      ok: false,
      error: ctx.firstError ?? { code: ErrorCode.PROBE_THRESHOLD, message: `error rate ${errorRate} exceeds ${th.maxAcceptableErrorRate}` },
    });
  }
  // A few failed writes under the error-rate limit still pass (seed semantics); the first is reported.
  return outcomeOf(ctx, { ok: true });
}
