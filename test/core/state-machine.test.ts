import { describe, expect, it } from 'vitest';
import {
  applyDataPathError, applyFailSlow, applyProbe, applyWorkerCrash, initialHealth, type HealthRecord,
} from '../../src/health/state-machine.js';
import type { HealthState } from '../../src/types.js';

const T = { failureThreshold: 3, degradedThreshold: 2, recoveryThreshold: 5 };

/** Runs a script of probe outcomes ('+' pass, '-' fail) and returns the states after each. */
function run(script: string, from: HealthRecord = initialHealth(), heldDown = false): { states: HealthState[]; rec: HealthRecord; failedAt: number[] } {
  let rec = from;
  const states: HealthState[] = [];
  const failedAt: number[] = [];
  [...script].forEach((ch, i) => {
    const t = applyProbe(rec, { ok: ch === '+', nowMs: i, heldDown }, T);
    if (t.becameFailed) failedAt.push(i);
    rec = t.record;
    states.push(rec.state);
  });
  return { states, rec, failedAt };
}

describe('health state machine (the state transitions, with config thresholds)', () => {
  it('starts UNKNOWN; a first pass makes it HEALTHY', () => {
    expect(initialHealth().state).toBe('UNKNOWN');
    expect(run('+').states).toEqual(['HEALTHY']);
  });
  it('a first failure makes UNKNOWN UNHEALTHY (failing, below the threshold)', () => {
    expect(run('-').states).toEqual(['UNHEALTHY']);
  });
  it('HEALTHY -> DEGRADED at degradedThreshold -> FAILED at failureThreshold, fires once', () => {
    const r = run('+---' + '--');
    expect(r.states).toEqual(['HEALTHY', 'HEALTHY', 'DEGRADED', 'FAILED', 'FAILED', 'FAILED']);
    expect(r.failedAt).toEqual([3]);
    expect(r.rec.consecutiveFailures).toBe(5);
  });
  it('with degradedThreshold 1: HEALTHY -> DEGRADED -> UNHEALTHY -> FAILED', () => {
    let rec = applyProbe(initialHealth(), { ok: true, nowMs: 0 }, T).record;
    const t1 = { ...T, degradedThreshold: 1 };
    const states: string[] = [];
    for (let i = 0; i < 3; i++) {
      rec = applyProbe(rec, { ok: false, nowMs: i }, t1).record;
      states.push(rec.state);
    }
    expect(states).toEqual(['DEGRADED', 'UNHEALTHY', 'FAILED']);
  });
  it('a pass resets the failure count', () => {
    expect(run('+--+--').states).toEqual(['HEALTHY', 'HEALTHY', 'DEGRADED', 'HEALTHY', 'HEALTHY', 'DEGRADED']);
  });
  it('from FAILED: DEGRADED on the first pass, HEALTHY only after recoveryThreshold passes', () => {
    const r = run('---+++++');
    expect(r.states).toEqual(['UNHEALTHY', 'UNHEALTHY', 'FAILED', 'DEGRADED', 'DEGRADED', 'DEGRADED', 'DEGRADED', 'HEALTHY']);
  });
  it('recovery count restarts after a failure during recovery', () => {
    const r = run('---++-+++++');
    expect(r.states.slice(3)).toEqual(['DEGRADED', 'DEGRADED', 'DEGRADED', 'DEGRADED', 'DEGRADED', 'DEGRADED', 'DEGRADED', 'HEALTHY']);
  });
  it('UNHEALTHY (not failed) goes DEGRADED then HEALTHY like the seed', () => {
    expect(run('-++').states).toEqual(['UNHEALTHY', 'DEGRADED', 'HEALTHY']);
  });
  it('while held down, passing probes leave it UNHEALTHY', () => {
    const failed = run('---').rec;
    expect(run('++++++', failed, true).states).toEqual(Array(6).fill('UNHEALTHY'));
    // after the hold-down: UNHEALTHY -> DEGRADED, then HEALTHY (the recovery threshold is already met)
    const after = run('++++++', failed, true).rec;
    expect(run('++', after).states).toEqual(['DEGRADED', 'HEALTHY']);
  });
  it('a data-path error makes it FAILED at once', () => {
    const healthy = run('+').rec;
    const t = applyDataPathError(healthy, 10, T);
    expect(t.to).toBe('FAILED');
    expect(t.becameFailed).toBe(true);
    expect(t.record.consecutiveFailures).toBe(3);
  });
  it('a worker crash gives UNKNOWN without touching the counters', () => {
    const rec = run('+-').rec;
    const t = applyWorkerCrash(rec, 5);
    expect(t.to).toBe('UNKNOWN');
    expect(t.record.consecutiveFailures).toBe(1);
  });
  it('fail-slow turns HEALTHY into DEGRADED and back when cleared', () => {
    const healthy = run('+').rec;
    const slow = applyFailSlow(healthy, true);
    expect(slow.to).toBe('DEGRADED');
    expect(applyProbe(slow.record, { ok: true, nowMs: 1 }, T).to).toBe('DEGRADED');
    expect(applyFailSlow(slow.record, false).to).toBe('HEALTHY');
  });
});
