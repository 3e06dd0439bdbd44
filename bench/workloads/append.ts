/**
 * Data path: append throughput and latency of the replicated log (ack quorum 2 of 3) over three local
 * backends, `writers` closed-loop writers of `payloadBytes`, next to fio writing the same bytes to the
 * same three directories: 3 concurrent jobs, sequential buffered writes of one framed record each,
 * fdatasync every k writes where k is the log's measured entries per group commit (its sync policy).
 * Throughput is compared with the second-fastest fio job (an ack needs 2 of the 3 places).
 */
import path from 'node:path';
import { RECORD_HEADER_BYTES } from '../../src/wal/record-format.js';
import { runFioJobs } from '../lib/fio.js';
import { atLeast } from '../lib/goals.js';
import type { BenchRow } from '../lib/results.js';
import { countingFactory, startLocalCluster } from '../lib/cluster.js';
import { summarize } from '../lib/stats.js';
import { runWorkload, type WorkloadOutput } from '../lib/workload.js';

interface Args {
  payloadBytes: number;
  writers: number;
  durationMs: number;
}

async function main(a: Args): Promise<WorkloadOutput> {
  const c = await startLocalCluster(3, 'append', {
    // probes stay on (basic, seed interval) but light: the data path is what is measured
    health_check_interval_ms: 5000,
    monitoring: { health_check_types: ['basic'] },
  });
  const segmentBytes = c.manager.config.wal.segmentBytes;
  const counter = countingFactory(segmentBytes);
  const payload = Buffer.alloc(a.payloadBytes, 0x61);
  const lat: number[] = [];
  let failed = 0;
  let acked = 0;
  let elapsedMs = 0;
  try {
    const log = await c.manager.openLog('bench', { memberFactory: counter.factory });
    const members = (log as { members(): string[] }).members();
    const append = (log as { append(p: Uint8Array): Promise<{ index: number }> }).append.bind(log);
    for (let i = 0; i < 50; i++) await append(payload); // warm-up: segments created, files open
    counter.commits = 0;
    counter.entries = 0;
    counter.commitUs.length = 0;
    const t0 = performance.now();
    const end = t0 + a.durationMs;
    const writer = async (): Promise<void> => {
      while (performance.now() < end) {
        const s = performance.now();
        try {
          await append(payload);
          lat.push((performance.now() - s) * 1000);
          acked++;
        } catch {
          failed++;
        }
      }
    };
    await Promise.all(Array.from({ length: a.writers }, writer));
    elapsedMs = performance.now() - t0;
    await (log as { close(): Promise<void> }).close();
    if (members.length !== 3) throw new Error(`expected 3 log members, got ${members.join(',')}`);
    const perCommit = counter.entries / Math.max(1, counter.commits);
    const k = Math.max(1, Math.round(perCommit));
    const recordBytes = a.payloadBytes + RECORD_HEADER_BYTES;
    const fioOnce = (): ReturnType<typeof runFioJobs> => runFioJobs(members.map((id) => ({
      filename: path.join(c.dirs[id]!, '_bench_fio_wal'), rw: 'write' as const, blockBytes: recordBytes, ioDepth: 1,
      ioEngine: 'psync' as const, direct: false, runtimeSec: 1, runtimeMs: a.durationMs / 2, sizeBytes: 256 * 1024 * 1024,
      fdatasyncEvery: k,
    })));
    // fio right after the log run and once more after a pause: the machine is shared, two samples
    // (mean of their second-fastest jobs) damp a burst of someone else's I/O.
    const fio = await fioOnce();
    await new Promise((r) => setTimeout(r, 200));
    const fio2 = await fioOnce();
    const secondOf = (f: Awaited<ReturnType<typeof runFioJobs>>): number => f.jobs.map((j) => j.iops).sort((x, y) => y - x)[1]!;
    const second = (secondOf(fio) + secondOf(fio2)) / 2;
    const s = summarize(lat);
    const tput = acked / (elapsedMs / 1000);
    const row: BenchRow = {
      id: `append.${a.payloadBytes / 1024}k.${a.writers}w`, suite: 'append', backendType: 'local',
      workload: `append ${a.payloadBytes / 1024} KiB, ${a.writers} writer${a.writers > 1 ? 's' : ''}, ack 2 of 3, ${(elapsedMs / 1000).toFixed(1)} s`,
      values: {
        appendsPerSec: tput, MBps: (tput * a.payloadBytes) / 1e6, p50LatencyUs: s.p50, p99LatencyUs: s.p99,
        entriesPerCommit: perCommit, replicaCommitP50Us: summarize(counter.commitUs).p50, failedAppends: failed,
      },
      reference: {
        name: `fio 3 jobs (one per member dir) write bs=${recordBytes} buffered, fdatasync=${k}, 2nd fastest job, mean of 2 runs of ${(a.durationMs / 2000).toFixed(1)} s`,
        values: { writesPerSec: second, run1WritesPerSec: secondOf(fio), run2WritesPerSec: secondOf(fio2), syncP50Us: fio.jobs[0]!.syncP50LatencyUs ?? Number.NaN },
      },
      ratio: { throughput: tput / second },
      goal: atLeast('append throughput at least 0.9x fio', tput / second, 0.9, 'x'),
    };
    return { rows: [row] };
  } finally {
    await c.stop();
  }
}

void runWorkload('append', main);
