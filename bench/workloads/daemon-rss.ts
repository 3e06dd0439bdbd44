/**
 * Resident memory of the real daemon (`xdbm daemon`, dist/src/cli/main.js) with `candidates` local
 * candidates, sampled from /proc/<pid>/status while it probes them for `runMs`.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { atMost } from '../lib/goals.js';
import { localClusterConfig, scratchDir, type LocalEndpointSpec } from '../lib/targets.js';
import { runWorkload, sleep, type WorkloadOutput } from '../lib/workload.js';

interface Args {
  candidates: number;
  runMs: number;
  intervalMs: number;
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : Number.NaN;
}

async function main(a: Args): Promise<WorkloadOutput> {
  const s = scratchDir('daemon');
  const specs: LocalEndpointSpec[] = [];
  for (let i = 0; i < a.candidates; i++) {
    const dir = path.join(s.dir, `d${i}`);
    mkdirSync(dir);
    specs.push({ id: `local-${i}`, node: `node-${i}`, dir });
  }
  const cfg = { dynamic_backend_manager: localClusterConfig(specs, path.join(s.dir, 'meta.json'), {
    health_check_interval_ms: a.intervalMs,
    monitoring: { health_check_types: ['basic'] },
  }) };
  const cfgFile = path.join(s.dir, 'bench.yaml');
  writeFileSync(cfgFile, JSON.stringify(cfg, null, 1)); // JSON is YAML
  const main = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
  const child = spawn(process.execPath, [main, 'daemon', '--config', cfgFile, '--socket', path.join(s.dir, 'd.sock'), '--no-http', '--no-watch'], {
    stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, XDBM_LOG_LEVEL: 'error' },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-4000); });
  let exited = false;
  child.on('exit', () => { exited = true; });
  const samples: number[] = [];
  try {
    const t0 = performance.now();
    while (performance.now() - t0 < a.runMs && !exited) {
      await sleep(250);
      try { samples.push(rssKiB(child.pid!)); } catch { break; }
    }
    if (exited || samples.length === 0) throw new Error(`daemon exited early: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    const maxMiB = Math.max(...samples) / 1024;
    const lastMiB = samples.at(-1)! / 1024;
    return {
      rows: [{
        suite: 'scale', backendType: 'local', workload: `xdbm daemon with ${a.candidates} local candidates, probing every ${a.intervalMs} ms for ${(a.runMs / 1000).toFixed(0)} s (VmRSS)`,
        values: { maxRssMiB: maxMiB, lastRssMiB: lastMiB, samples: samples.length },
        ...(a.candidates >= 1000
          ? { goal: atMost('daemon with 1,000 candidates under 150 MiB RSS (max sample)', maxMiB, 150, ' MiB') }
          : {}),
      }],
    };
  } finally {
    if (!exited) {
      child.kill('SIGTERM');
      const t = Date.now();
      while (!exited && Date.now() - t < 5000) await sleep(50);
      if (!exited) child.kill('SIGKILL');
    }
    s.cleanup();
  }
}

void runWorkload('daemon-rss', main);
