/**
 * Failover queue as tables of scripted faults (undici balanced-pool style): a fake host whose
 * rankings come from the real selection code over a snapshot, and a warm-up that fails on cue.
 */
import { describe, expect, it } from 'vitest';
import type { StorageBackend } from '../../src/backends/backend.js';
import { ErrorCode, XdbmError } from '../../src/errors.js';
import { FailoverManager, type FailoverHost } from '../../src/failover/failover-manager.js';
import { rankReplacements } from '../../src/selection/select.js';
import type { CandidateView } from '../../src/selection/types.js';
import { selCfg, snap, view } from './fixtures.js';

/** a..f: a, b, c active on n1..n3; d on n1 (fast), e on n4, f on n2. */
function pool(): CandidateView[] {
  return [
    view('a', 'n1', { metrics: { avgLatencyUs: 100 } }),
    view('b', 'n2', { metrics: { avgLatencyUs: 100 } }),
    view('c', 'n3', { metrics: { avgLatencyUs: 100 } }),
    view('d', 'n1', { metrics: { avgLatencyUs: 150 } }),
    view('e', 'n4', { metrics: { avgLatencyUs: 400 } }),
    view('f', 'n2', { metrics: { avgLatencyUs: 120 } }),
  ];
}

interface Harness {
  fm: FailoverManager;
  actives: string[];
  closed: string[];
  warmed: string[];
  warnings: string[];
  swaps: Array<[string, string | null]>;
}

function harness(opts: { down?: string[]; warmupFails?: string[]; hangs?: string[]; timeoutMs?: number } = {}): Harness {
  const views = pool().map((v) => (opts.down?.includes(v.endpointId) ? { ...v, state: 'FAILED' as const } : v));
  const h: Harness = { actives: ['a', 'b', 'c'], closed: [], warmed: [], warnings: [], swaps: [], fm: undefined as never };
  const fakeBackend = (id: string) => ({ endpointId: id, close: async () => { h.closed.push(id); } }) as unknown as StorageBackend;
  const host: FailoverHost = {
    actives: () => h.actives,
    rankReplacements: (failedId, actives) => rankReplacements(snap(views), failedId, actives, selCfg()),
    backend: (id) => (views.some((v) => v.endpointId === id) ? fakeBackend(id) : undefined),
    swap: (failedId, rep) => {
      h.swaps.push([failedId, rep]);
      const i = h.actives.indexOf(failedId);
      if (rep === null) h.actives.splice(i, 1);
      else h.actives[i] = rep;
    },
    failoverTimeoutMs: () => opts.timeoutMs ?? 1000,
    warning: (m) => h.warnings.push(m),
  };
  h.fm = new FailoverManager(host, {
    warmUp: async (b) => {
      h.warmed.push(b.endpointId);
      if (opts.hangs?.includes(b.endpointId)) await new Promise((r) => setTimeout(r, 10_000).unref()); // on purpose: a hung init
      if (opts.warmupFails?.includes(b.endpointId)) throw new XdbmError(ErrorCode.WARMUP_FAILED, `${b.endpointId} refuses writes`);
    },
  });
  return h;
}

describe('failover: scripted faults', () => {
  const table = [
    { name: 'best replacement in the freed domain', fail: 'a', down: ['a'], expectReplacement: 'd', expectActives: ['d', 'b', 'c'] },
    { name: 'next-best when the best warm-up fails', fail: 'a', down: ['a'], warmupFails: ['d'], expectReplacement: 'e', warmed: ['d', 'e'], expectActives: ['e', 'b', 'c'] },
    { name: 'never a domain the others use (f is on n2 with b)', fail: 'a', down: ['a', 'd', 'e'], expectReplacement: null, expectCode: 'XDBM_NO_REPLACEMENT', expectActives: ['b', 'c'] },
    { name: 'replacement for b comes from n2 or n4', fail: 'b', down: ['b'], expectReplacement: 'f', expectActives: ['a', 'f', 'c'] },
    { name: 'every warm-up fails: dropped, fewer actives', fail: 'c', down: ['c'], warmupFails: ['e'], expectReplacement: null, expectCode: 'XDBM_WARMUP_FAILED', expectActives: ['a', 'b'] },
  ];
  it.each(table)('$name: { fail: $fail, expectReplacement: $expectReplacement }', async (t) => {
    const h = harness({ down: t.down, warmupFails: t.warmupFails });
    const r = await h.fm.enqueue({ failedId: t.fail, reason: 'test', manual: false });
    expect(r.replacementId).toBe(t.expectReplacement);
    expect(r.ok).toBe(t.expectReplacement !== null);
    if (t.expectCode) expect(r.error?.code).toBe(t.expectCode);
    expect(h.actives).toEqual(t.expectActives);
    expect(h.closed).toEqual([t.fail]);
    if (t.warmed) expect(h.warmed).toEqual(t.warmed);
    if (!r.ok) expect(h.warnings.join('\n')).toMatch(/fewer actives/);
  });

  it('bounds a task by failoverTimeoutMs', async () => {
    const h = harness({ down: ['a'], hangs: ['d'], timeoutMs: 50 });
    const r = await h.fm.enqueue({ failedId: 'a', reason: 'test', manual: false });
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe('XDBM_FAILOVER_TIMEOUT');
    expect(h.warmed).toEqual(['d']);
    expect(h.actives).toEqual(['b', 'c']);
  });

  it('runs tasks one at a time, in order, and de-duplicates automatic ones', async () => {
    const h = harness({ down: ['a', 'b'] });
    const p1 = h.fm.enqueue({ failedId: 'a', reason: 'x', manual: false });
    const p1again = h.fm.enqueue({ failedId: 'a', reason: 'x', manual: false });
    const p2 = h.fm.enqueue({ failedId: 'b', reason: 'y', manual: false });
    expect(p1again).toBe(p1);
    expect(h.fm.queueLength).toBe(2);
    const [r1, r2] = await Promise.all([p1, p2]);
    expect(r1.replacementId).toBe('d');
    expect(r2.replacementId).toBe('f');
    expect(h.swaps).toEqual([['a', 'd'], ['b', 'f']]);
  });

  it('a manual switch uses the given replacement and keeps the set when its warm-up fails', async () => {
    const ok = harness();
    const r = await ok.fm.enqueue({ failedId: 'c', replacementId: 'e', reason: 'manual', manual: true });
    expect(r).toMatchObject({ ok: true, manual: true, replacementId: 'e' });
    expect(ok.actives).toEqual(['a', 'b', 'e']);

    const bad = harness({ warmupFails: ['e'] });
    const r2 = await bad.fm.enqueue({ failedId: 'c', replacementId: 'e', reason: 'manual', manual: true });
    expect(r2.ok).toBe(false);
    expect(bad.actives).toEqual(['a', 'b', 'c']);
    expect(bad.closed).toEqual([]);
  });

  it('drops a task whose backend is no longer active, without counting it', async () => {
    const h = harness();
    const r = await h.fm.enqueue({ failedId: 'e', reason: 'late', manual: false });
    expect(r.error?.code).toBe('XDBM_NOT_ACTIVE');
    expect(h.fm.stats.failoverCount).toBe(0);
  });

  it('counts failovers, switches, failed failovers and durations', async () => {
    const h = harness({ down: ['a', 'd', 'e'] });
    await h.fm.enqueue({ failedId: 'b', reason: 'x', manual: false }); // f replaces b
    await h.fm.enqueue({ failedId: 'a', reason: 'x', manual: false }); // nothing left
    const s = h.fm.stats.snapshot(Date.now());
    expect(s).toMatchObject({ failoverCount: 2, backendSwitches: 1, failedFailovers: 1, failoversLastHour: 2 });
    expect(s.avgFailoverTimeMs).toBeGreaterThanOrEqual(0);
    expect(s.p99FailoverTimeMs).toBeGreaterThanOrEqual(s.avgFailoverTimeMs);
    expect(h.fm.stats.snapshot(Date.now() + 3_600_001).failoversLastHour).toBe(0);
  });
});
