/**
 * The snapshot selection works on: a plain copy of what the manager knows about each candidate at one
 * instant. Selection functions are pure over it (no I/O, no clock reads: nowMs is in the snapshot).
 */
import type { BackendType, EndpointMetrics, HealthState } from '../types.js';

export interface CandidateView {
  endpointId: string;
  nodeId: string;
  type: BackendType;
  /** Node labels merged with endpoint labels (endpoint wins). */
  labels: Record<string, string>;
  /** 0..1, multiplies the score; 0 means never select. */
  weight: number;
  state: HealthState;
  consecutiveFailures: number;
  metrics: EndpointMetrics;
  /** Anti-flap hold-down end (Date.now() ms), 0 when none. */
  holdDownUntilMs: number;
}

export interface SelectionSnapshot {
  nowMs: number;
  candidates: CandidateView[];
}

export interface ScoreBreakdown {
  latency: number;
  bandwidth: number;
  reliability: number;
  load: number;
  /** Weighted sum of the four, times the endpoint weight. */
  total: number;
}
