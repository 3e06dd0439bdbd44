/**
 * Failover under load: closed-loop writers append 4 KiB entries to the replicated log (ack 2 of 3)
 * while, one after another, an active member's directory is removed or replaced by a file (a hard
 * error seen first by the data path). Per failover: time from the fault to the manager's new active
 * set (active-changed without the victim) and to the log's new ensemble; append latency in steady
 * state and during failovers (appends started between the fault and the new ensemble); failed appends.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import type { ActiveChangedEvent } from '../../src/manager-api.js';
import type { ManagedLog } from '../../src/wal/managed-log.js';
import { atMost } from '../lib/goals.js';
import type { BenchRow } from '../lib/results.js';
import { startLocalCluster } from '../lib/cluster.js';
import { summarize } from '../lib/stats.js';
import { runWorkload, sleep, type TimeSeries, type WorkloadOutput } from '../lib/workload.js';

interface Args {
  failovers: number;
  writers: number;
  payloadBytes: number;
  steadyMs: number;
  writeDeadlineMs?: number;
}

interface Sample { startMs: number; latencyUs: number; ok: boolean }
interface Episode { victim: string; mode: string; t0: number; tActive: number; tEnsemble: number; ok: boolean }

async function main(a: Args): Promise<WorkloadOutput> {
  const c = await startLocalCluster(a.failovers + 6, 'failover', {
    health_check_interval_ms: 1000,
    failover: { failure_threshold: 3, recovery_threshold: 5, failover_timeout_ms: 5000 },
    monitoring: { health_check_types: ['basic'], fail_slow: { enabled: false } },
  });
  const skipped: string[] = [];
  const samples: Sample[] = [];
  const episodes: Episode[] = [];
  const actives: Array<{ t: number; ev: ActiveChangedEvent }> = [];
  c.manager.on('active-changed', (ev) => actives.push({ t: performance.now(), ev }));
  let log: ManagedLog | undefined;
  let stop = false;
  try {
    log = await c.manager.openLog('bench', { writeDeadlineMs: a.writeDeadlineMs ?? 2000 }) as ManagedLog;
    const l = log;
    const payload = Buffer.alloc(a.payloadBytes, 0x62);
    for (let i = 0; i < 50; i++) await l.append(payload);
    const writer = async (): Promise<void> => {
      while (!stop) {
        const s = performance.now();
        try {
          await l.append(payload);
          samples.push({ startMs: s, latencyUs: (performance.now() - s) * 1000, ok: true });
        } catch {
          samples.push({ startMs: s, latencyUs: (performance.now() - s) * 1000, ok: false });
        }
      }
    };
    const tStart = performance.now();
    const writers = Array.from({ length: a.writers }, writer);
    await sleep(a.steadyMs);
    const steadyEnd = performance.now();
    for (let k = 0; k < a.failovers; k++) {
      const members = l.members();
      const activeIds = c.manager.getActiveBackends().map((x) => x.endpointId);
      const victim = members.find((m) => activeIds.includes(m)) ?? members[0]!;
      const mode = k % 2 === 0 ? 'directory removed' : 'directory replaced by a file';
      const changesBefore = l.stats().ensembleChanges.length;
      const evBefore = actives.length;
      const t0 = performance.now();
      rmSync(c.dirs[victim]!, { recursive: true, force: true });
      if (k % 2 === 1) writeFileSync(c.dirs[victim]!, 'not a directory\n');
      let tActive = Number.NaN;
      let tEnsemble = Number.NaN;
      const deadline = t0 + 10_000;
      while (performance.now() < deadline && (Number.isNaN(tActive) || Number.isNaN(tEnsemble))) {
        if (Number.isNaN(tActive)) {
          const hit = actives.slice(evBefore).find((x) => x.ev.previous.includes(victim) && !x.ev.current.includes(victim));
          if (hit) tActive = hit.t;
        }
        if (Number.isNaN(tEnsemble)) {
          const ch = l.stats().ensembleChanges.slice(changesBefore).find((x) => x.removed.includes(victim));
          if (ch) tEnsemble = performance.now();
        }
        await new Promise((r) => setImmediate(r));
      }
      const ok = !Number.isNaN(tActive) && !Number.isNaN(tEnsemble);
      episodes.push({ victim, mode, t0, tActive, tEnsemble, ok });
      if (!ok) skipped.push(`failover ${k + 1} (${victim}, ${mode}): no ${Number.isNaN(tActive) ? 'new active set' : 'new log ensemble'} within 10 s`);
      await sleep(250);
    }
    stop = true;
    await Promise.all(writers);
    const tEnd = performance.now();

    const okEps = episodes.filter((e) => e.ok);
    const toActive = summarize(okEps.map((e) => e.tActive - e.t0));
    const toEnsemble = summarize(okEps.map((e) => e.tEnsemble - e.t0));
    const inFailover = (s: Sample): boolean => episodes.some((e) => s.startMs >= e.t0 && s.startMs <= Math.max(e.tActive, e.tEnsemble) + 0);
    const during = summarize(samples.filter((s) => s.ok && inFailover(s)).map((s) => s.latencyUs));
    const steadyAll = samples.filter((s) => s.ok && s.startMs < steadyEnd);
    const steady = summarize(steadyAll.map((s) => s.latencyUs));
    const failed = samples.filter((s) => !s.ok).length;
    const stats = c.manager.getStats();
    const rows: BenchRow[] = [
      {
        suite: 'failover', backendType: 'local',
        workload: `fault -> new active set, ${okEps.length}/${episodes.length} failovers (dir removed / replaced by a file), ${a.writers} writers appending`,
        values: {
          p50Ms: toActive.p50, p99Ms: toActive.p99, maxMs: toActive.max,
          ensembleP50Ms: toEnsemble.p50, ensembleP99Ms: toEnsemble.p99,
          managerFailovers: stats.failoverCount, failedFailovers: stats.failedFailovers,
        },
        goal: okEps.length === episodes.length && okEps.length >= 30
          ? atMost('p99 fault -> new active set under 50 ms (>= 30 failovers)', toActive.p99, 50, ' ms')
          : { text: 'p99 fault -> new active set under 50 ms (>= 30 failovers)', met: false, by: `${okEps.length} of ${episodes.length} failovers completed (need >= 30); p99 ${toActive.p99.toFixed(1)} ms` },
      },
      {
        suite: 'failover', backendType: 'local', workload: `failed appends over ${((tEnd - tStart) / 1000).toFixed(1)} s with ${episodes.length} failovers`,
        values: { appends: samples.length, failedAppends: failed, acked: samples.length - failed },
        goal: failed === 0 ? { text: 'zero failed appends', met: true } : { text: 'zero failed appends', met: false, by: `${failed} failed` },
      },
      {
        suite: 'failover', backendType: 'local', workload: `append ${a.payloadBytes / 1024} KiB latency during failover (fault -> new ensemble) vs steady state`,
        values: { duringP50Us: during.p50, duringP99Us: during.p99, duringCount: during.count },
        reference: { name: `steady state, same run (first ${a.steadyMs} ms)`, values: { p50Us: steady.p50, p99Us: steady.p99, count: steady.count } },
        ratio: { p50: during.p50 / steady.p50, p99: during.p99 / steady.p99 },
        goal: atMost('append p99 during failover under 2x steady state', during.p99 / steady.p99, 2, 'x'),
      },
    ];
    const series: TimeSeries[] = [];
    const pick = okEps[Math.floor(okEps.length / 2)];
    if (pick) {
      const from = pick.t0 - 300;
      const to = Math.max(pick.tActive, pick.tEnsemble) + 300;
      series.push({
        name: 'failover-append-latency', unit: 'append latency (ms)',
        title: `Append latency around a failover (${pick.victim}: ${pick.mode})`,
        points: samples.filter((s) => s.startMs >= from && s.startMs <= to).map((s) => ({ tMs: s.startMs - pick.t0, value: s.latencyUs / 1000 })),
        markers: [
          { tMs: 0, label: 'fault' },
          { tMs: pick.tActive - pick.t0, label: 'new active set' },
          { tMs: pick.tEnsemble - pick.t0, label: 'new ensemble' },
        ],
      });
    }
    return { rows, skipped, series };
  } finally {
    stop = true;
    await log?.close().catch(() => undefined);
    await c.stop();
    mkdirSync('/tmp', { recursive: true });
  }
}

void runWorkload('failover', main);
