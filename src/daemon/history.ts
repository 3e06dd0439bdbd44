/**
 * Short in-memory history for operators: latency samples per backend (for the dashboard's chart),
 * failovers, active-set changes and alert transitions (the timeline). Bounded ring buffers.
 *
 * Events that change what the log writes to (failovers, active-set changes) and operator-facing ones
 * (alerts, reloads) live in one ring; per-backend state changes in another, each with its own bound.
 * State changes come in bursts (a shared file system hiccups, twenty backends go DEGRADED and back);
 * sharing one ring, a burst would push the failovers out of the timeline exactly when they matter.
 */
import type { AlertTransition } from '../alerts/evaluator.js';
import type { ActiveChangedEvent, BackendStatus, FailoverRecord, StateChangedEvent } from '../manager-api.js';

export interface LatencyPoint {
  atMs: number;
  avgLatencyUs: number;
  p99LatencyUs: number;
}

export type TimelineEvent =
  | { kind: 'failover'; atMs: number; record: FailoverRecord }
  | { kind: 'active-changed'; atMs: number; previous: string[]; current: string[]; reason: string }
  | { kind: 'state-changed'; atMs: number; endpointId: string; from: string; to: string; reason: string }
  | { kind: 'alert'; atMs: number; ruleName: string; severity: string; transition: 'firing' | 'resolved' }
  | { kind: 'reload'; atMs: number; ok: boolean; file: string; summary: string };

export interface HistoryLimits {
  /** Points kept per backend (default 150: 5 minutes at one point every 2 s). */
  latencyPoints: number;
  latencySampleMs: number;
  timelineEvents: number;
  /** State changes kept, apart from the timeline's other events (default 200). */
  stateChangeEvents: number;
}

type StateChangedTimelineEvent = Extract<TimelineEvent, { kind: 'state-changed' }>;

export class OpsHistory {
  #latency = new Map<string, LatencyPoint[]>();
  #timeline: TimelineEvent[] = [];
  #stateChanges: StateChangedTimelineEvent[] = [];
  #failovers: FailoverRecord[] = [];
  #lastSampleMs = -Infinity;
  readonly limits: HistoryLimits;

  constructor(limits: Partial<HistoryLimits> = {}) {
    this.limits = {
      latencyPoints: limits.latencyPoints ?? 150,
      latencySampleMs: limits.latencySampleMs ?? 2000,
      timelineEvents: limits.timelineEvents ?? 200,
      stateChangeEvents: limits.stateChangeEvents ?? 200,
    };
  }

  /** Adds one point per backend, at most one every `latencySampleMs` (older points drop off). */
  sampleLatency(backends: readonly BackendStatus[], nowMs: number): void {
    if (nowMs - this.#lastSampleMs < this.limits.latencySampleMs) return;
    this.#lastSampleMs = nowMs;
    const seen = new Set<string>();
    for (const b of backends) {
      seen.add(b.endpointId);
      let pts = this.#latency.get(b.endpointId);
      if (!pts) this.#latency.set(b.endpointId, (pts = []));
      pts.push({ atMs: nowMs, avgLatencyUs: Math.round(b.metrics.avgLatencyUs), p99LatencyUs: Math.round(b.metrics.p99LatencyUs) });
      if (pts.length > this.limits.latencyPoints) pts.splice(0, pts.length - this.limits.latencyPoints);
    }
    for (const id of [...this.#latency.keys()]) if (!seen.has(id)) this.#latency.delete(id);
  }

  #push(e: TimelineEvent): void {
    this.#timeline.push(e);
    if (this.#timeline.length > this.limits.timelineEvents) this.#timeline.shift();
  }

  failover(r: FailoverRecord): void {
    this.#failovers.push(r);
    if (this.#failovers.length > this.limits.timelineEvents) this.#failovers.shift();
    this.#push({ kind: 'failover', atMs: r.startedAtMs + r.durationMs, record: r });
  }

  activeChanged(e: ActiveChangedEvent, nowMs: number): void {
    this.#push({ kind: 'active-changed', atMs: nowMs, previous: e.previous, current: e.current, reason: e.reason });
  }

  stateChanged(e: StateChangedEvent, nowMs: number): void {
    this.#stateChanges.push({ kind: 'state-changed', atMs: nowMs, endpointId: e.endpointId, from: e.from, to: e.to, reason: e.reason });
    if (this.#stateChanges.length > this.limits.stateChangeEvents) this.#stateChanges.shift();
  }

  alert(t: AlertTransition): void {
    this.#push({ kind: 'alert', atMs: t.atMs, ruleName: t.ruleName, severity: t.severity, transition: t.kind });
  }

  reload(ok: boolean, file: string, summary: string, nowMs: number): void {
    this.#push({ kind: 'reload', atMs: nowMs, ok, file, summary });
  }

  latency(): Record<string, LatencyPoint[]> {
    return Object.fromEntries([...this.#latency].map(([k, v]) => [k, v.slice()]));
  }

  /** Both rings merged in time order (optionally only some kinds). */
  timeline(kinds?: ReadonlySet<TimelineEvent['kind']>): TimelineEvent[] {
    const all = [...this.#timeline, ...this.#stateChanges].sort((a, b) => a.atMs - b.atMs);
    return kinds ? all.filter((e) => kinds.has(e.kind)) : all;
  }

  /** Failovers, active-set changes, alerts and reloads: never crowded out by state changes. */
  events(): TimelineEvent[] {
    return this.#timeline.slice();
  }

  /** Per-backend state changes, newest last. */
  stateChanges(): TimelineEvent[] {
    return this.#stateChanges.slice();
  }

  recentFailovers(n = 20): FailoverRecord[] {
    return this.#failovers.slice(-n);
  }
}
