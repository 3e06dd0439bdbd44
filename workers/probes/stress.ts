/**
 * Stress probe: `queueDepth` 4 KiB random writes in flight for `durationMs` (cut to the deadline).
 * Devices and O_DIRECT files: one io_uring batch in the addon; NFS dirs: concurrent fs writes.
 * Passes when some writes completed and the error rate is at most maxAcceptableErrorRate.
 */
import { ErrorCode, XdbmError } from '../../src/errors.js';
import { STRESS_BLOCK_BYTES } from '../../src/probes/task.js';
import type { ProbeIo } from '../io/types.js';
import type { ProbeContext } from '../probe-context.js';
import type { ProbeOutcome } from './outcome.js';

/** Time kept back from the deadline for set-up and clean-up around the load. */
const STRESS_MARGIN_MS = 20;

export async function stressProbe(io: ProbeIo, ctx: ProbeContext, durationMs = ctx.task.durationMs): Promise<ProbeOutcome> {
  ctx.check('stress');
  const runMs = Math.min(durationMs, ctx.remainingMs() - STRESS_MARGIN_MS);
  if (runMs <= 0) throw new XdbmError(ErrorCode.PROBE_TIMEOUT, 'no time left before the deadline for the stress load');
  const r = await io.stress({ queueDepth: ctx.task.queueDepth, durationMs: runMs, blockBytes: STRESS_BLOCK_BYTES }, ctx);
  const attempted = r.ops + r.errors;
  const errorRate = attempted > 0 ? r.errors / attempted : 1;
  const ok = r.ops > 0 && errorRate <= ctx.task.thresholds.maxAcceptableErrorRate;
  const out: ProbeOutcome = {
    ok,
    ops: attempted,
    errors: r.errors,
    bytes: r.bytes,
    busyUs: r.elapsedUs,
    latenciesUs: r.latenciesUs,
    health: { stressEngine: r.engine, queueDepth: ctx.task.queueDepth, stressDurationMs: runMs },
  };
  if (r.errors > 0 || !ok) {
    out.error = r.firstErrno
      ? { code: ErrorCode.IO_ERROR, message: `stress write failed with errno ${r.firstErrno}`, errno: r.firstErrno }
      : { code: ErrorCode.PROBE_THRESHOLD, message: `stress probe completed ${r.ops} of ${attempted} writes` };
  }
  return out;
}
