import { describe, expect, it } from 'vitest';
import { detectFailSlow, FailSlowTracker, type FailSlowPeer } from '../../src/health/fail-slow.js';
import type { FailSlowConfig } from '../../src/config/types.js';

const cfg: FailSlowConfig = { enabled: true, peerRatio: 3, minLatencyUs: 1000, minPeers: 2 };
const p = (endpointId: string, latencyUs: number, type = 'nvmeof', state = 'HEALTHY'): FailSlowPeer =>
  ({ endpointId, type, latencyUs, state });

const cases: { name: string; peers: FailSlowPeer[]; cfg?: Partial<FailSlowConfig>; slow: string[] }[] = [
  { name: 'all in line', peers: [p('a', 2000), p('b', 2100), p('c', 1900)], slow: [] },
  { name: 'one 10x slower than its peers', peers: [p('a', 2000), p('b', 2100), p('c', 20000)], slow: ['c'] },
  { name: 'just under the ratio', peers: [p('a', 2000), p('b', 2000), p('c', 6000)], slow: [] },
  { name: 'just over the ratio', peers: [p('a', 2000), p('b', 2000), p('c', 6001)], slow: ['c'] },
  { name: 'slow by ratio but under the absolute floor', peers: [p('a', 10), p('b', 12), p('c', 400)], slow: [] },
  { name: 'too few peers', peers: [p('a', 2000), p('c', 50000)], slow: [] },
  { name: 'peers compared only within a type',
    peers: [p('a', 2000), p('b', 2000), p('n1', 30000, 'nfs'), p('n2', 31000, 'nfs'), p('n3', 29000, 'nfs')], slow: [] },
  { name: 'slow nfs among nfs peers, nvme untouched',
    peers: [p('a', 100), p('b', 100), p('n1', 3000, 'nfs'), p('n2', 3100, 'nfs'), p('n3', 40000, 'nfs')], slow: ['n3'] },
  { name: 'failed peers are not peers',
    peers: [p('a', 2000), p('b', 2000, 'nvmeof', 'FAILED'), p('c', 20000)], slow: [] },
  { name: 'failed backends are not flagged',
    peers: [p('a', 2000), p('b', 2000), p('c', 20000, 'nvmeof', 'FAILED')], slow: [] },
  { name: 'degraded backends are peers and can be flagged',
    peers: [p('a', 2000, 'nvmeof', 'DEGRADED'), p('b', 2000), p('c', 20000, 'nvmeof', 'DEGRADED')], slow: ['c'] },
  { name: 'unprobed (0 us) backends are ignored', peers: [p('a', 2000), p('b', 0), p('c', 20000)], slow: [] },
  { name: 'two slow of five', peers: [p('a', 2000), p('b', 2000), p('c', 2000), p('d', 9000), p('e', 9500)], slow: ['d', 'e'] },
  { name: 'disabled', peers: [p('a', 2000), p('b', 2100), p('c', 20000)], cfg: { enabled: false }, slow: [] },
  { name: 'median excludes the backend itself (even count)',
    peers: [p('a', 1000), p('b', 3000), p('c', 11_000)], cfg: { peerRatio: 3.4 }, slow: ['c'] },
  // peers 1000..3000: median 2000, MAD 500, so the fence is max(2 x 2000, 2000 + 6 x 1.4826 x 500) = 6448
  { name: 'the MAD term keeps the tail of a spread-out group in line',
    peers: [p('a', 1000), p('b', 1500), p('c', 2000), p('d', 2500), p('e', 3000), p('f', 6000)], cfg: { peerRatio: 2 }, slow: [] },
  { name: 'above both the ratio and the MAD fence',
    peers: [p('a', 1000), p('b', 1500), p('c', 2000), p('d', 2500), p('e', 3000), p('f', 6500)], cfg: { peerRatio: 2 }, slow: ['f'] },
];

describe('detectFailSlow', () => {
  it.each(cases)('$name', ({ peers, cfg: over, slow }) => {
    expect([...detectFailSlow(peers, { ...cfg, ...over })].sort()).toEqual(slow);
  });
});

describe('FailSlowTracker', () => {
  it('defaults: flagged after 3 slow rounds, cleared after 3 in line', () => {
    const t = new FailSlowTracker();
    expect([t.flagAfterRounds, t.clearAfterRounds]).toEqual([3, 3]);
  });

  it('flags after N slow rounds, clears after N in-line rounds', () => {
    const t = new FailSlowTracker({ flagAfterRounds: 2, clearAfterRounds: 3 });
    const slowRound = [p('a', 2000), p('b', 2000), p('c', 20000)];
    const okRound = [p('a', 2000), p('b', 2000), p('c', 2100)];
    expect(t.update(slowRound, cfg).has('c')).toBe(false);
    expect(t.update(slowRound, cfg).has('c')).toBe(true);
    expect(t.isFailSlow('c')).toBe(true);
    expect(t.update(okRound, cfg).has('c')).toBe(true);
    expect(t.update(okRound, cfg).has('c')).toBe(true);
    // a slow round in between resets the in-line count
    expect(t.update(slowRound, cfg).has('c')).toBe(true);
    expect(t.update(okRound, cfg).has('c')).toBe(true);
    expect(t.update(okRound, cfg).has('c')).toBe(true);
    expect(t.update(okRound, cfg).has('c')).toBe(false);
    expect(t.isFailSlow('a')).toBe(false);
  });

  it('a single slow blip does not flag, and alternating rounds never flag', () => {
    const t = new FailSlowTracker({ flagAfterRounds: 2, clearAfterRounds: 2 });
    for (let i = 0; i < 6; i++) {
      const lat = i % 2 === 0 ? 20000 : 2000;
      expect(t.update([p('a', 2000), p('b', 2000), p('c', lat)], cfg).size).toBe(0);
    }
  });

  it('keeps the flag through rounds that cannot judge, and forgets removed backends', () => {
    const t = new FailSlowTracker({ flagAfterRounds: 1, clearAfterRounds: 1 });
    t.update([p('a', 2000), p('b', 2000), p('c', 20000)], cfg);
    expect(t.isFailSlow('c')).toBe(true);
    // b failed: too few peers, no verdict this round
    t.update([p('a', 2000), p('b', 2000, 'nvmeof', 'FAILED'), p('c', 2000)], cfg);
    expect(t.isFailSlow('c')).toBe(true);
    t.update([p('a', 2000), p('b', 2000)], cfg);
    expect(t.isFailSlow('c')).toBe(false);
  });
});
