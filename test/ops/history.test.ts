/** OpsHistory keeps failovers and active-set changes apart from per-backend state changes. */
import { describe, expect, it } from 'vitest';
import { OpsHistory } from '../../src/daemon/history.js';
import type { FailoverRecord } from '../../src/manager-api.js';

const failover = { failedId: 'a', replacementId: 'b', reason: 'auto: probe failed', manual: false, ok: true, startedAtMs: 1000, durationMs: 5 } as unknown as FailoverRecord;

describe('OpsHistory', () => {
  it('a burst of state changes never pushes a failover or an active-set change out of the timeline', () => {
    const h = new OpsHistory({ timelineEvents: 10, stateChangeEvents: 10 });
    h.failover(failover);
    h.activeChanged({ previous: ['a', 'c'], current: ['b', 'c'], reason: 'failover' }, 1006);
    for (let i = 0; i < 500; i++) h.stateChanged({ endpointId: `x${i % 20}`, from: 'HEALTHY', to: 'DEGRADED', reason: 'noise' }, 2000 + i);
    expect(h.events().map((e) => e.kind)).toEqual(['failover', 'active-changed']);
    expect(h.stateChanges()).toHaveLength(10);
    const kinds = h.timeline().map((e) => e.kind);
    expect(kinds.slice(0, 2)).toEqual(['failover', 'active-changed']);
    expect(kinds).toHaveLength(12);
    expect(h.recentFailovers()).toHaveLength(1);
  });

  it('merges both rings in time order', () => {
    const h = new OpsHistory();
    h.stateChanged({ endpointId: 'a', from: 'HEALTHY', to: 'FAILED', reason: 'probe' }, 900);
    h.failover(failover);
    h.stateChanged({ endpointId: 'a', from: 'FAILED', to: 'DEGRADED', reason: 'probe' }, 1100);
    expect(h.timeline().map((e) => e.atMs)).toEqual([900, 1005, 1100]);
  });
});
