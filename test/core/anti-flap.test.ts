import { describe, expect, it } from 'vitest';
import {
  decayedErrorsAt, holdDownMs, initialFlap, isHeldDown, onFailed, onRecovered, recordError,
} from '../../src/health/anti-flap.js';

const CFG = { errorDecayHalfLifeMs: 1000, holdDownBaseMs: 100, holdDownMaxMs: 500, flapWindowMs: 10_000 };

describe('decaying error count', () => {
  it('halves every half-life', () => {
    let r = initialFlap();
    r = recordError(r, 0, CFG);
    r = recordError(r, 0, CFG);
    expect(decayedErrorsAt(r, 0, 1000)).toBe(2);
    expect(decayedErrorsAt(r, 1000, 1000)).toBeCloseTo(1, 12);
    expect(decayedErrorsAt(r, 3000, 1000)).toBeCloseTo(0.25, 12);
  });
  it('adds 1 to the decayed value', () => {
    let r = recordError(initialFlap(), 0, CFG);
    r = recordError(r, 1000, CFG);
    expect(r.decayedErrors).toBeCloseTo(1.5, 12);
  });
});

describe('escalating hold-down', () => {
  it('doubles from the base and is capped', () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => holdDownMs(n, CFG))).toEqual([0, 100, 200, 400, 500, 500]);
  });

  it('a first FAILED is no flap; FAILED again within the window after recovering is', () => {
    let r = onFailed(initialFlap(), 0, CFG);
    expect(r.flapCount).toBe(0);
    expect(isHeldDown(r, 0)).toBe(false);
    r = onRecovered(r, 1000);
    r = onFailed(r, 2000, CFG);
    expect(r.flapCount).toBe(1);
    expect(r.holdDownUntilMs).toBe(2100);
    expect(isHeldDown(r, 2099)).toBe(true);
    expect(isHeldDown(r, 2100)).toBe(false);
  });

  it('each further flap doubles the hold-down up to holdDownMaxMs', () => {
    let r = initialFlap();
    const holds: number[] = [];
    let t = 0;
    r = onFailed(r, t, CFG);
    for (let i = 0; i < 5; i++) {
      t += 1000;
      r = onRecovered(r, t);
      t += 10;
      r = onFailed(r, t, CFG);
      holds.push(r.holdDownUntilMs - t);
    }
    expect(holds).toEqual([100, 200, 400, 500, 500]);
    expect(r.flapCount).toBe(5);
  });

  it('a FAILED long after the last recovery resets the flap count', () => {
    let r = onFailed(initialFlap(), 0, CFG);
    r = onRecovered(r, 100);
    r = onFailed(r, 200, CFG);
    expect(r.flapCount).toBe(1);
    r = onRecovered(r, 300);
    r = onFailed(r, 300 + 10_001, CFG);
    expect(r.flapCount).toBe(0);
  });
});
