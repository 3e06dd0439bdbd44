/**
 * Memory flatness: a manager over local backends probed every second (basic and performance probes
 * through the pool) while writers append to the replicated log (prefix truncated every few seconds so
 * the disk use stays bounded; the writers pause around each truncation), for `durationMs`. RSS and heap (after GC) are sampled; the slope of each
 * after the warm-up (first 20 %) says whether memory grows. Run with --expose-gc.
 */
import path from 'node:path';
import type { ManagedLog } from '../../src/wal/log.js';
import { atMost } from '../lib/goals.js';
import { startLocalCluster } from '../lib/cluster.js';
import { slope, summarize } from '../lib/stats.js';
import { runWorkload, sleep, type WorkloadOutput } from '../lib/workload.js';

interface Args {
  durationMs: number;
  sampleMs: number;
  writers: number;
  candidates: number;
  /** Total append rate the writers pace themselves to (a steady log, not a saturation test). */
  appendsPerSec: number;
}

const MiB = 1024 * 1024;

async function main(a: Args): Promise<WorkloadOutput> {
  const c = await startLocalCluster(a.candidates, 'memory', {
    health_check_interval_ms: 1000,
    monitoring: { health_check_types: ['basic', 'performance'], fail_slow: { enabled: false } },
  });
  const gc = (globalThis as { gc?: () => void }).gc;
  let stop = false;
  let appends = 0;
  let failed = 0;
  // Preallocated, so the measuring itself does not grow the heap it measures (a ring of the last 64k).
  const lat = new Float64Array(65_536);
  let latN = 0;
  const tMs: number[] = [];
  const rss: number[] = [];
  const heap: number[] = [];
  let log: ManagedLog | undefined;
  let firstError: string | undefined;
  let gate: Promise<void> | undefined;
  let inFlight = 0;
  const errorCodes = new Map<string, number>();
  let t0 = performance.now();
  try {
    log = await c.manager.openLog('memory', { segmentBytes: 4 * MiB }) as ManagedLog;
    const l = log;
    const payload = Buffer.alloc(4096, 0x63);
    const perWriterGapMs = (1000 * a.writers) / a.appendsPerSec;
    const writer = async (): Promise<void> => {
      let due = performance.now();
      while (!stop) {
        if (gate) await gate;
        const s = performance.now();
        inFlight++;
        try {
          await l.append(payload);
          appends++;
          lat[latN++ % lat.length] = (performance.now() - s) * 1000;
        } catch (e) {
          failed++;
          const code = (e as { code?: string })?.code ?? 'unknown';
          if (!firstError) firstError = `${code}: ${(e as Error)?.message ?? String(e)} (after ${appends} acked appends, ${((performance.now() - t0) / 1000).toFixed(1)} s)`;
          errorCodes.set(code, (errorCodes.get(code) ?? 0) + 1);
        } finally {
          inFlight--;
        }
        due += perWriterGapMs;
        const wait = due - performance.now();
        if (wait > 1) await sleep(wait);
        else if (wait < -1000) due = performance.now(); // fell behind: do not burst to catch up
      }
    };
    // Truncation with the writers held back: ManagedLog.truncatePrefix racing concurrent appends fences
    // the log against itself (XDBM_FENCED naming its own writer id; see the report of issue 8).
    const truncator = async (): Promise<void> => {
      while (!stop) {
        await sleep(2000);
        if (stop) break;
        let open!: () => void;
        gate = new Promise<void>((r) => { open = r; });
        while (inFlight > 0) await sleep(1);
        const last = l.lastIndex();
        if (last > 1000) await l.truncatePrefix(last - 1000).catch(() => undefined);
        gate = undefined;
        open();
      }
    };
    t0 = performance.now();
    const tasks = [...Array.from({ length: a.writers }, writer), truncator()];
    while (performance.now() - t0 < a.durationMs) {
      await sleep(a.sampleMs);
      gc?.();
      const m = process.memoryUsage();
      tMs.push(performance.now() - t0);
      rss.push(m.rss / MiB);
      heap.push(m.heapUsed / MiB);
    }
    stop = true;
    await Promise.all(tasks);
    const from = Math.floor(tMs.length * 0.2);
    const mins = tMs.slice(from).map((t) => t / 60_000);
    const rssSlope = slope(mins, rss.slice(from));
    const heapSlope = slope(mins, heap.slice(from));
    const s = summarize(lat.subarray(0, Math.min(latN, lat.length)));
    const worst = Math.max(rssSlope, heapSlope);
    const skipped = firstError
      ? [`memory: ${failed} appends failed (${[...errorCodes].map(([k, v]) => `${k} x${v}`).join(', ')}); first: ${firstError}`]
      : [];
    return {
      skipped,
      rows: [{
        suite: 'memory', backendType: 'local',
        workload: `memory flatness ${(a.durationMs / 60_000).toFixed(1)} min: ${a.candidates} backends probed every 1 s (basic, performance) + ${a.writers} writers appending 4 KiB at ${a.appendsPerSec}/s`,
        values: {
          rssSlopeMiBPerMin: rssSlope, heapSlopeMiBPerMin: heapSlope,
          rssStartMiB: rss[from] ?? Number.NaN, rssEndMiB: rss.at(-1) ?? Number.NaN,
          heapStartMiB: heap[from] ?? Number.NaN, heapEndMiB: heap.at(-1) ?? Number.NaN,
          appends, failedAppends: failed, appendP99Us: s.p99, probes: c.manager.getStats().totalChecks,
        },
        goal: failed > 0
          ? { text: 'memory flat after warm-up over probes and appends (slopes under 1 MiB/min)', met: false, by: `${failed} appends failed: the run did not exercise the data path throughout` }
          : atMost('memory flat after warm-up over probes and appends: RSS and heap (after GC) slopes under 1 MiB/min', worst, 1, ' MiB/min'),
      }],
      series: [{
        name: 'memory-flatness', title: `RSS over the memory run (${path.basename(c.base)})`, unit: 'RSS (MiB)',
        points: tMs.map((t, i) => ({ tMs: t, value: rss[i]! })), markers: [{ tMs: tMs[from] ?? 0, label: 'warm-up end' }],
      }],
    };
  } finally {
    stop = true;
    await log?.close().catch(() => undefined);
    await c.stop();
  }
}

void runWorkload('memory', main);
