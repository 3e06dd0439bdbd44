/**
 * Seed section 4.1 scoring formulas, exactly. Each factor is 0..1; the total is the weighted sum of
 * the factors times the endpoint weight.
 *
 * Unit note: the seed scores bandwidth in Mbps (megabits per second: 100 Mbps baseline, 10000 Mbps =
 * 10 Gbps cap). Our metrics carry MBps (megabytes per second), so bandwidthScore converts with
 * Mbps = MBps * 8 before applying the seed formula.
 *
 * The seed leaves calculate_load_score undefined; load is a 0..1 figure, so load score = 1 - load,
 * clamped to 0..1.
 */
import type { SelectionConfig } from '../config/types.js';
import type { HealthState } from '../types.js';
import type { CandidateView, ScoreBreakdown } from './types.js';

export const LATENCY_BASELINE_US = 100;
export const LATENCY_MAX_US = 10_000;
export const BANDWIDTH_BASELINE_MBITPS = 100;
export const BANDWIDTH_MAX_MBITPS = 10_000;
export const BITS_PER_BYTE = 8;

/** 1.0 at <= 100 us, 0.1 at >= 10000 us, 1 / (1 + ln(latency / 100)) between. */
export function latencyScore(latencyUs: number): number {
  if (!(latencyUs > LATENCY_BASELINE_US)) return 1.0;
  if (latencyUs >= LATENCY_MAX_US) return 0.1;
  return 1.0 / (1.0 + Math.log(latencyUs / LATENCY_BASELINE_US));
}

/** Seed formula over megabits per second: 0.3 at <= 100, 1.0 at >= 10000, log growth between. */
export function bandwidthScoreMbitps(bandwidthMbitps: number): number {
  if (bandwidthMbitps >= BANDWIDTH_MAX_MBITPS) return 1.0;
  if (!(bandwidthMbitps > BANDWIDTH_BASELINE_MBITPS)) return 0.3;
  const ratio = bandwidthMbitps / BANDWIDTH_BASELINE_MBITPS;
  return 0.3 + (0.7 * Math.log(ratio)) / Math.log(BANDWIDTH_MAX_MBITPS / BANDWIDTH_BASELINE_MBITPS);
}

/** Our metrics are in megabytes per second: converted to megabits (x8) for the seed formula. */
export function bandwidthScore(bandwidthMBps: number): number {
  return bandwidthScoreMbitps(bandwidthMBps * BITS_PER_BYTE);
}

export const STATE_RELIABILITY_FACTOR: Readonly<Record<HealthState, number>> = {
  HEALTHY: 1.0,
  DEGRADED: 0.8,
  UNHEALTHY: 0.5,
  FAILED: 0.0,
  UNKNOWN: 0.6,
};

/** (1 - errorRate) * exp(-0.1 * consecutiveFailures) * state factor, never below 0. */
export function reliabilityScore(errorRate: number, consecutiveFailures: number, state: HealthState): number {
  let score = 1.0;
  if (errorRate > 0) score *= 1.0 - errorRate;
  if (consecutiveFailures > 0) score *= Math.exp(-0.1 * consecutiveFailures);
  score *= STATE_RELIABILITY_FACTOR[state] ?? 0.6;
  return Math.max(score, 0.0);
}

/** 1 - load, clamped to 0..1. */
export function loadScore(load: number): number {
  return Math.min(1, Math.max(0, 1 - load));
}

export function scoreCandidate(c: CandidateView, weights: SelectionConfig['weights']): ScoreBreakdown {
  const latency = latencyScore(c.metrics.avgLatencyUs);
  const bandwidth = bandwidthScore(c.metrics.bandwidthMBps);
  const reliability = reliabilityScore(c.metrics.errorRate, c.consecutiveFailures, c.state);
  const load = loadScore(c.metrics.load);
  const sum =
    weights.latency * latency + weights.bandwidth * bandwidth + weights.reliability * reliability + weights.load * load;
  return { latency, bandwidth, reliability, load, total: sum * c.weight };
}

/** scoreCandidate(c, weights).total without the breakdown object (same arithmetic, same result). */
export function scoreTotal(c: CandidateView, weights: SelectionConfig['weights']): number {
  const m = c.metrics;
  const sum =
    weights.latency * latencyScore(m.avgLatencyUs) +
    weights.bandwidth * bandwidthScore(m.bandwidthMBps) +
    weights.reliability * reliabilityScore(m.errorRate, c.consecutiveFailures, c.state) +
    weights.load * loadScore(m.load);
  return sum * c.weight;
}
