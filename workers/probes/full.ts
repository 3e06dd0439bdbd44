/**
 * Full probe (seed comprehensive_health_check): basic, then performance, then stress (for half the
 * time left at most), plus the backend's health facts gathered on the main thread (NVMe-oF:
 * controller, ANA, SMART). Passes when all three pass and the facts show no problem (nvmeHealthProblem).
 * Latency figures come from the performance part, bandwidth and IOPS from the stress part.
 */
import { ErrorCode } from '../../src/errors.js';
import { summarizeLatencies } from '../../src/metrics/histogram.js';
import type { ProbeIo } from '../io/types.js';
import { ProbeContext, toProbeError } from '../probe-context.js';
import { basicProbe } from './basic.js';
import { failedOutcome, type ProbeOutcome } from './outcome.js';
import { performanceProbe } from './performance.js';
import { stressProbe } from './stress.js';

const BAD_ANA = new Set(['inaccessible', 'persistent_loss', 'persistent-loss', 'change', 3, 4, 15]);
const GOOD_CTRL = new Set(['live', 'connected']);

function pick(o: unknown, ...keys: string[]): unknown {
  let cur = o;
  for (const k of keys) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** A reason the health facts say the backend is unwell, or undefined. Knows the keys NVMe backends report. */
export function nvmeHealthProblem(h: Record<string, unknown> | undefined): string | undefined {
  if (!h) return undefined;
  const cw = pick(h, 'smart', 'criticalWarning') ?? h.criticalWarning;
  if (typeof cw === 'number' && cw !== 0) return `SMART critical warning 0x${cw.toString(16)}`;
  const ana = pick(h, 'ana', 'state') ?? h.anaState;
  if ((typeof ana === 'string' && BAD_ANA.has(ana.toLowerCase())) || (typeof ana === 'number' && BAD_ANA.has(ana))) {
    return `ANA state ${String(ana)}`;
  }
  const ctrl = pick(h, 'controller', 'state') ?? h.controllerState;
  if (typeof ctrl === 'string' && !GOOD_CTRL.has(ctrl.toLowerCase())) return `controller state ${ctrl}`;
  return undefined;
}

function part(o: ProbeOutcome): Record<string, unknown> {
  return { ok: o.ok, ops: o.ops, errors: o.errors, ...(o.error ? { error: o.error } : {}) };
}

export async function fullProbe(io: ProbeIo, ctx: ProbeContext): Promise<ProbeOutcome> {
  const parts: Record<string, ProbeOutcome> = {};
  const run = async (name: string, fn: (c: ProbeContext) => Promise<ProbeOutcome>): Promise<ProbeOutcome> => {
    const c = new ProbeContext(ctx.task);
    try {
      parts[name] = await fn(c);
    } catch (e) {
      const err = toProbeError(e, name);
      if (err.code === ErrorCode.PROBE_TIMEOUT || err.code === ErrorCode.OUT_OF_PROBE_AREA) throw e;
      parts[name] = failedOutcome(err, c);
    }
    return parts[name]!;
  };
  const basic = await run('basic', (c) => basicProbe(io, c));
  const perf = await run('performance', (c) => performanceProbe(io, c));
  const stress = await run('stress', (c) => stressProbe(io, c, Math.min(ctx.task.durationMs, ctx.remainingMs() / 2)));
  const problem = nvmeHealthProblem(ctx.task.health);
  const all = [basic, perf, stress];
  const firstFail = all.find((o) => !o.ok)?.error;
  const error = problem ? { code: ErrorCode.NVME_ERROR, message: problem } : firstFail;
  const out: ProbeOutcome = {
    ok: all.every((o) => o.ok) && !problem,
    ops: all.reduce((s, o) => s + o.ops, 0),
    errors: all.reduce((s, o) => s + o.errors, 0),
    bytes: stress.bytes,
    busyUs: stress.busyUs,
    rateOps: stress.ops - stress.errors,
    // latency figures of the full probe are those of the performance part
    latenciesUs: perf.latenciesUs,
    health: {
      ...(ctx.task.health ?? {}),
      ...(stress.health ?? {}),
      probes: { basic: part(basic), performance: part(perf), stress: part(stress) },
      stressLatency: summarizeLatencies(stress.latenciesUs),
    },
  };
  if (error) out.error = error;
  return out;
}
