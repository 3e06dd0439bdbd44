/**
 * Detection benchmark (the `detect` suite), one mode per process:
 *  - fp:        the embedded default's shape (10 nodes x 2 local directories on one file system, 1 s
 *               rounds, basic + performance probes) for durationMs, quiet or with a noisy neighbour
 *               (stress-ng taking both cores, CPU and I/O). Counts state changes, fail-slow flags,
 *               active-set changes and overloaded rounds per backend-hour, and records the latency trace;
 *  - slow:      6 local backends, each on its own ext4 loop image; one of them is stalled by
 *               FIFREEZE/FITHAW pulses (bench/lib/fsfreeze-pulse.py) of increasing length. Time and rounds
 *               to the fail-slow flag per pulse setting, the slowdown factor that setting really gave
 *               (median of the slow backend's basic probes / its peers', same rounds), and the trace;
 *  - breakdown: where a basic probe's round trip goes: pool queue + wake-up (queue_us), the I/O itself,
 *               and the rest (structured clone, promise, publication).
 * Every trace is replayed through the rules of bench/lib/detect-rules.ts (side by side).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, fdatasyncSync, mkdirSync, openSync, readFileSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProbeTarget } from '../../src/backends/backend.js';
import { BackendManager } from '../../src/manager.js';
import { ProbePool } from '../../src/probes/pool.js';
import type { ProbeOptions, ProbeResult, ProbeRunner } from '../../src/probes/types.js';
import type { ProbeKind } from '../../src/types.js';
import { RULES, replay, type LatencyTrace, type TraceSample } from '../lib/detect-rules.js';
import type { BenchRow } from '../lib/results.js';
import { median } from '../lib/stats.js';
import { localClusterConfig, scratchDir, type LocalEndpointSpec } from '../lib/targets.js';
import { runWorkload, sleep, type WorkloadOutput } from '../lib/workload.js';

interface Args {
  mode: 'fp' | 'slow' | 'breakdown';
  /** fp: run length. */
  durationMs?: number;
  /** fp: run stress-ng on both cores (CPU and I/O) during the run. */
  noisy?: boolean;
  /** slow: pulse settings [freezeMs, thawMs, label]. */
  pulses?: Array<[number, number, string]>;
  /** Where traces are written (JSON). */
  traceDir: string;
  intervalMs?: number;
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PULSER = path.resolve(HERE, '../../../bench/lib/fsfreeze-pulse.py');

/** Passes probes to a ProbePool and keeps every result, bucketed into rounds by time. */
class RecordingRunner implements ProbeRunner {
  readonly pool: ProbePool;
  readonly t0 = Date.now();
  readonly rounds: TraceSample[][] = [];
  constructor(readonly intervalMs: number) {
    this.pool = new ProbePool();
  }
  get concurrency(): number { return this.pool.concurrency; }
  get queuedProbes(): number { return this.pool.queuedProbes; }
  roundNow(): number {
    return Math.floor((Date.now() - this.t0) / this.intervalMs);
  }
  async run(target: ProbeTarget, kind: ProbeKind, opts: ProbeOptions): Promise<ProbeResult> {
    const round = this.roundNow(); // the round that asked, not the one it finished in
    const r = await this.pool.run(target, kind, opts);
    while (this.rounds.length <= round) this.rounds.push([]);
    this.rounds[round]!.push({ id: r.endpointId, kind, avgUs: r.ok ? Math.round(r.avgLatencyUs) : 0, queueUs: r.queueUs });
    return r;
  }
  close(): Promise<void> {
    return this.pool.close();
  }
}

interface Counts {
  /** The first few state changes, as text, so a run that has any says what they were. */
  examples: string[];
  stateChanges: number;
  failSlowFlags: number;
  activeChanges: number;
  overloadedSeconds: number;
}

function watch(m: BackendManager): Counts {
  const c: Counts = { examples: [], stateChanges: 0, failSlowFlags: 0, activeChanges: 0, overloadedSeconds: 0 };
  const t0 = Date.now();
  let started = false;
  m.on('state-changed', (e) => {
    // A backend's first verdict (UNKNOWN -> HEALTHY at start) is not a change of its health.
    if (e.from === 'UNKNOWN') return;
    c.stateChanges++;
    if (c.examples.length < 8) c.examples.push(`${((Date.now() - t0) / 1000).toFixed(1)} s ${e.endpointId} ${e.from} -> ${e.to}: ${e.reason}`);
    if (e.reason.startsWith('fail-slow: much slower')) c.failSlowFlags++;
  });
  m.on('active-changed', () => {
    if (started) c.activeChanges++;
  });
  setTimeout(() => { started = true; }, 5000).unref();
  return c;
}

function saveTrace(dir: string, t: LatencyTrace): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${t.name}.json`);
  writeFileSync(file, JSON.stringify(t));
  return file;
}

function replayRows(trace: LatencyTrace, extra: Record<string, number> = {}): BenchRow[] {
  return RULES.map((make) => {
    const o = replay(trace, make);
    return {
      id: `detect.replay.${trace.name}.${o.rule}`, suite: 'detect', backendType: 'local', workload: `replay ${trace.name} / ${o.rule}`,
      values: { falseFlags: o.falseFlags, ...(trace.slow ? { detectRounds: o.detectRounds ?? -1 } : {}), rounds: trace.rounds.length, ...extra },
    };
  });
}

async function falsePositives(a: Args): Promise<WorkloadOutput> {
  const intervalMs = a.intervalMs ?? 1000;
  const durationMs = a.durationMs ?? 60_000;
  const scratch = scratchDir(a.noisy ? 'detect-noisy' : 'detect-quiet');
  const specs: LocalEndpointSpec[] = [];
  for (let n = 1; n <= 10; n++) {
    for (const [s, weight] of [['a', 1], ['b', 0.9]] as const) {
      const id = `local-${String(n).padStart(2, '0')}-${s}`;
      const dir = path.join(scratch.dir, id);
      mkdirSync(dir, { recursive: true });
      specs.push({ id, node: `node-${String(n).padStart(2, '0')}`, dir, weight });
    }
  }
  const runner = new RecordingRunner(intervalMs);
  let noise: ChildProcess | undefined;
  const loadStart = os.loadavg();
  let counts: Counts;
  let stats;
  try {
    const m = await BackendManager.open(localClusterConfig(specs, path.join(scratch.dir, 'meta.json'), {
      health_check_interval_ms: intervalMs,
    }), { probeRunner: runner });
    m.on('warning', () => undefined);
    counts = watch(m);
    await m.start();
    if (a.noisy) {
      noise = spawn('stress-ng', ['--cpu', '2', '--io', '1', '--hdd', '1', '--hdd-bytes', '64M', '--temp-path', scratch.dir,
        '--timeout', `${Math.ceil(durationMs / 1000) + 5}s`], { stdio: 'ignore' });
    }
    const end = Date.now() + durationMs;
    while (Date.now() < end) {
      await sleep(1000);
      if (m.getStats().selfOverloaded === 1) counts.overloadedSeconds++;
    }
    stats = m.getStats();
    counts = { ...counts, examples: [...counts.examples] }; // what happens while stopping is not the run's
    await m.stop();
  } finally {
    noise?.kill('SIGTERM');
    await runner.close().catch(() => undefined);
    scratch.cleanup();
  }
  const loadEnd = os.loadavg();
  const backendHours = (specs.length * durationMs) / 3_600_000;
  const name = a.noisy ? 'noisy' : 'quiet';
  const trace: LatencyTrace = { name: `fp-${name}`, intervalMs, endpoints: specs.map((s) => ({ id: s.id, type: 'local' })), rounds: runner.rounds };
  saveTrace(a.traceDir, trace);
  const queue = runner.rounds.flat().map((s) => s.queueUs ?? 0);
  const rows: BenchRow[] = [{
    id: `detect.fp.${name}`, suite: 'detect', backendType: 'local', workload: `false positives, ${name}${a.noisy ? ' (stress-ng --cpu 2 --io 1 --hdd 1)' : ''}`,
    values: {
      minutes: durationMs / 60_000, backends: specs.length,
      stateChanges: counts!.stateChanges, stateChangesPerBackendHour: counts!.stateChanges / backendHours,
      failSlowFlags: counts!.failSlowFlags, failSlowFlagsPerBackendHour: counts!.failSlowFlags / backendHours,
      activeSetChanges: counts!.activeChanges, overloadedSeconds: counts!.overloadedSeconds,
      suppressedResults: stats!.overloadSuppressedResults, probes: stats!.totalChecks, failedProbes: stats!.failedChecks,
      queueP50Us: median(queue), queueMaxUs: queue.length ? Math.max(...queue) : 0,
      loadAvg1mStart: loadStart[0]!, loadAvg1mEnd: loadEnd[0]!,
    },
    goal: { text: '0 state changes on healthy backends', met: counts!.stateChanges === 0 },
  }, ...replayRows(trace)];
  const notes = counts!.examples.length ? [`detect fp ${name}: first state changes: ${counts!.examples.join('; ')}`] : [];
  return { rows, notes };
}

interface LoopFs {
  id: string;
  dir: string;
  cleanup: () => void;
}

function loopFs(base: string, id: string): LoopFs {
  const img = path.join(base, `${id}.img`);
  const mnt = path.join(base, id);
  mkdirSync(mnt, { recursive: true });
  execFileSync('truncate', ['-s', '64M', img]);
  const dev = execFileSync('losetup', ['--find', '--show', img], { encoding: 'utf8' }).trim();
  try {
    execFileSync('mkfs.ext4', ['-q', dev]);
    execFileSync('mount', [dev, mnt]);
  } catch (e) {
    execFileSync('losetup', ['-d', dev]);
    throw e;
  }
  const dir = path.join(mnt, 'data');
  mkdirSync(dir, { recursive: true });
  return {
    id, dir,
    cleanup: () => {
      // A probe worker cut off at its deadline may still hold a file there for a moment: retry, then detach lazily.
      for (let i = 0; i < 50; i++) {
        try {
          execFileSync('umount', [mnt], { stdio: 'ignore' });
          break;
        } catch {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
          if (i === 49) try { execFileSync('umount', ['-l', mnt], { stdio: 'ignore' }); } catch { /* left for the operator */ }
        }
      }
      try { execFileSync('losetup', ['-d', dev], { stdio: 'ignore' }); } catch { /* autoclear already detached it */ }
    },
  };
}

async function slowdowns(a: Args): Promise<WorkloadOutput> {
  if (process.getuid?.() !== 0) return { rows: [], skipped: ['detect slow: needs root (loop devices, mount, FIFREEZE)'] };
  const intervalMs = a.intervalMs ?? 1000;
  const pulses = a.pulses ?? [[4, 4, '2x'], [10, 3, '3x'], [30, 3, '10x'], [400, 2, '100x']];
  const scratch = scratchDir('detect-slow');
  const fss: LoopFs[] = [];
  const rows: BenchRow[] = [];
  const runner = new RecordingRunner(intervalMs);
  const loadStart = os.loadavg();
  try {
    for (let i = 1; i <= 6; i++) fss.push(loopFs(scratch.dir, `loop-${i}`));
    const specs: LocalEndpointSpec[] = fss.map((f, i) => ({ id: f.id, node: `node-${i + 1}`, dir: f.dir }));
    const victim = fss[5]!;
    const m = await BackendManager.open(localClusterConfig(specs, path.join(scratch.dir, 'meta.json'), {
      health_check_interval_ms: intervalMs,
    }), { probeRunner: runner });
    m.on('warning', () => undefined);
    let flaggedAtMs = 0;
    let clearedAtMs = 0;
    let falseFlags = 0;
    let slowFlagAtMs = 0;
    let how = 0;
    let pulsing = false;
    m.on('state-changed', (e) => {
      if (e.endpointId !== victim.id) {
        if (e.reason.startsWith('fail-slow: much slower')) falseFlags++;
        return;
      }
      // Detected: the victim leaves HEALTHY, by a fail-slow flag or by probes failing (a slow device
      // misses probe deadlines too); either way it loses preference.
      if (pulsing && !flaggedAtMs && e.from === 'HEALTHY') {
        flaggedAtMs = Date.now();
        how = e.reason.startsWith('fail-slow') ? 1 : 2;
      }
      if (pulsing && !slowFlagAtMs && e.reason.startsWith('fail-slow: much slower')) slowFlagAtMs = Date.now();
      if (!pulsing && flaggedAtMs && !clearedAtMs && e.to === 'HEALTHY') clearedAtMs = Date.now();
    });
    await m.start();
    await sleep(10 * intervalMs); // windows full of healthy samples
    for (const [freezeMs, thawMs, label] of pulses) {
      flaggedAtMs = 0;
      clearedAtMs = 0;
      slowFlagAtMs = 0;
      how = 0;
      pulsing = true;
      const fromRound = runner.roundNow() + 1;
      const pulser = spawn('python3', [PULSER, path.dirname(victim.dir), String(freezeMs), String(thawMs)], { stdio: 'ignore' });
      const startMs = Date.now();
      const limitMs = 30 * intervalMs;
      while (!flaggedAtMs && Date.now() - startMs < limitMs) await sleep(100);
      // keep it slow a few more rounds, so the achieved factor has samples even when flagged fast
      await sleep(Math.max(0, 6 * intervalMs - (Date.now() - startMs)));
      const toRound = runner.roundNow();
      pulser.kill('SIGTERM');
      await new Promise((r) => pulser.once('exit', r));
      pulsing = false;
      const stopMs = Date.now();
      while (flaggedAtMs && !clearedAtMs && Date.now() - stopMs < 30 * intervalMs) await sleep(100);
      await sleep(5 * intervalMs);
      // achieved factor: the victim's basic-probe means against its peers' in the same rounds
      const slowRounds = runner.rounds.slice(fromRound, toRound + 1).flat().filter((s) => s.kind === 'basic' && s.avgUs > 0);
      const mine = slowRounds.filter((s) => s.id === victim.id).map((s) => s.avgUs);
      const peers = slowRounds.filter((s) => s.id !== victim.id).map((s) => s.avgUs);
      const factor = median(mine) / median(peers);
      const detectMs = flaggedAtMs ? flaggedAtMs - startMs : -1;
      const trace: LatencyTrace = {
        name: `slow-${label}`, intervalMs, endpoints: specs.map((s) => ({ id: s.id, type: 'local' })),
        rounds: runner.rounds.slice(Math.max(0, fromRound - 12), runner.roundNow() + 1),
        slow: { id: victim.id, fromRound: Math.min(12, fromRound), toRound: toRound - Math.max(0, fromRound - 12), label },
      };
      saveTrace(a.traceDir, trace);
      rows.push({
        id: `detect.slow.${label}`, suite: 'detect', backendType: 'local', workload: `one of 6 stalled by fsfreeze pulses ${freezeMs}/${thawMs} ms (${label} nominal)`,
        values: {
          freezeMs, thawMs, achievedFactor: factor, victimP50Us: median(mine), peersP50Us: median(peers),
          detectMs, detectRounds: flaggedAtMs ? Math.ceil(detectMs / intervalMs) : -1,
          // 1: by the fail-slow flag, 2: by failed probes (deadline or limit); the flag's own time apart
          detectedBy: how, failSlowFlagMs: slowFlagAtMs ? slowFlagAtMs - startMs : -1,
          recoverMs: clearedAtMs ? clearedAtMs - stopMs : -1, falseFlagsOnPeers: falseFlags,
          loadAvg1m: os.loadavg()[0]!,
        },
        goal: { text: '3x and above flagged within 5 rounds', met: factor < 3 || (flaggedAtMs > 0 && detectMs <= 5 * intervalMs) },
      });
      rows.push(...replayRows(trace, { achievedFactor: factor }));
    }
    await m.stop();
  } finally {
    await runner.close().catch(() => undefined);
    for (const f of fss) f.cleanup();
    try { scratch.cleanup(); } catch (e) { process.stderr.write(`scratch cleanup: ${(e as Error).message}\n`); }
  }
  return { rows, notes: [`detect slow: load average at start ${loadStart.map((x) => x.toFixed(2)).join(' ')}`] };
}

async function breakdown(a: Args): Promise<WorkloadOutput> {
  const scratch = scratchDir('detect-breakdown');
  const pool = new ProbePool({ maxThreads: 1, minThreads: 1 });
  const n = 200;
  const wall: number[] = [];
  const queue: number[] = [];
  const io: number[] = [];
  try {
    const target: ProbeTarget = { kind: 'dir', endpointId: 'b', type: 'local', dir: scratch.dir, direct: true };
    for (let i = 0; i < 20; i++) await pool.run(target, 'basic', { timeoutMs: 5000 }); // warm the worker
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const r = await pool.run(target, 'basic', { timeoutMs: 5000 });
      wall.push((performance.now() - t0) * 1000);
      queue.push(r.queueUs ?? 0);
      io.push(r.avgLatencyUs * r.ops);
      await sleep(a.intervalMs ?? 20);
    }
  } finally {
    await pool.close();
    scratch.cleanup();
  }
  const rest = wall.map((w, i) => w - queue[i]! - io[i]!);
  // The same three steps timed one by one on this thread, to say which of them the I/O time is.
  const steps = { createWriteSyncUs: [] as number[], readUs: [] as number[], unlinkUs: [] as number[] };
  const d2 = scratchDir('detect-breakdown-steps');
  try {
    const f = path.join(d2.dir, '_health_check_');
    const payload = Buffer.from('health_check_probe 0123456789abcdef\n');
    for (let i = 0; i < n; i++) {
      let t = performance.now();
      const fd = openSync(f, 'w');
      writeSync(fd, payload);
      fdatasyncSync(fd);
      closeSync(fd);
      steps.createWriteSyncUs.push((performance.now() - t) * 1000);
      t = performance.now();
      readFileSync(f);
      steps.readUs.push((performance.now() - t) * 1000);
      t = performance.now();
      unlinkSync(f);
      steps.unlinkUs.push((performance.now() - t) * 1000);
      await sleep(a.intervalMs ?? 20);
    }
  } finally {
    d2.cleanup();
  }
  return {
    rows: [{
      id: 'detect.basic-breakdown', suite: 'detect', backendType: 'local', workload: `basic probe round trip, ${n} probes, 1 worker`,
      values: {
        wallP50Us: median(wall), queueP50Us: median(queue), ioP50Us: median(io), otherP50Us: median(rest),
        createWriteSyncP50Us: median(steps.createWriteSyncUs), readP50Us: median(steps.readUs), unlinkP50Us: median(steps.unlinkUs),
      },
    }],
  };
}

runWorkload<Args>('detect', async (a) => {
  if (a.mode === 'fp') return falsePositives(a);
  if (a.mode === 'slow') return slowdowns(a);
  return breakdown(a);
});
