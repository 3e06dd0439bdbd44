import { describe, expect, it } from 'vitest';
import { rankReplacements, selectActive, selectReplacement } from '../../src/selection/select.js';
import { domainOf } from '../../src/selection/domain.js';
import { NOW_MS, selCfg, snap, view } from './fixtures.js';

/** Six backends over four nodes: n1 has two, n2 has two. */
function cluster() {
  return [
    view('n1-fast', 'n1', { metrics: { avgLatencyUs: 80, bandwidthMBps: 2000 } }),
    view('n1-slow', 'n1', { metrics: { avgLatencyUs: 5000, bandwidthMBps: 50 } }),
    view('n2-fast', 'n2', { metrics: { avgLatencyUs: 90, bandwidthMBps: 1500 } }),
    view('n2-mid', 'n2', { metrics: { avgLatencyUs: 300, bandwidthMBps: 500 } }),
    view('n3-mid', 'n3', { metrics: { avgLatencyUs: 400, bandwidthMBps: 400 } }),
    view('n4-slow', 'n4', { metrics: { avgLatencyUs: 3000, bandwidthMBps: 20 } }),
  ];
}

function nodesOf(ids: string[], all = cluster()): string[] {
  return ids.map((id) => all.find((c) => c.endpointId === id)!.nodeId);
}

describe('selectActive: failure domains', () => {
  it('never puts two actives in one node', () => {
    const r = selectActive(snap(cluster()), selCfg(), { target: 3 });
    expect(r.selected).toEqual(['n1-fast', 'n2-fast', 'n3-mid']);
    expect(new Set(nodesOf(r.selected)).size).toBe(3);
    expect(r.shortfall).toBe(0);
    expect(r.warnings).toEqual([]);
  });

  it('returns fewer actives with a warning when there are fewer domains than the target', () => {
    const only2 = cluster().filter((c) => c.nodeId === 'n1' || c.nodeId === 'n2');
    const r = selectActive(snap(only2), selCfg(), { target: 3 });
    expect(r.selected).toEqual(['n1-fast', 'n2-fast']);
    expect(r.shortfall).toBe(1);
    expect(r.warnings.join(' ')).toMatch(/only 2 of 3 actives.*2 failure domains/);
  });

  it('fills from a used domain only with allowSharedFailureDomain, and says so', () => {
    const only2 = cluster().filter((c) => c.nodeId === 'n1' || c.nodeId === 'n2');
    const r = selectActive(snap(only2), selCfg({ allowSharedFailureDomain: true }), { target: 3 });
    expect(r.selected).toHaveLength(3);
    expect(r.shortfall).toBe(0);
    expect(r.warnings.join(' ')).toMatch(/shares failure domain/);
  });

  it('uses a label as the domain: two nodes in one rack count as one domain', () => {
    const cs = cluster().map((c) => ({ ...c, labels: { rack: c.nodeId === 'n1' || c.nodeId === 'n2' ? 'r1' : c.nodeId === 'n3' ? 'r2' : 'r3' } }));
    const r = selectActive(snap(cs), selCfg({ failureDomain: 'rack' }), { target: 3 });
    expect(r.selected).toEqual(['n1-fast', 'n3-mid', 'n4-slow']);
    expect(new Set(r.selected.map((id) => domainOf(cs.find((c) => c.endpointId === id)!, 'rack'))).size).toBe(3);
  });

  it('a candidate without the label is its own node domain', () => {
    expect(domainOf({ nodeId: 'n9', labels: {} }, 'rack')).toBe('node:n9');
    expect(domainOf({ nodeId: 'n9', labels: { rack: 'r1' } }, 'rack')).toBe('r1');
    expect(domainOf({ nodeId: 'n9', labels: { rack: 'r1' } }, 'node')).toBe('n9');
  });
});

describe('selectActive: eligibility', () => {
  it.each([
    ['FAILED', { state: 'FAILED' as const }],
    ['UNHEALTHY', { state: 'UNHEALTHY' as const }],
    ['UNKNOWN', { state: 'UNKNOWN' as const }],
    ['held down', { holdDownUntilMs: NOW_MS + 1 }],
    ['weight 0', { weight: 0 }],
  ])('skips a %s backend', (_name, over) => {
    const cs = cluster().map((c) => (c.endpointId === 'n1-fast' ? { ...c, ...over } : c));
    const r = selectActive(snap(cs), selCfg(), { target: 3 });
    expect(r.selected).not.toContain('n1-fast');
    expect(r.selected).toContain('n1-slow'); // n1 still has a usable backend
  });

  it('takes a DEGRADED backend and one whose hold-down has ended', () => {
    const cs = cluster().map((c) => (c.endpointId === 'n1-fast' ? { ...c, state: 'DEGRADED' as const, holdDownUntilMs: NOW_MS } : c));
    expect(selectActive(snap(cs), selCfg(), { target: 3 }).selected).toContain('n1-fast');
  });
});

describe('selectActive: policies', () => {
  const cases = [
    { algorithm: 'weighted_score' as const, expect: ['n1-fast', 'n2-fast', 'n3-mid'] },
    { algorithm: 'latency_first' as const, expect: ['n1-fast', 'n2-fast', 'n3-mid'] },
    { algorithm: 'bandwidth_first' as const, expect: ['n1-fast', 'n2-fast', 'n3-mid'] },
  ];
  it.each(cases)('$algorithm picks $expect', (c) => {
    expect(selectActive(snap(cluster()), selCfg({ algorithm: c.algorithm }), { target: 3 }).selected).toEqual(c.expect);
  });

  it('latency_first prefers the lowest latency even with less bandwidth', () => {
    const cs = [
      view('a', 'n1', { metrics: { avgLatencyUs: 50, bandwidthMBps: 10 } }),
      view('b', 'n2', { metrics: { avgLatencyUs: 500, bandwidthMBps: 5000 } }),
    ];
    expect(selectActive(snap(cs), selCfg({ algorithm: 'latency_first' }), { target: 1 }).selected).toEqual(['a']);
    expect(selectActive(snap(cs), selCfg({ algorithm: 'bandwidth_first' }), { target: 1 }).selected).toEqual(['b']);
  });

  it('load_balanced prefers the least loaded', () => {
    const cs = [
      view('a', 'n1', { metrics: { load: 0.9 } }),
      view('b', 'n2', { metrics: { load: 0.1 } }),
      view('c', 'n3', { metrics: { load: 0.5 } }),
    ];
    expect(selectActive(snap(cs), selCfg({ algorithm: 'load_balanced' }), { target: 2 }).selected).toEqual(['b', 'c']);
  });

  it('weighted_score multiplies by the endpoint weight', () => {
    const cs = [view('a', 'n1', { weight: 0.2 }), view('b', 'n2', { weight: 1 })];
    expect(selectActive(snap(cs), selCfg(), { target: 1 }).selected).toEqual(['b']);
  });

  it('round_robin rotates new picks with the cursor and keeps current actives', () => {
    const cs = [view('a', 'n1'), view('b', 'n2'), view('c', 'n3'), view('d', 'n4')];
    const cfg = selCfg({ algorithm: 'round_robin' });
    const r0 = selectActive(snap(cs), cfg, { target: 2, cursor: 0 });
    expect(r0.selected).toEqual(['a', 'b']);
    const r1 = selectActive(snap(cs), cfg, { target: 2, cursor: 1 });
    expect(r1.selected).toEqual(['b', 'c']);
    // 'a' fails: 'c' stays, the free place goes to the next in rotation after the cursor
    const after = cs.map((c) => (c.endpointId === 'b' ? { ...c, state: 'FAILED' as const } : c));
    const r2 = selectActive(snap(after), cfg, { target: 2, current: ['b', 'c'], cursor: r1.nextCursor });
    expect(r2.selected[0]).toBe('c');
    expect(r2.selected).toHaveLength(2);
    expect(r2.selected).not.toContain('b');
  });
});

describe('selectActive: stability', () => {
  it('keeps a current active when a challenger is better by less than the hysteresis margin', () => {
    const cs = [view('cur', 'n1', { metrics: { avgLatencyUs: 220 } }), view('new', 'n2', { metrics: { avgLatencyUs: 200 } })];
    expect(selectActive(snap(cs), selCfg(), { target: 1 }).selected).toEqual(['new']);
    expect(selectActive(snap(cs), selCfg(), { target: 1, current: ['cur'] }).selected).toEqual(['cur']);
  });
  it('replaces a current active when a challenger is clearly better', () => {
    const cs = [view('cur', 'n1', { metrics: { avgLatencyUs: 9000 } }), view('new', 'n2', { metrics: { avgLatencyUs: 100 } })];
    expect(selectActive(snap(cs), selCfg(), { target: 1, current: ['cur'] }).selected).toEqual(['new']);
  });
  it('lists kept actives in their old order first', () => {
    const r = selectActive(snap(cluster()), selCfg(), { target: 3, current: ['n3-mid', 'n2-fast'] });
    expect(r.selected).toEqual(['n3-mid', 'n2-fast', 'n1-fast']);
  });
});

describe('selectReplacement', () => {
  it('picks the best eligible candidate in a domain the remaining actives do not use', () => {
    const s = snap(cluster());
    // actives n1-fast, n2-fast, n3-mid; n1-fast fails: n2 and n3 are taken, n1 is free again.
    // n1-slow (5000 us, 400 Mbps) scores 0.535, n4-slow (3000 us, 160 Mbps) 0.502; n2-mid is in n2.
    expect(rankReplacements(s, 'n1-fast', ['n1-fast', 'n2-fast', 'n3-mid'], selCfg())).toEqual(['n1-slow', 'n4-slow']);
    expect(selectReplacement(s, 'n1-fast', ['n1-fast', 'n2-fast', 'n3-mid'], selCfg())).toBe('n1-slow');
    // an active in n1's domain would make n4 the only choice
    expect(selectReplacement(s, 'n3-mid', ['n1-fast', 'n2-fast', 'n3-mid'], selCfg())).toBe('n4-slow');
  });
  it('returns null when every free domain has no eligible candidate', () => {
    const cs = cluster().filter((c) => c.nodeId !== 'n4').map((c) => (c.endpointId === 'n1-slow' ? { ...c, state: 'FAILED' as const } : c));
    expect(selectReplacement(snap(cs), 'n1-fast', ['n1-fast', 'n2-fast', 'n3-mid'], selCfg())).toBeNull();
  });
  it('may use a shared domain only with allowSharedFailureDomain', () => {
    const cs = cluster().filter((c) => c.nodeId !== 'n4' && c.endpointId !== 'n1-slow');
    expect(selectReplacement(snap(cs), 'n1-fast', ['n1-fast', 'n2-fast', 'n3-mid'], selCfg())).toBeNull();
    expect(selectReplacement(snap(cs), 'n1-fast', ['n1-fast', 'n2-fast', 'n3-mid'], selCfg({ allowSharedFailureDomain: true }))).toBe('n2-mid');
  });
});
