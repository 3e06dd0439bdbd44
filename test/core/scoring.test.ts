import { describe, expect, it } from 'vitest';
import {
  bandwidthScore, bandwidthScoreMbitps, latencyScore, loadScore, reliabilityScore, scoreCandidate,
} from '../../src/selection/scoring.js';
import { view } from './fixtures.js';

describe('latency score (the scoring formulas)', () => {
  it('is 1.0 at and below the 100 us baseline', () => {
    expect(latencyScore(0)).toBe(1);
    expect(latencyScore(50)).toBe(1);
    expect(latencyScore(100)).toBe(1);
  });
  it('is 1 / (1 + ln(ratio)) between 100 and 10000 us', () => {
    expect(latencyScore(101)).toBeCloseTo(1 / (1 + Math.log(1.01)), 12);
    expect(latencyScore(1000)).toBeCloseTo(1 / (1 + Math.log(10)), 12);
    expect(latencyScore(9999)).toBeCloseTo(1 / (1 + Math.log(99.99)), 12);
  });
  it('is 0.1 at and above 10000 us', () => {
    expect(latencyScore(10_000)).toBe(0.1);
    expect(latencyScore(1e9)).toBe(0.1);
  });
});

describe('bandwidth score (the scoring formulas, in Mbps; our metrics are MBps x 8)', () => {
  it('is 0.3 at and below 100 Mbps', () => {
    expect(bandwidthScoreMbitps(0)).toBe(0.3);
    expect(bandwidthScoreMbitps(100)).toBe(0.3);
  });
  it('grows as 0.3 + 0.7 ln(ratio) / ln(100) between', () => {
    expect(bandwidthScoreMbitps(1000)).toBeCloseTo(0.3 + (0.7 * Math.log(10)) / Math.log(100), 12);
    expect(bandwidthScoreMbitps(1000)).toBeCloseTo(0.65, 12);
  });
  it('is 1.0 at and above 10 Gbps', () => {
    expect(bandwidthScoreMbitps(10_000)).toBe(1);
    expect(bandwidthScoreMbitps(40_000)).toBe(1);
  });
  it('converts megabytes to megabits: 12.5 MBps = 100 Mbps, 1250 MBps = 10 Gbps, 125 MBps = 1 Gbps', () => {
    expect(bandwidthScore(12.5)).toBe(0.3);
    expect(bandwidthScore(1250)).toBe(1);
    expect(bandwidthScore(125)).toBeCloseTo(0.65, 12);
  });
});

describe('reliability score', () => {
  it('applies each state factor: HEALTHY 1, DEGRADED 0.8, UNHEALTHY 0.5, FAILED 0, UNKNOWN 0.6', () => {
    expect(reliabilityScore(0, 0, 'HEALTHY')).toBe(1);
    expect(reliabilityScore(0, 0, 'DEGRADED')).toBeCloseTo(0.8, 12);
    expect(reliabilityScore(0, 0, 'UNHEALTHY')).toBeCloseTo(0.5, 12);
    expect(reliabilityScore(0, 0, 'FAILED')).toBe(0);
    expect(reliabilityScore(0, 0, 'UNKNOWN')).toBeCloseTo(0.6, 12);
  });
  it('multiplies (1 - errorRate) and exp(-0.1 x consecutive failures)', () => {
    expect(reliabilityScore(0.25, 0, 'HEALTHY')).toBeCloseTo(0.75, 12);
    expect(reliabilityScore(0, 2, 'HEALTHY')).toBeCloseTo(Math.exp(-0.2), 12);
    expect(reliabilityScore(0.5, 1, 'DEGRADED')).toBeCloseTo(0.5 * Math.exp(-0.1) * 0.8, 12);
  });
  it('never goes below 0 even with an error rate above 1', () => {
    expect(reliabilityScore(1.5, 0, 'HEALTHY')).toBe(0);
  });
});

describe('load score and total', () => {
  it('is 1 - load clamped to 0..1', () => {
    expect(loadScore(0)).toBe(1);
    expect(loadScore(0.25)).toBe(0.75);
    expect(loadScore(2)).toBe(0);
    expect(loadScore(-1)).toBe(1);
  });
  it('total = weighted sum x endpoint weight', () => {
    const w = { latency: 0.4, bandwidth: 0.3, reliability: 0.2, load: 0.1 };
    const c = view('a', 'n1', { weight: 0.5, metrics: { avgLatencyUs: 1000, bandwidthMBps: 125, load: 0.5, errorRate: 0 } });
    const s = scoreCandidate(c, w);
    const expected = (0.4 * (1 / (1 + Math.log(10))) + 0.3 * 0.65 + 0.2 * 1 + 0.1 * 0.5) * 0.5;
    expect(s.total).toBeCloseTo(expected, 12);
    expect(s.latency).toBeCloseTo(1 / (1 + Math.log(10)), 12);
    expect(s.load).toBe(0.5);
  });
});
