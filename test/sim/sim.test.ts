/**
 * The deterministic simulator (test/sim) in `npm test`: a fixed range of seeds against the real log,
 * exact replay, and proof that the checker can fail (deliberately broken members are caught).
 * The long run is `npm run sim -- --seeds 2000` (CI).
 */
import { describe, expect, it } from 'vitest';
import { runSeed, type SeedResult } from './scenario.js';

function describeFailures(rs: SeedResult[]): string {
  return rs.filter((r) => r.violations.length > 0).slice(0, 10)
    .map((r) => `seed ${r.seed} [${r.tags.join(', ')}]: ${r.violations.slice(0, 2).map((v) => `invariant ${v.inv}: ${v.msg}`).join(' | ')}`)
    .join('\n');
}

async function runRange(from: number, n: number, opts: Parameters<typeof runSeed>[1] = {}): Promise<SeedResult[]> {
  const out: SeedResult[] = [];
  for (let s = from; s < from + n; s++) out.push(await runSeed(s, { writeHistory: false, ...opts }));
  return out;
}

describe('deterministic simulator', () => {
  const seeds = Number(process.env.XDBM_SIM_SEEDS ?? 200);
  it(`seeds 0-${seeds - 1}: no invariant of issue 11 is violated`, async () => {
    const rs = await runRange(0, seeds);
    const bad = rs.filter((r) => r.violations.length > 0);
    expect(rs.reduce((n, r) => n + r.stats.checked, 0)).toBeGreaterThan(seeds * 50);
    expect(bad.map((r) => r.seed), describeFailures(rs)).toEqual([]);
  }, 300_000);

  it('replays a seed exactly', async () => {
    for (const seed of [3, 38]) {
      const a = await runSeed(seed, { writeHistory: false });
      const b = await runSeed(seed, { writeHistory: false });
      expect(b.stats).toEqual(a.stats);
      expect(b.trace).toEqual(a.trace);
      expect(b.violations).toEqual(a.violations);
    }
  }, 60_000);

  it('catches a member whose fence() does nothing (invariants 1-4) within 20 seeds', async () => {
    const rs = await runRange(0, 20, { bugs: { noFence: true }, lateCas: false });
    const invs = new Set(rs.flatMap((r) => r.violations.map((v) => v.inv)));
    expect(rs.some((r) => r.violations.length > 0)).toBe(true);
    expect([...invs].some((i) => ['1', '2', '3', '4'].includes(i))).toBe(true);
  }, 120_000);

  it('catches a member whose open() shows a missing member as empty (invariant 5) within 20 seeds', async () => {
    const rs = await runRange(0, 20, { bugs: { missingAsEmpty: true }, lateCas: false });
    expect(rs.some((r) => r.violations.some((v) => v.inv === '5'))).toBe(true);
  }, 120_000);
});
