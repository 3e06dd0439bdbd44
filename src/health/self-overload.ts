/**
 * Local overload: this process, not a backend, is short of time. When the event loop runs late or the
 * probe pool cannot drain its queue, probe timeouts and slow rounds say nothing about the backends, so
 * the health monitor changes no backend state for them and raises `xdbm_self_overloaded` instead.
 * Descriptor and memory exhaustion are the daemon's operational-safety concern, not judged here.
 *
 * Pure: one round's signs in, a verdict out; the monitor gathers the signs.
 */

export interface OverloadLimits {
  /** p99 event-loop delay over a round above this is overload (default 200 ms: 4x a busy-but-fine loop). */
  eventLoopDelayLimitMs: number;
  /** A probe that waited longer than this for a worker is overload (default: the health-check interval). */
  queueLimitUs: number;
}

export const DEFAULT_EVENT_LOOP_DELAY_LIMIT_MS = 200;

export interface OverloadSigns {
  /** p99 event-loop delay since the previous round, milliseconds (0 when not measured). */
  eventLoopDelayP99Ms: number;
  /** Probes still waiting for a worker when the round started (the last round did not drain). */
  queueBacklog: number;
  /** Longest pool queueing + wake-up of a probe this round, microseconds. */
  maxQueueUs: number;
  /** Probes that never started this round (XDBM_PROBE_OVERLOADED). */
  overloadedProbes: number;
}

export interface OverloadVerdict {
  overloaded: boolean;
  /** Which signs crossed their limits, for the alert text and the logs. */
  reasons: string[];
}

export function judgeOverload(s: OverloadSigns, l: OverloadLimits): OverloadVerdict {
  const reasons: string[] = [];
  if (s.eventLoopDelayP99Ms > l.eventLoopDelayLimitMs) {
    reasons.push(`event-loop delay p99 ${Math.round(s.eventLoopDelayP99Ms)} ms > ${l.eventLoopDelayLimitMs} ms`);
  }
  if (s.queueBacklog > 0) reasons.push(`${s.queueBacklog} probes still queued from the previous round`);
  if (s.maxQueueUs > l.queueLimitUs) reasons.push(`a probe waited ${Math.round(s.maxQueueUs / 1000)} ms for a worker`);
  if (s.overloadedProbes > 0) reasons.push(`${s.overloadedProbes} probes found no free worker`);
  return { overloaded: reasons.length > 0, reasons };
}

export function noSigns(): OverloadSigns {
  return { eventLoopDelayP99Ms: 0, queueBacklog: 0, maxQueueUs: 0, overloadedProbes: 0 };
}
