/** Goal verdicts for result rows: the goal text, whether it was met and, where not, by how much. */
import type { BenchRow } from './results.js';

type Goal = NonNullable<BenchRow['goal']>;

function pct(x: number): string {
  return `${(x * 100).toFixed(0)} %`;
}

/** measured must be at most limit (latencies, ratios, memory). */
export function atMost(text: string, measured: number, limit: number, unit = ''): Goal {
  if (!Number.isFinite(measured)) return { text, met: false, by: 'not measured' };
  const met = measured <= limit;
  return met
    ? { text, met, by: `${fmt(measured)}${unit} of ${fmt(limit)}${unit}` }
    : { text, met, by: `over by ${fmt(measured - limit)}${unit} (${pct(measured / limit - 1)})` };
}

/** measured must be at least limit (throughput ratios). */
export function atLeast(text: string, measured: number, limit: number, unit = ''): Goal {
  if (!Number.isFinite(measured)) return { text, met: false, by: 'not measured' };
  const met = measured >= limit;
  return met
    ? { text, met, by: `${fmt(measured)}${unit} vs ${fmt(limit)}${unit}` }
    : { text, met, by: `short by ${fmt(limit - measured)}${unit} (${pct(1 - measured / limit)})` };
}

export function notMeasured(text: string, why: string): Goal {
  return { text, met: false, by: `not measured: ${why}` };
}

function fmt(n: number): string {
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 1) return n.toFixed(2);
  return n.toPrecision(3);
}
