/**
 * Entry of the Piscina probe workers (loaded as dist/workers/probe-worker.js). Runs one probe task on
 * its target with synchronous I/O (fs or the addon), so a hung device blocks this thread only; the pool
 * on the main thread owns deadlines and replaces a worker that does not come back.
 * The result is published into the task's metrics slot with Atomics (SlotWriter) before it is returned.
 * Never throws for a backend fault: every failure becomes ok=false with a code.
 */
import { threadId, workerData } from 'node:worker_threads';
import { ErrorCode } from '../src/errors.js';
import { SlotWriter } from '../src/metrics/slot-writer.js';
import {
  C_PHASE, C_PUBLISHED, C_QUEUE_US, C_THREAD_ID, PHASE_DONE, PHASE_RUNNING, epochMs, type ProbeTask, type ProbeWorkerData,
} from '../src/probes/task.js';
import type { ProbeResult } from '../src/probes/types.js';
import { PROBE_KINDS, type ProbeKind } from '../src/types.js';
import { DeviceIo } from './io/device-io.js';
import { FsIo } from './io/fs-io.js';
import type { ProbeIo } from './io/types.js';
import { ProbeContext, toProbeError } from './probe-context.js';
import { basicProbe } from './probes/basic.js';
import { fullProbe } from './probes/full.js';
import { failedOutcome, toResult, type ProbeOutcome } from './probes/outcome.js';
import { performanceProbe } from './probes/performance.js';
import { stressProbe } from './probes/stress.js';

const data = (workerData ?? {}) as ProbeWorkerData;
// A worker may wait longer than the main thread for a slot (it blocks nobody else).
const WORKER_LOCK_WAIT_MS = 1000;
const writer = data.metricsBuffer ? new SlotWriter(data.metricsBuffer, { lockWaitMs: WORKER_LOCK_WAIT_MS }) : undefined;

const KINDS: Record<ProbeKind, (io: ProbeIo, ctx: ProbeContext) => Promise<ProbeOutcome>> = {
  basic: basicProbe,
  performance: performanceProbe,
  stress: (io, ctx) => stressProbe(io, ctx),
  full: fullProbe,
};

export function openIo(task: ProbeTask): ProbeIo {
  return task.target.kind === 'device' ? new DeviceIo(task.target) : new FsIo(task.target);
}

export default async function runProbeTask(task: ProbeTask): Promise<ProbeResult> {
  const control = new Int32Array(task.control);
  // Queueing and wake-up end here: they are reported as queueUs and the I/O budget starts now.
  const queueUs = Math.max(0, Math.min(Math.round((epochMs() - task.requestedAtMs) * 1000), 0x7fffffff));
  task.deadlineMs = Date.now() + task.timeoutMs;
  Atomics.store(control, C_QUEUE_US, queueUs);
  Atomics.store(control, C_THREAD_ID, threadId);
  Atomics.store(control, C_PHASE, PHASE_RUNNING);
  const publish = writer !== undefined && task.slot !== undefined;
  if (publish) writer.setInFlight(task.slot!, threadId, task.slotGen);
  const t0 = performance.now();
  const ctx = new ProbeContext(task);
  let outcome: ProbeOutcome;
  try {
    const run = KINDS[task.kind];
    if (!run) throw Object.assign(new Error(`unknown probe kind ${String(task.kind)}`), { code: ErrorCode.INVALID_ARGUMENT });
    const io = openIo(task);
    try {
      outcome = await run(io, ctx);
    } finally {
      io.close();
    }
  } catch (e) {
    outcome = failedOutcome(toProbeError(e, `${task.kind} probe of ${task.target.endpointId}`), ctx);
  }
  const result = toResult(task.target.endpointId, task.kind, outcome, performance.now() - t0, Date.now());
  result.queueUs = queueUs;
  // Publish only if the pool has not already answered (and published) a timeout for this task.
  if (publish && Atomics.compareExchange(control, C_PUBLISHED, 0, 1) === 0) {
    writer.publishProbe(task.slot!, {
      ...result,
      kindCode: PROBE_KINDS.indexOf(task.kind) + 1,
      latenciesUs: outcome.latenciesUs,
    }, task.slotGen);
  }
  if (publish) writer.setInFlight(task.slot!, 0, task.slotGen);
  Atomics.store(control, C_PHASE, PHASE_DONE);
  return result;
}
