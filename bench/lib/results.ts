/**
 * Benchmark results: one JSON file per run (machine, versions, command, rows) under bench/results/,
 * plus a markdown table. Every figure in them is measured by the run that wrote them.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface BenchRow {
  /** Stable key for charts and comparisons across runs, e.g. 'probe.raw'. */
  id?: string;
  /** Suite, e.g. 'probe', 'append', 'failover', 'scale'. */
  suite: string;
  backendType: string;
  workload: string;
  /** Measured values with units in their names (p50LatencyUs, iops, ...). */
  values: Record<string, number>;
  /** Reference measured in the same run (fio, raw addon call) and the ratio to it. */
  reference?: { name: string; values: Record<string, number> };
  ratio?: Record<string, number>;
  goal?: { text: string; met: boolean; by?: string };
}

export interface BenchRun {
  startedAt: string;
  command: string;
  machine: { cpus: number; cpuModel: string; memGiB: number; kernel: string; node: string; fio?: string | null };
  rows: BenchRow[];
  /** os.loadavg() when the run started: the machine is shared, so noise is visible. */
  loadAverageAtStart?: number[];
  loadAverageAtEnd?: number[];
  durationSec?: number;
  /** What was not run (a backend type unreachable, a workload that failed) and why. */
  skipped?: string[];
  notes?: string[];
  /** SVG files written next to the results. */
  charts?: string[];
  /** Per workload process: name, exit code, seconds. */
  processes?: Array<{ workload: string; type: string; exitCode: number | null; seconds: number }>;
}

export function machineInfo(fioVersion?: string | null): BenchRun['machine'] {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    fio: fioVersion,
  };
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 1) return n.toFixed(2);
  return n.toPrecision(3);
}

export function toMarkdown(run: BenchRun): string {
  const lines = [
    `# Benchmark run ${run.startedAt}`,
    '',
    `Command: \`${run.command}\``,
    '',
    `Machine: ${run.machine.cpus} x ${run.machine.cpuModel}, ${run.machine.memGiB} GiB, Linux ${run.machine.kernel}, Node ${run.machine.node}${run.machine.fio ? `, ${run.machine.fio}` : ''}`,
    ...(run.loadAverageAtStart ? [`Load average at start: ${run.loadAverageAtStart.map((x) => x.toFixed(2)).join(' ')}${run.loadAverageAtEnd ? `; at end: ${run.loadAverageAtEnd.map((x) => x.toFixed(2)).join(' ')}` : ''}${run.durationSec !== undefined ? `; run took ${run.durationSec.toFixed(0)} s` : ''}`, ''] : []),
    '| suite | type | workload | measured | reference | ratio | goal |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of run.rows) {
    const measured = Object.entries(r.values).map(([k, v]) => `${k} ${fmt(v)}`).join(', ');
    const ref = r.reference ? `${r.reference.name}: ${Object.entries(r.reference.values).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}` : '';
    const ratio = r.ratio ? Object.entries(r.ratio).map(([k, v]) => `${k} ${v.toFixed(2)}x`).join(', ') : '';
    const goal = r.goal ? `${r.goal.met ? 'met' : 'NOT met'}: ${r.goal.text}${r.goal.by ? ` (${r.goal.by})` : ''}` : 'no goal set (reference figures only)';
    lines.push(`| ${r.suite} | ${r.backendType} | ${r.workload} | ${measured} | ${ref} | ${ratio} | ${goal} |`);
  }
  const goals = run.rows.filter((r) => r.goal);
  if (goals.length) {
    lines.push('', `Goals: ${goals.filter((r) => r.goal!.met).length} of ${goals.length} met.`);
  }
  if (run.skipped?.length) lines.push('', '## Skipped', '', ...run.skipped.map((s) => `- ${s}`));
  if (run.notes?.length) lines.push('', '## Notes', '', ...run.notes.map((s) => `- ${s}`));
  if (run.charts?.length) lines.push('', '## Charts', '', ...run.charts.map((c) => `- [${c}](${c})`));
  return lines.join('\n') + '\n';
}

export async function writeRun(run: BenchRun, dir: string): Promise<{ jsonPath: string; mdPath: string }> {
  await mkdir(dir, { recursive: true });
  const stamp = run.startedAt.replace(/[:.]/g, '-');
  const jsonPath = path.join(dir, `run-${stamp}.json`);
  const mdPath = path.join(dir, `run-${stamp}.md`);
  await writeFile(jsonPath, JSON.stringify(run, null, 2) + '\n');
  await writeFile(mdPath, toMarkdown(run));
  await writeFile(path.join(dir, 'latest.md'), toMarkdown(run));
  return { jsonPath, mdPath };
}
