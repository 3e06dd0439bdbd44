/** What one probe kind produces, and how it becomes a ProbeResult. */
import { summarizeLatencies } from '../../src/metrics/histogram.js';
import type { ProbeErrorInfo, ProbeResult } from '../../src/probes/types.js';
import type { ProbeKind } from '../../src/types.js';
import type { ProbeContext } from '../probe-context.js';

export interface ProbeOutcome {
  ok: boolean;
  /** Operations attempted, and failed. */
  ops: number;
  errors: number;
  /** Bytes moved by successful operations. */
  bytes: number;
  /** Time those bytes took, microseconds (the denominator of bandwidth and IOPS). */
  busyUs: number;
  /** Latencies of successful operations, microseconds. */
  latenciesUs: number[];
  /** Successful operations that busyUs covers, when not ops - errors (the full probe rates its stress part). */
  rateOps?: number;
  error?: ProbeErrorInfo;
  health?: Record<string, unknown>;
}

/** Outcome from a context's tally; `ok` also requires no failed operation unless `okDespiteErrors`. */
export function outcomeOf(ctx: ProbeContext, extra: { ok?: boolean; error?: ProbeErrorInfo; health?: Record<string, unknown> } = {}): ProbeOutcome {
  const error = extra.error ?? ctx.firstError;
  return {
    ok: extra.ok ?? (ctx.errors === 0 && error === undefined),
    ops: ctx.ops,
    errors: ctx.errors,
    bytes: ctx.bytes,
    busyUs: ctx.busyUs,
    latenciesUs: ctx.latenciesUs,
    error,
    health: extra.health,
  };
}

export function failedOutcome(error: ProbeErrorInfo, ctx?: ProbeContext): ProbeOutcome {
  return {
    ok: false, ops: ctx?.ops ?? 0, errors: ctx?.errors ?? 0, bytes: ctx?.bytes ?? 0, busyUs: ctx?.busyUs ?? 0,
    latenciesUs: ctx?.latenciesUs ?? [], error,
  };
}

export function toResult(endpointId: string, kind: ProbeKind, o: ProbeOutcome, durationMs: number, finishedAtMs: number): ProbeResult {
  const s = summarizeLatencies(o.latenciesUs);
  const okOps = o.ops - o.errors;
  const r: ProbeResult = {
    endpointId,
    kind,
    ok: o.ok,
    ops: o.ops,
    errors: o.errors,
    errorRate: o.ops > 0 ? o.errors / o.ops : 0,
    avgLatencyUs: s.avgLatencyUs,
    p50LatencyUs: s.p50LatencyUs,
    p99LatencyUs: s.p99LatencyUs,
    // bytes per microsecond = MB/s (MB = 10^6 bytes)
    bandwidthMBps: o.busyUs > 0 ? o.bytes / o.busyUs : 0,
    iops: o.busyUs > 0 ? (o.rateOps ?? okOps) / (o.busyUs / 1e6) : 0,
    durationMs,
    finishedAtMs,
  };
  if (o.error) r.error = o.error;
  if (o.health) r.health = o.health;
  return r;
}
