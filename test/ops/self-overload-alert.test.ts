/** The daemon's built-in xdbm_self_overloaded alert fires and resolves with the monitor's overload verdict. */
import { describe, expect, it } from 'vitest';
import { SELF_OVERLOADED_ALERT, selfOverloadTransition } from '../../src/daemon/self-overload-alert.js';
import { judgeOverload, noSigns } from '../../src/health/self-overload.js';

describe('xdbm_self_overloaded', () => {
  it('fires on the change to overloaded, resolves on the change back, says nothing in between', () => {
    expect(selfOverloadTransition(false, false, 1)).toBeUndefined();
    expect(selfOverloadTransition(false, true, 2)).toMatchObject({ ruleName: SELF_OVERLOADED_ALERT, kind: 'firing', atMs: 2 });
    expect(selfOverloadTransition(true, true, 3)).toBeUndefined();
    expect(selfOverloadTransition(true, false, 4)).toMatchObject({ ruleName: SELF_OVERLOADED_ALERT, kind: 'resolved' });
  });

  it('judges each sign against its limit', () => {
    const limits = { eventLoopDelayLimitMs: 200, queueLimitUs: 1_000_000 };
    expect(judgeOverload(noSigns(), limits).overloaded).toBe(false);
    expect(judgeOverload({ ...noSigns(), eventLoopDelayP99Ms: 201 }, limits).reasons[0]).toMatch(/event-loop delay/);
    expect(judgeOverload({ ...noSigns(), queueBacklog: 3 }, limits).overloaded).toBe(true);
    expect(judgeOverload({ ...noSigns(), maxQueueUs: 1_000_001 }, limits).overloaded).toBe(true);
    expect(judgeOverload({ ...noSigns(), maxQueueUs: 999_999 }, limits).overloaded).toBe(false);
    expect(judgeOverload({ ...noSigns(), overloadedProbes: 1 }, limits).overloaded).toBe(true);
  });
});
