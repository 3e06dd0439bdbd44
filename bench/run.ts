/**
 * `npm run bench -- [--type local|block|nfs|nvmeof] [--suite probe|append|failover|scale|memory|detect] [--quick]
 *                   [--duration-min N] [--detect-min N] [--failovers N] [--target CONN] [--mount-point DIR] [--out DIR]`
 *
 * Backends x workloads: every workload runs in its own Node process (dist/bench/workloads/<w>.js, JSON
 * args, one JSON result line back); the rows are gathered into one BenchRun, written by writeRun to
 * bench/results/ (JSON per run, markdown, latest.md) with SVG charts. Nothing here is a typed figure:
 * every value comes from a workload process of this run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { findPackageRoot } from '../src/native/binding.js';
import { BACKEND_TYPES, type BackendType } from '../src/types.js';
import { fioAvailable } from './lib/fio.js';
import { machineInfo, writeRun, type BenchRow, type BenchRun } from './lib/results.js';
import { runWorkloadProcess } from './lib/spawn.js';
import { barChart, timeSeriesChart } from './lib/svg.js';
import { makeLoopDevice, scratchDir, type BenchTarget } from './lib/targets.js';
import type { TimeSeries } from './lib/workload.js';

const SUITES = ['probe', 'append', 'failover', 'scale', 'memory', 'detect'] as const;
type Suite = (typeof SUITES)[number];

const USAGE = `usage: npm run bench -- [--type local|block|nfs|nvmeof]... [--suite ${SUITES.join('|')}]... [--quick]
       [--duration-min N] [--detect-min N] [--failovers N] [--target CONN] [--mount-point DIR] [--out DIR]
  --type         backend types to benchmark (default: every type it can reach: local always; block as
                 root with losetup; nfs / nvmeof with --target or XDBM_BENCH_NFS / XDBM_BENCH_NVMEOF)
  --suite        suites to run (default: all); append, failover, scale and memory run on local backends
  --quick        short smoke run (tiny durations; figures are not meaningful)
  --duration-min minutes of the memory-flatness run (default 3, quick 0.1)
  --detect-min   minutes of each false-positive run of the detect suite, quiet and noisy (default 30, quick 0.5)
  --failovers    failovers in the failover suite (default 30, quick 4)
  --target       connection string of an nfs:// or nvme:// backend (testbed guest), e.g.
                 nfs://10.0.2.2:/export/xdbm (with --mount-point) or nvme://10.0.2.2:4420/nqn.x/1
  --mount-point  where the NFS export of --target is mounted (default: XDBM_BENCH_NFS_MOUNT)
  --out          results directory (default: bench/results of the package)`;

interface Plan {
  suite: Suite;
  type: string;
  workload: string;
  args: object;
  timeoutMs: number;
  nodeArgs?: string[];
}

function listOpt(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);
}

function parse(): {
  types: BackendType[]; explicitTypes: boolean; suites: Suite[]; quick: boolean; durationMin: number; detectMin: number; failovers: number;
  target?: string; mountPoint?: string; out: string;
} {
  const { values } = parseArgs({
    options: {
      type: { type: 'string', multiple: true },
      suite: { type: 'string', multiple: true },
      quick: { type: 'boolean', default: false },
      'duration-min': { type: 'string' },
      'detect-min': { type: 'string' },
      failovers: { type: 'string' },
      target: { type: 'string' },
      'mount-point': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const types = listOpt(values.type);
  for (const t of types) if (!BACKEND_TYPES.includes(t as BackendType)) throw new Error(`unknown --type ${t}\n${USAGE}`);
  const suites = listOpt(values.suite);
  for (const s of suites) if (!SUITES.includes(s as Suite)) throw new Error(`unknown --suite ${s}\n${USAGE}`);
  const quick = values.quick === true;
  const root = findPackageRoot() ?? process.cwd();
  return {
    types: (types.length ? types : [...BACKEND_TYPES]) as BackendType[],
    explicitTypes: types.length > 0,
    suites: (suites.length ? suites : [...SUITES]) as Suite[],
    quick,
    durationMin: values['duration-min'] !== undefined ? Number(values['duration-min']) : quick ? 0.1 : 3,
    detectMin: values['detect-min'] !== undefined ? Number(values['detect-min']) : quick ? 0.5 : 30,
    failovers: values.failovers !== undefined ? Number(values.failovers) : quick ? 4 : 30,
    target: values.target,
    mountPoint: values['mount-point'],
    out: path.resolve(values.out ?? path.join(root, 'bench', 'results')),
  };
}

function commandExists(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** NFS mounted at mountPoint? (from /proc/mounts) */
function mountedNfs(mountPoint: string): boolean {
  try {
    return readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => {
      const f = l.split(' ');
      return f[1] === path.resolve(mountPoint) && (f[2] ?? '').startsWith('nfs');
    });
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const o = parse();
  const startedAt = new Date().toISOString();
  const loadAverageAtStart = os.loadavg();
  const t0 = performance.now();
  const fioVersion = await fioAvailable();
  const skipped: string[] = [];
  const notes: string[] = [];
  const cleanups: Array<() => void> = [];
  const targets: BenchTarget[] = [];
  if (!fioVersion) skipped.push('fio not found on PATH: probe and append rows have no reference (apt-get install -y fio)');

  // --- which backend types can be reached
  for (const type of o.types) {
    if (type === 'local') {
      const scratch = scratchDir('probe-local');
      cleanups.push(scratch.cleanup);
      targets.push({ type, connectionString: `file://${scratch.dir}`, where: scratch.dir });
    } else if (type === 'block') {
      if (!o.suites.includes('probe')) continue; // only the probe suite runs per device type
      if (process.getuid?.() !== 0) { skipped.push('block: not root, cannot set up a loop device'); continue; }
      try {
        const loop = makeLoopDevice(256 * 1024 * 1024);
        cleanups.push(loop.remove);
        targets.push({ type, connectionString: `block://${loop.device}`, where: `${loop.device} (loop, direct-io, sparse 256 MiB file ${loop.file})` });
      } catch (e) {
        skipped.push(`block: losetup failed (${(e as Error).message.split('\n')[0]})`);
      }
    } else if (type === 'nfs') {
      const conn = (o.target?.startsWith('nfs://') ? o.target : undefined) ?? process.env.XDBM_BENCH_NFS;
      const mp = o.mountPoint ?? process.env.XDBM_BENCH_NFS_MOUNT;
      if (!conn) { skipped.push('nfs: no nfs:// --target and no XDBM_BENCH_NFS: NFS runs inside the testbed guest (test/testbed/), not on this host'); continue; }
      if (!mp || !mountedNfs(mp)) { skipped.push(`nfs: ${conn} is not mounted${mp ? ` at ${mp}` : ' (give --mount-point or XDBM_BENCH_NFS_MOUNT)'}`); continue; }
      targets.push({ type, connectionString: conn, mountPoint: mp, where: `${conn} at ${mp}` });
    } else if (type === 'nvmeof') {
      const conn = (o.target?.startsWith('nvme://') ? o.target : undefined) ?? process.env.XDBM_BENCH_NVMEOF;
      if (!conn) { skipped.push('nvmeof: no nvme:// --target and no XDBM_BENCH_NVMEOF: NVMe/TCP runs inside the testbed guest (this kernel has no nvme-tcp)'); continue; }
      targets.push({ type, connectionString: conn, where: conn });
    }
  }

  // --- the plan: backends x workloads, each a process
  const q = o.quick;
  const plan: Plan[] = [];
  const hasLocal = targets.some((t) => t.type === 'local');
  for (const s of o.suites) {
    if (s === 'probe') {
      for (const t of targets) {
        plan.push({ suite: s, type: t.type, workload: 'probe', args: { target: t, quick: q }, timeoutMs: q ? 120_000 : 300_000 });
      }
      continue;
    }
    if (!hasLocal) {
      skipped.push(`${s}: runs on local backends only, and local is not among --type ${o.types.join(',')}`);
      continue;
    }
    if (s === 'append') {
      for (const payloadBytes of [4096, 65536]) {
        for (const writers of [1, 8, 32]) {
          plan.push({ suite: s, type: 'local', workload: 'append', args: { payloadBytes, writers, durationMs: q ? 500 : 5000 }, timeoutMs: 120_000 });
        }
      }
    } else if (s === 'failover') {
      plan.push({
        suite: s, type: 'local', workload: 'failover',
        args: { failovers: o.failovers, writers: 4, payloadBytes: 4096, steadyMs: q ? 500 : 3000, hung: q ? 1 : 5, hungDeadlineMs: 250 },
        timeoutMs: 600_000,
      });
    } else if (s === 'scale') {
      plan.push({ suite: s, type: 'synthetic', workload: 'scale-select', args: { sizes: [10, 100, 1000, 10_000], timeMs: q ? 100 : 1000 }, timeoutMs: 300_000 });
      plan.push({
        suite: s, type: 'local', workload: 'scale-probe', nodeArgs: ['--expose-gc'],
        args: { candidates: q ? 100 : 1000, probeMs: q ? 2000 : 20_000, intervalMs: 1000 }, timeoutMs: 300_000,
      });
      plan.push({ suite: s, type: 'local', workload: 'daemon-rss', args: { candidates: q ? 100 : 1000, runMs: q ? 3000 : 20_000, intervalMs: 1000 }, timeoutMs: 300_000 });
    } else if (s === 'detect') {
      const traceDir = path.join(o.out, 'detect-traces');
      const fpMs = Math.max(0.25, o.detectMin) * 60_000;
      plan.push({ suite: s, type: 'local', workload: 'detect', args: { mode: 'breakdown', traceDir }, timeoutMs: 120_000 });
      plan.push({ suite: s, type: 'local', workload: 'detect', args: { mode: 'fp', durationMs: fpMs, traceDir }, timeoutMs: fpMs + 120_000 });
      plan.push({ suite: s, type: 'local', workload: 'detect', args: { mode: 'fp', durationMs: fpMs, noisy: true, traceDir }, timeoutMs: fpMs + 120_000 });
      plan.push({ suite: s, type: 'local', workload: 'detect', args: { mode: 'slow', traceDir }, timeoutMs: 600_000 });
      // probe fidelity: the probe suite's rows for local (the performance probe's p50 next to fio's)
      if (!o.suites.includes('probe')) {
        const t = targets.find((x) => x.type === 'local');
        if (t) plan.push({ suite: s, type: 'local', workload: 'probe', args: { target: t, quick: q }, timeoutMs: q ? 120_000 : 300_000 });
      }
      if (o.detectMin < 30) notes.push(`detect: false-positive runs of ${o.detectMin} min each (the issue asks for 30; \`--detect-min 30\`).`);
      if (!commandExists('stress-ng')) skipped.push('detect: stress-ng not found (apt-get install -y stress-ng): the noisy run has no neighbour');
    } else if (s === 'memory') {
      const durationMs = Math.max(0.05, o.durationMin) * 60_000;
      plan.push({
        suite: s, type: 'local', workload: 'memory', nodeArgs: ['--expose-gc'],
        args: { durationMs, sampleMs: Math.max(250, Math.min(5000, durationMs / 60)), writers: 2, candidates: 6, appendsPerSec: 500 },
        timeoutMs: durationMs + 300_000,
      });
      if (o.durationMin < 10) notes.push(`memory: a CI-sized flatness run of ${o.durationMin} min (the full check is \`npm run bench -- --suite memory --duration-min 10\`).`);
    }
  }
  for (const t of o.types) {
    if (t !== 'local' && targets.some((x) => x.type === t) && o.suites.some((s) => s !== 'probe')) {
      notes.push(`${t}: only the probe suite runs per backend type; append, failover, scale and memory run on local directories.`);
    }
  }

  // --- run
  const rows: BenchRow[] = [];
  const series: TimeSeries[] = [];
  const processes: NonNullable<BenchRun['processes']> = [];
  try {
    for (const p of plan) {
      process.stderr.write(`[bench] ${p.suite}/${p.workload} ${p.type} ${JSON.stringify(p.args)} ... `);
      const r = await runWorkloadProcess(p.workload, p.args, { timeoutMs: p.timeoutMs, nodeArgs: p.nodeArgs });
      process.stderr.write(`${(r.elapsedMs / 1000).toFixed(1)} s, ${r.output.rows.length} rows${r.exitCode ? `, exit ${r.exitCode}` : ''}\n`);
      processes.push({ workload: p.workload, type: p.type, exitCode: r.exitCode, seconds: r.elapsedMs / 1000 });
      rows.push(...r.output.rows);
      skipped.push(...(r.output.skipped ?? []).map((s) => `${p.type} ${s}`));
      for (const n of r.output.notes ?? []) if (!notes.includes(n)) notes.push(n);
      series.push(...(r.output.series ?? []));
    }
  } finally {
    for (const c of cleanups) c();
  }

  // --- charts and results
  const charts: string[] = [];
  const writeChart = (name: string, svg: string): void => {
    writeFileSync(path.join(o.out, name), svg);
    charts.push(name);
  };
  const run: BenchRun = {
    startedAt,
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine: machineInfo(fioVersion),
    rows,
    loadAverageAtStart,
    loadAverageAtEnd: os.loadavg(),
    durationSec: (performance.now() - t0) / 1000,
    skipped,
    notes,
    charts,
    processes,
  };
  mkdirSync(o.out, { recursive: true });
  const probeRows = rows.filter((r) => r.suite === 'probe' && r.id);
  if (probeRows.length) {
    const types = [...new Set(probeRows.map((r) => r.backendType))];
    const kinds: Array<[string, string]> = [['probe.basic', 'basic'], ['probe.performance', 'performance 4K'], ['probe.stress', 'stress QD32'], ['probe.raw', 'raw addon QD1']];
    const series2 = types.flatMap((t) => [`${t} xdbm`, `${t} fio`]);
    writeChart('probe-latency-by-type.svg', barChart('Probe p50 latency by backend type (xdbm vs fio, same file/device)', 'p50 latency (us)', series2,
      kinds.map(([id, label]) => ({
        label,
        values: types.flatMap((t) => {
          const r = probeRows.find((x) => x.id === id && x.backendType === t);
          const ref = r?.reference?.values;
          return [r?.values.p50LatencyUs ?? Number.NaN, ref?.p50LatencyUs ?? ref?.writePlusSyncP50LatencyUs ?? Number.NaN];
        }),
      }))));
  }
  const appendRows = rows.filter((r) => r.suite === 'append' && r.id);
  if (appendRows.length) {
    writeChart('append-throughput.svg', barChart('Append throughput vs fio (3 local dirs, ack 2 of 3)', 'entries / s', ['xdbm log', 'fio 2nd fastest job'],
      appendRows.map((r) => ({ label: r.id!.replace('append.', ''), values: [r.values.appendsPerSec ?? Number.NaN, r.reference?.values.writesPerSec ?? Number.NaN] }))));
  }
  for (const s of series) {
    if (s.points.length) writeChart(`${s.name}.svg`, timeSeriesChart(s.title, s.unit, s.points, s.markers));
  }
  const { jsonPath } = await writeRun(run, o.out);
  const md = readFileSync(path.join(o.out, 'latest.md'), 'utf8');
  process.stdout.write(md);
  process.stderr.write(`[bench] results: ${jsonPath} and ${path.join(o.out, 'latest.md')}\n`);
  if (!existsSync(o.out)) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error((e as Error)?.message ?? e);
  process.exitCode = 2;
});

// Never leave a loop device behind on Ctrl-C: losetup -d of devices this process made.
process.on('SIGINT', () => {
  try {
    const list = execFileSync('losetup', ['-j', path.join(os.tmpdir(), `xdbm-bench-block-${process.pid}.img`)], { encoding: 'utf8' });
    for (const line of list.split('\n')) {
      const dev = line.split(':')[0];
      if (dev) execFileSync('losetup', ['-d', dev]);
    }
  } catch { /* none */ }
  process.exit(130);
});
