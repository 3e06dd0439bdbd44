/**
 * The contract between bench/run.ts and a workload process: run.ts spawns
 * `node dist/bench/workloads/<name>.js '<json args>'`; the workload prints exactly one line starting
 * with RESULT_PREFIX followed by a JSON WorkloadOutput on stdout, then exits. Everything else it prints
 * (stderr) is kept as its log.
 */
import type { BenchRow } from './results.js';
import type { SeriesPoint } from './svg.js';

export const RESULT_PREFIX = 'XDBM_BENCH_RESULT ';

export interface TimeSeries {
  name: string;
  title: string;
  unit: string;
  points: SeriesPoint[];
  markers: { tMs: number; label: string }[];
}

export interface WorkloadOutput {
  rows: BenchRow[];
  /** What this workload could not do, and why. */
  skipped?: string[];
  notes?: string[];
  series?: TimeSeries[];
}

export function workloadArgs<A>(): A {
  return JSON.parse(process.argv[2] ?? '{}') as A;
}

/** Runs fn with the JSON args, prints the result line, exits (0 even when fn threw: the error is a result). */
export async function runWorkload<A>(name: string, fn: (args: A) => Promise<WorkloadOutput>): Promise<void> {
  let out: WorkloadOutput;
  let code = 0;
  try {
    out = await fn(workloadArgs<A>());
  } catch (e) {
    const err = e as { code?: string; message?: string; stack?: string };
    process.stderr.write(`${name} failed: ${err?.stack ?? String(e)}\n`);
    out = { rows: [], skipped: [`${name}: failed: ${err?.code ? `${err.code} ` : ''}${err?.message ?? String(e)}`] };
    code = 1;
  }
  process.stdout.write(`\n${RESULT_PREFIX}${JSON.stringify(out)}\n`);
  // Pools, timers and handles the APIs under test may leave behind must not keep the process alive.
  setTimeout(() => process.exit(code), 50).unref();
}

/** Sleep helper for workloads. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
