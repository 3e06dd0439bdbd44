/**
 * `node dist/bench/detect-table.js bench/results/detect/run-<time>.json [more runs]` prints the detect suite's
 * figures as the compact tables the README quotes (false positives, detection, the side-by-side
 * replay, probe fidelity). Every number comes from the run file; nothing is typed here.
 */
import { readFileSync } from 'node:fs';
import type { BenchRow, BenchRun } from './lib/results.js';

const runs = process.argv.slice(2).map((f) => JSON.parse(readFileSync(f, 'utf8')) as BenchRun);
const rows = runs.flatMap((r) => r.rows);
const by = (id: string): BenchRow | undefined => rows.find((r) => r.id === id);
const n = (v: number | undefined, digits = 0): string => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));
const out: string[] = [];

for (const run of runs) {
  out.push(`- Run ${run.startedAt}, \`${run.command}\`, load average at start ${run.loadAverageAtStart?.map((x) => x.toFixed(2)).join(' ')}, at end ${run.loadAverageAtEnd?.map((x) => x.toFixed(2)).join(' ')}.`);
}
out.push('');

out.push('| false positives (20 local backends, one file system) | minutes | state changes | per backend-hour | fail-slow flags | per backend-hour | active-set changes | overloaded s | load avg 1 min start / end |');
out.push('|---|---|---|---|---|---|---|---|---|');
for (const k of ['quiet', 'noisy']) {
  const r = by(`detect.fp.${k}`);
  if (!r) continue;
  const v = r.values;
  out.push(`| ${r.workload} | ${n(v.minutes)} | ${n(v.stateChanges)} | ${n(v.stateChangesPerBackendHour, 2)} | ${n(v.failSlowFlags)} | ${n(v.failSlowFlagsPerBackendHour, 2)} | ${n(v.activeSetChanges)} | ${n(v.overloadedSeconds)} | ${n(v.loadAvg1mStart, 2)} / ${n(v.loadAvg1mEnd, 2)} |`);
}
out.push('');

const slow = rows.filter((r) => r.id?.startsWith('detect.slow.'));
if (slow.length) {
  out.push('| slowdown (1 of 6, fsfreeze pulses) | freeze / thaw ms | achieved factor | left HEALTHY after | rounds | by | cleared after stop | false flags on peers |');
  out.push('|---|---|---|---|---|---|---|---|');
  for (const r of slow) {
    const v = r.values;
    out.push(`| ${r.id!.replace('detect.slow.', '')} nominal | ${n(v.freezeMs)} / ${n(v.thawMs)} | ${n(v.achievedFactor, 1)}x (${n(v.victimP50Us)} us vs ${n(v.peersP50Us)} us) | ${v.detectMs! < 0 ? 'not flagged' : `${(v.detectMs! / 1000).toFixed(1)} s`} | ${v.detectRounds! < 0 ? '–' : n(v.detectRounds)} | ${v.detectedBy === 1 ? 'fail-slow flag' : v.detectedBy === 2 ? 'failed probes' : '–'} | ${v.recoverMs! < 0 ? '–' : `${(v.recoverMs! / 1000).toFixed(1)} s`} | ${n(v.falseFlagsOnPeers)} |`);
  }
  out.push('');
}

const replays = rows.filter((r) => r.id?.startsWith('detect.replay.'));
const traces = [...new Set(replays.map((r) => r.id!.split('.')[2]!))];
const rules = [...new Set(replays.map((r) => r.id!.split('.')[3]!))];
if (replays.length) {
  out.push(`| replayed trace | ${rules.map((r) => `${r}: false flags / rounds to flag`).join(' | ')} |`);
  out.push(`|---|${rules.map(() => '---').join('|')}|`);
  for (const t of traces) {
    const cells = rules.map((rule) => {
      const v = by(`detect.replay.${t}.${rule}`)?.values;
      if (!v) return '–';
      const det = v.detectRounds === undefined ? '' : ` / ${v.detectRounds < 0 ? 'never' : n(v.detectRounds)}`;
      return `${n(v.falseFlags)}${det}`;
    });
    out.push(`| ${t} (${n(by(`detect.replay.${t}.${rules[0]}`)?.values.rounds)} rounds) | ${cells.join(' | ')} |`);
  }
  out.push('');
}

const perf = [...rows].reverse().find((r) => r.id === 'probe.performance'); // the latest run's
const basic = [...rows].reverse().find((r) => r.id === 'probe.basic');
const bd = by('detect.basic-breakdown');
if (perf || bd) {
  out.push('| probe fidelity (local) | xdbm | fio | ratio |');
  out.push('|---|---|---|---|');
  if (perf) out.push(`| performance probe p50, 4 KiB O_DIRECT + fdatasync | ${n(perf.values.p50LatencyUs)} us | ${n(perf.reference?.values.writePlusSyncP50LatencyUs)} us | ${n(perf.ratio?.p50, 2)}x |`);
  if (basic) out.push(`| basic probe pool round trip p50 (create + write + fdatasync, read, delete) | ${n(basic.values.p50LatencyUs)} us | ${n(basic.reference?.values.writePlusSyncP50LatencyUs)} us (write+sync) | ${n(basic.ratio?.p50, 2)}x |`);
  if (bd) {
    const v = bd.values;
    out.push(`| basic probe round trip: wall / queue + wake-up / I/O / rest | ${n(v.wallP50Us)} / ${n(v.queueP50Us)} / ${n(v.ioP50Us)} / ${n(v.otherP50Us)} us | | |`);
    out.push(`| its steps timed alone: create+write+fdatasync / read / unlink | ${n(v.createWriteSyncP50Us)} / ${n(v.readP50Us)} / ${n(v.unlinkP50Us)} us | | |`);
  }
}
process.stdout.write(`${out.join('\n')}\n`);
