/**
 * Probe path of one backend: basic, performance (100 x 4 KiB durable writes) and stress (QD32 4 KiB
 * random O_DIRECT writes) probes through the Piscina ProbePool and the addon, each next to fio on the
 * same file or device region with the same block size, queue depth and O_DIRECT, in this process's run.
 * Also the raw addon call: 4 KiB O_DIRECT QD1 pwrite in a worker-free loop (per-op latency array, and
 * tinybench on the single call) against fio psync QD1 on the same file.
 */
import { randomInt } from 'node:crypto';
import { closeSync, openSync, ftruncateSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Bench } from 'tinybench';
import type { ProbeTarget } from '../../src/backends/backend.js';
import { createBackend } from '../../src/backends/index.js';
import { configFromObject } from '../../src/config/index.js';
import { SharedMetricsStore } from '../../src/metrics/shared-store.js';
import { loadNative } from '../../src/native/binding.js';
import { ProbePool } from '../../src/probes/pool.js';
import { STRESS_FILE_BYTES } from '../../src/probes/task.js';
import type { ProbeResult } from '../../src/probes/types.js';
import { fioAvailable, runFio, type FioJob } from '../lib/fio.js';
import { atMost } from '../lib/goals.js';
import type { BenchRow } from '../lib/results.js';
import { median, summarize } from '../lib/stats.js';
import { singleEndpointConfig, type BenchTarget } from '../lib/targets.js';
import { runWorkload, type WorkloadOutput } from '../lib/workload.js';

interface Args {
  target: BenchTarget;
  quick?: boolean;
}

const BLOCK = 4096;

/** Where fio and the raw loop write: a file in the probe directory, or the device's probe area. */
function refLocation(t: ProbeTarget): { filename: string; offsetBytes: number; sizeBytes: number; cleanup: () => void } {
  if (t.kind === 'device') {
    return { filename: t.devicePath, offsetBytes: t.offsetBytes, sizeBytes: t.lengthBytes, cleanup: () => undefined };
  }
  const filename = path.join(t.dir, '_bench_fio_ref');
  const fd = openSync(filename, 'w');
  ftruncateSync(fd, STRESS_FILE_BYTES);
  closeSync(fd);
  return { filename, offsetBytes: 0, sizeBytes: STRESS_FILE_BYTES, cleanup: () => rmSync(filename, { force: true }) };
}

async function runProbes(pool: ProbePool, target: ProbeTarget, kind: 'basic' | 'performance' | 'stress', n: number, stressMs: number): Promise<{ results: ProbeResult[]; wallUs: number[] }> {
  const results: ProbeResult[] = [];
  const wallUs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await pool.run(target, kind, kind === 'stress'
      ? { timeoutMs: stressMs + 10_000, queueDepth: 32, durationMs: stressMs }
      : { timeoutMs: 30_000 });
    wallUs.push((performance.now() - t0) * 1000);
    if (!r.ok) throw new Error(`${kind} probe failed: ${r.error?.code} ${r.error?.message}`);
    results.push(r);
  }
  return { results, wallUs };
}

async function main(a: Args): Promise<WorkloadOutput> {
  const quick = a.quick === true;
  const type = a.target.type;
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  const fioVersion = await fioAvailable();
  if (!fioVersion) throw new Error('fio is not installed: no reference');
  const cfg = configFromObject(singleEndpointConfig(a.target));
  const backend = await createBackend(cfg.candidateNodes[0]!.endpoints[0]!);
  await backend.init();
  const target = backend.probeTarget();
  const metrics = new SharedMetricsStore(8);
  metrics.register(target.endpointId);
  const pool = new ProbePool({ maxThreads: 1, minThreads: 1, metrics });
  const loc = refLocation(target);
  const native = loadNative();
  try {
    const fioRun = (over: Partial<FioJob>): Promise<Awaited<ReturnType<typeof runFio>>> => runFio({
      filename: loc.filename, offsetBytes: loc.offsetBytes, sizeBytes: loc.sizeBytes, rw: 'randwrite', blockBytes: BLOCK,
      ioDepth: 1, ioEngine: 'psync', runtimeSec: 1, runtimeMs: quick ? 500 : 3000, ...over,
    });
    await runProbes(pool, target, 'basic', 2, 0); // warm the worker and the addon

    // --- basic: write, read back, verify, delete of a small record
    const basic = await runProbes(pool, target, 'basic', quick ? 5 : 100, 0);
    const fioSync = await fioRun({ fdatasyncEvery: 1 });
    const fioSyncP50 = fioSync.p50LatencyUs + (fioSync.syncP50LatencyUs ?? 0);
    const basicWall = summarize(basic.wallUs);
    rows.push({
      id: 'probe.basic', suite: 'probe', backendType: type, workload: 'basic probe (write+read+verify+delete), pool round trip',
      values: { p50LatencyUs: basicWall.p50, p99LatencyUs: basicWall.p99, probesPerSec: 1e6 / basicWall.mean, runs: basic.wallUs.length },
      reference: { name: 'fio 4 KiB psync QD1 O_DIRECT fdatasync=1, write+sync p50 (the durable-write step of the probe)', values: { writePlusSyncP50LatencyUs: fioSyncP50 } },
      ratio: { p50: basicWall.p50 / fioSyncP50 },
    });

    // --- performance: 100 x 4 KiB durable writes per probe
    const perf = await runProbes(pool, target, 'performance', quick ? 2 : 20, 0);
    const perfP50 = median(perf.results.map((r) => r.p50LatencyUs));
    const perfP99 = median(perf.results.map((r) => r.p99LatencyUs));
    const perfIops = median(perf.results.map((r) => r.iops));
    const fioPerf = await fioRun({ fdatasyncEvery: 1 });
    const fioDurableP50 = fioPerf.p50LatencyUs + (fioPerf.syncP50LatencyUs ?? 0);
    rows.push({
      id: 'probe.performance', suite: 'probe', backendType: type,
      workload: `performance probe 4 KiB QD1 O_DIRECT+fdatasync (${target.kind === 'dir' ? 'in place, laid-out region' : 'probe area'}), ${perf.results.length} probes, pool`,
      values: { p50LatencyUs: perfP50, p99LatencyUs: perfP99, iops: perfIops, probeWallP50Ms: summarize(perf.wallUs).p50 / 1000 },
      reference: { name: 'fio 4 KiB randwrite psync QD1 O_DIRECT fdatasync=1, same file/region', values: { writePlusSyncP50LatencyUs: fioDurableP50, writeP50LatencyUs: fioPerf.p50LatencyUs, syncP50LatencyUs: fioPerf.syncP50LatencyUs ?? Number.NaN, iops: fioPerf.iops } },
      ratio: { p50: perfP50 / fioDurableP50, iops: perfIops / fioPerf.iops },
    });
    if (target.kind === 'dir') notes.push(`${type}: the performance probe's per-write latency is pwrite+fdatasync into a laid-out region, as fio's write+fdatasync (clat p50 + sync p50) on its preallocated file.`);

    // --- stress: QD32 4 KiB random O_DIRECT writes (io_uring in the addon)
    const stressMs = quick ? 300 : 3000;
    const stress = await runProbes(pool, target, 'stress', quick ? 1 : 3, stressMs);
    const sp50 = median(stress.results.map((r) => r.p50LatencyUs));
    const sp99 = median(stress.results.map((r) => r.p99LatencyUs));
    const siops = median(stress.results.map((r) => r.iops));
    const engine = String(stress.results[0]?.health?.stressEngine ?? '?');
    const fioStress = await fioRun({ ioEngine: 'io_uring', ioDepth: 32, runtimeMs: stressMs });
    rows.push({
      id: 'probe.stress', suite: 'probe', backendType: type, workload: `stress probe 4 KiB QD32 random writes (${engine}), ${stress.results.length} x ${stressMs} ms, pool`,
      values: { p50LatencyUs: sp50, p99LatencyUs: sp99, iops: siops, bandwidthMBps: median(stress.results.map((r) => r.bandwidthMBps)) },
      reference: { name: 'fio 4 KiB randwrite io_uring QD32 O_DIRECT, same file/region', values: { p50LatencyUs: fioStress.p50LatencyUs, p99LatencyUs: fioStress.p99LatencyUs, iops: fioStress.iops } },
      ratio: { p50: sp50 / fioStress.p50LatencyUs, iops: siops / fioStress.iops },
    });

    // --- raw addon: 4 KiB O_DIRECT QD1 pwrite, worker-free loop, alternating with fio psync QD1
    const fd = native.open(loc.filename, { direct: true, write: true });
    const buf = native.allocAligned(BLOCK, BLOCK).fill(0x5a);
    const blocks = Math.floor(loc.sizeBytes / BLOCK);
    const off = (): number => loc.offsetBytes + randomInt(blocks) * BLOCK;
    const rawP50: number[] = [];
    const rawP99: number[] = [];
    const fioP50: number[] = [];
    const fioP99: number[] = [];
    const opsPerRound = quick ? 500 : 5000;
    let tb: { p50Us: number; p99Us: number; samples: number } | undefined;
    try {
      for (let i = 0; i < 200; i++) native.pwriteSync(fd, buf, off());
      for (let round = 0; round < (quick ? 1 : 3); round++) {
        const f = await fioRun({});
        fioP50.push(f.p50LatencyUs);
        fioP99.push(f.p99LatencyUs);
        const lat = new Float64Array(opsPerRound);
        for (let i = 0; i < opsPerRound; i++) {
          const o = off();
          const t0 = process.hrtime.bigint();
          native.pwriteSync(fd, buf, o);
          lat[i] = Number(process.hrtime.bigint() - t0) / 1000;
        }
        const s = summarize(lat);
        rawP50.push(s.p50);
        rawP99.push(s.p99);
      }
      const bench = new Bench({ time: quick ? 300 : 2000, warmup: true });
      bench.add('pwriteSync 4 KiB O_DIRECT', () => { native.pwriteSync(fd, buf, off()); });
      await bench.run();
      const r = bench.tasks[0]?.result;
      if (r && 'latency' in r) tb = { p50Us: r.latency.p50 * 1000, p99Us: r.latency.p99 * 1000, samples: r.latency.samplesCount ?? 0 };
    } finally {
      native.close(fd);
    }
    const rp50 = median(rawP50);
    const fp50 = median(fioP50);
    const ratio = rp50 / fp50;
    rows.push({
      id: 'probe.raw', suite: 'probe', backendType: type, workload: `raw addon pwriteSync 4 KiB O_DIRECT QD1, worker-free loop (${rawP50.length} rounds x ${opsPerRound} ops, median of round p50s)`,
      values: { p50LatencyUs: rp50, p99LatencyUs: median(rawP99), ...(tb ? { tinybenchP50Us: tb.p50Us, tinybenchP99Us: tb.p99Us } : {}) },
      reference: { name: 'fio 4 KiB randwrite psync QD1 O_DIRECT, same file/region, alternating rounds', values: { p50LatencyUs: fp50, p99LatencyUs: median(fioP99) } },
      ratio: { p50: ratio, p99: median(rawP99) / median(fioP99) },
      goal: atMost('raw addon QD1 p50 within 1.1x of fio psync QD1 p50', ratio, 1.1, 'x'),
    });
    return { rows, notes };
  } finally {
    await pool.close();
    loc.cleanup();
    await backend.close();
  }
}

void runWorkload('probe', main);
