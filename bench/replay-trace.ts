/**
 * `node dist/bench/replay-trace.js TRACE.json...` replays recorded latency traces (written by the
 * detect suite into detect-traces/) through the rules of bench/lib/detect-rules.ts and prints one
 * markdown row per trace: false flags (and rounds to flag a slowed backend) per rule.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { RULES, replay, type LatencyTrace } from './lib/detect-rules.js';

const files = process.argv.slice(2);
const names = RULES.map((make) => replay({ name: '', intervalMs: 1, endpoints: [], rounds: [] }, make).rule);
process.stdout.write(`| trace | rounds | ${names.map((n) => `${n}: false flags / rounds to flag`).join(' | ')} |\n|---|---|${names.map(() => '---').join('|')}|\n`);
for (const f of files) {
  const t = JSON.parse(readFileSync(f, 'utf8')) as LatencyTrace;
  const cells = RULES.map((make) => {
    const o = replay(t, make);
    return `${o.falseFlags}${t.slow ? ` / ${o.detectRounds ?? 'never'}` : ''}`;
  });
  process.stdout.write(`| ${path.basename(f)} | ${t.rounds.length} | ${cells.join(' | ')} |\n`);
}
