/** Runs one workload in its own Node process and reads its JSON result line (see workload.ts). */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESULT_PREFIX, type WorkloadOutput } from './workload.js';

/** dist/bench/workloads, found from this compiled file (dist/bench/lib/spawn.js). */
export const WORKLOADS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'workloads');

export interface SpawnResult {
  output: WorkloadOutput;
  exitCode: number | null;
  elapsedMs: number;
  stderrTail: string;
}

export function runWorkloadProcess(name: string, args: object, opts: { timeoutMs: number; nodeArgs?: string[] }): Promise<SpawnResult> {
  const file = path.join(WORKLOADS_DIR, `${name}.js`);
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), file, JSON.stringify(args)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, XDBM_LOG_LEVEL: process.env.XDBM_LOG_LEVEL ?? 'error' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
      if (process.env.XDBM_BENCH_VERBOSE) process.stderr.write(d);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      let output: WorkloadOutput;
      if (line) {
        output = JSON.parse(line.slice(RESULT_PREFIX.length)) as WorkloadOutput;
      } else {
        const why = signal ? `killed by ${signal}${signal === 'SIGKILL' ? ` (timeout ${opts.timeoutMs} ms?)` : ''}` : `exit ${code}`;
        output = { rows: [], skipped: [`${name}: no result (${why}); stderr: ${stderr.trim().split('\n').slice(-3).join(' | ')}`] };
      }
      resolve({ output, exitCode: code, elapsedMs: performance.now() - t0, stderrTail: stderr.slice(-4000) });
    });
  });
}
