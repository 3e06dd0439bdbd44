/**
 * Failover under load: closed-loop writers append 4 KiB entries to the replicated log (ack 2 of 3)
 * while, one after another, an active member's directory is removed or replaced by a file (a hard
 * error seen first by the data path). Per failover: time from the fault to the manager's new active
 * set (active-changed without the victim) and to the log's new ensemble; append latency in steady
 * state and during failovers (appends started between the fault and the new ensemble); failed appends.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { FaultReply, FaultRequest } from '../lib/fault-worker.js';
import type { ActiveChangedEvent } from '../../src/manager-api.js';
import type { ManagedLog } from '../../src/wal/log.js';
import { atMost } from '../lib/goals.js';
import type { BenchRow } from '../lib/results.js';
import { startLocalCluster, type ExtraEndpoints } from '../lib/cluster.js';
import { hangSupported, makeHangableDir, type HangableDir } from '../lib/hang.js';
import { summarize } from '../lib/stats.js';
import { runWorkload, sleep, type TimeSeries, type WorkloadOutput } from '../lib/workload.js';

interface Args {
  failovers: number;
  writers: number;
  payloadBytes: number;
  steadyMs: number;
  writeDeadlineMs?: number;
  /** Hung-backend failovers (fsfreeze of a loop-mounted ext4), and the log's per-write deadline for them. */
  hung?: number;
  hungDeadlineMs?: number;
}

interface Sample { startMs: number; latencyUs: number; ok: boolean }

/** The fault-injector thread (bench/lib/fault-worker.ts); times are on this thread's clock. */
function startInjector(): { inject: (dir: string, replaceWithFile: boolean) => Promise<{ startMs: number; doneMs: number; error?: string }>; close: () => Promise<number> } {
  const w = new Worker(path.join(path.dirname(fileURLToPath(import.meta.url)), '../lib/fault-worker.js'));
  const waiting = new Map<number, (r: FaultReply) => void>();
  w.on('message', (r: FaultReply) => { waiting.get(r.id)?.(r); waiting.delete(r.id); });
  let next = 1;
  return {
    inject: (dir, replaceWithFile) => new Promise((resolve) => {
      const id = next++;
      waiting.set(id, (r) => resolve({ startMs: r.startAbsMs - performance.timeOrigin, doneMs: r.doneAbsMs - performance.timeOrigin, error: r.error }));
      w.postMessage({ id, dir, replaceWithFile } satisfies FaultRequest);
    }),
    close: () => w.terminate(),
  };
}
interface Episode { victim: string; mode: string; t0: number; tActive: number; tEnsemble: number; ok: boolean }

/** Waits until the manager's active set and the log's ensemble no longer hold victim (10 s at most). */
async function waitReplaced(victim: string, t0: number, log: ManagedLog, actives: Array<{ t: number; ev: ActiveChangedEvent }>,
  evBefore: number, changesBefore: number): Promise<{ tActive: number; tEnsemble: number }> {
  let tActive = Number.NaN;
  let tEnsemble = Number.NaN;
  const deadline = t0 + 10_000;
  while (performance.now() < deadline && (Number.isNaN(tActive) || Number.isNaN(tEnsemble))) {
    if (Number.isNaN(tActive)) {
      const hit = actives.slice(evBefore).find((x) => x.ev.previous.includes(victim) && !x.ev.current.includes(victim));
      if (hit) tActive = hit.t;
    }
    if (Number.isNaN(tEnsemble)) {
      const ch = log.stats().ensembleChanges.slice(changesBefore).find((x) => x.removed.includes(victim));
      if (ch) tEnsemble = performance.now();
    }
    await new Promise((r) => setImmediate(r));
  }
  return { tActive, tEnsemble };
}

async function main(a: Args): Promise<WorkloadOutput> {
  const skipped: string[] = [];
  const hungWanted = a.hung ?? 0;
  const hungWhy = hungWanted > 0 ? hangSupported() : null;
  if (hungWhy) skipped.push(`hung-backend failovers: ${hungWhy}`);
  const hangs = new Map<string, HangableDir>();
  const extra = hungWanted > 0 && !hungWhy
    ? (base: string): ExtraEndpoints => {
        const specs = [];
        for (let i = 0; i < hungWanted; i++) {
          const id = `hung-${i + 1}`;
          const h = makeHangableDir(`${base}/${id}`, id);
          hangs.set(id, h);
          // weight 0.5: never picked while weight-1 spares are healthy; put in place by a manual switch
          specs.push({ id, node: `hung-node-${i + 1}`, dir: h.dir, weight: 0.5 });
        }
        return { specs, cleanup: () => { for (const h of hangs.values()) h.remove(); } };
      }
    : undefined;
  const c = await startLocalCluster(a.failovers + 6, 'failover', {
    health_check_interval_ms: 1000,
    failover: { failure_threshold: 3, recovery_threshold: 5, failover_timeout_ms: 5000 },
    monitoring: { health_check_types: ['basic'], fail_slow: { enabled: false } },
  }, extra);
  const samples: Sample[] = [];
  const episodes: Episode[] = [];
  const actives: Array<{ t: number; ev: ActiveChangedEvent }> = [];
  c.manager.on('active-changed', (ev) => actives.push({ t: performance.now(), ev }));
  const failedAt = new Map<string, number>();
  c.manager.on('state-changed', (ev) => { if (ev.to === 'FAILED' && !failedAt.has(ev.endpointId)) failedAt.set(ev.endpointId, performance.now()); });
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
    const injector = startInjector();
    const injectMs: number[] = [];
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
      const fault = injector.inject(c.dirs[victim]!, k % 2 === 1);
      const { tActive, tEnsemble } = await waitReplaced(victim, t0, l, actives, evBefore, changesBefore);
      const f = await fault;
      if (f.error) skipped.push(`fault ${k + 1} on ${victim}: ${f.error}`);
      injectMs.push(f.doneMs - f.startMs);
      const ok = !Number.isNaN(tActive) && !Number.isNaN(tEnsemble);
      episodes.push({ victim, mode, t0, tActive, tEnsemble, ok });
      if (!ok) skipped.push(`failover ${k + 1} (${victim}, ${mode}): no ${Number.isNaN(tActive) ? 'new active set' : 'new log ensemble'} within 10 s`);
      await sleep(250);
    }
    stop = true;
    await Promise.all(writers);
    const tEnd = performance.now();
    await injector.close();

    // --- hung backends: a member whose file system stops answering (dm suspended); the log's
    // per-write deadline turns the hang into XDBM_IO_TIMEOUT, which fails the member over.
    const hungEps: Episode[] = [];
    const hungSamples: Sample[] = [];
    const freezeMs: number[] = [];
    let k = 0;
    for (const [id, h] of hangs) {
      k++;
      const act = c.manager.getActiveBackends().map((x) => x.endpointId);
      const out = act.find((x) => !x.startsWith('hung-'));
      if (!out) { skipped.push(`hung ${id}: no active to switch out`); continue; }
      await c.manager.forceBackendSwitch(out, id);
      const hl = await c.manager.openLog(`hung-${k}`, { writeDeadlineMs: a.hungDeadlineMs ?? 250 }) as ManagedLog;
      let hstop = false;
      try {
        if (!hl.members().includes(id)) { skipped.push(`hung ${id}: not a member of the new log (${hl.members().join(',')})`); continue; }
        const hw = async (): Promise<void> => {
          while (!hstop) {
            const s0 = performance.now();
            try {
              await hl.append(payload);
              hungSamples.push({ startMs: s0, latencyUs: (performance.now() - s0) * 1000, ok: true });
            } catch {
              hungSamples.push({ startMs: s0, latencyUs: (performance.now() - s0) * 1000, ok: false });
            }
          }
        };
        const ws = Array.from({ length: a.writers }, hw);
        await sleep(300);
        const changesBefore = hl.stats().ensembleChanges.length;
        const evBefore = actives.length;
        const t0 = performance.now();
        let frozenMs = Number.NaN;
        const frozen = h.suspend().then(() => { frozenMs = performance.now() - t0; });
        const { tActive, tEnsemble } = await waitReplaced(id, t0, hl, actives, evBefore, changesBefore);
        await frozen;
        freezeMs.push(frozenMs);
        const ok = !Number.isNaN(tActive) && !Number.isNaN(tEnsemble);
        hungEps.push({ victim: id, mode: 'hung (fs frozen)', t0, tActive, tEnsemble, ok });
        if (!ok) skipped.push(`hung ${id}: no ${Number.isNaN(tActive) ? 'new active set' : 'new log ensemble'} within 10 s`);
        await sleep(200);
        hstop = true;
        h.resume();
        await Promise.all(ws);
      } finally {
        hstop = true;
        try { h.resume(); } catch { /* not suspended */ }
        await hl.close().catch(() => undefined);
      }
    }

    const okEps = episodes.filter((e) => e.ok);
    const toActive = summarize(okEps.map((e) => e.tActive - e.t0));
    const toEnsemble = summarize(okEps.map((e) => e.tEnsemble - e.t0));
    const toFailed = summarize(okEps.map((e) => (failedAt.get(e.victim) ?? Number.NaN) - e.t0).filter(Number.isFinite));
    // An append is 'during a failover' when its lifetime overlaps [fault, new ensemble].
    const inFailover = (s: Sample): boolean => episodes.some((e) => s.startMs + s.latencyUs / 1000 >= e.t0 && s.startMs <= Math.max(e.tActive, e.tEnsemble));
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
          p50Ms: toActive.p50, p99Ms: toActive.p99, maxMs: toActive.max, detectP50Ms: toFailed.p50, detectP99Ms: toFailed.p99,
          ensembleP50Ms: toEnsemble.p50, ensembleP99Ms: toEnsemble.p99,
          injectP50Ms: summarize(injectMs).p50, managerFailovers: stats.failoverCount, failedFailovers: stats.failedFailovers,
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
        suite: 'failover', backendType: 'local', workload: `append ${a.payloadBytes / 1024} KiB latency during failover (appends overlapping fault -> new ensemble) vs steady state`,
        values: { duringP50Us: during.p50, duringP99Us: during.p99, duringCount: during.count },
        reference: { name: `steady state, same run (first ${a.steadyMs} ms)`, values: { p50Us: steady.p50, p99Us: steady.p99, count: steady.count } },
        ratio: { p50: during.p50 / steady.p50, p99: during.p99 / steady.p99 },
        goal: atMost('append p99 during failover under 2x steady state', during.p99 / steady.p99, 2, 'x'),
      },
    ];
    if (hangs.size > 0) {
      const okH = hungEps.filter((e) => e.ok);
      const ha = summarize(okH.map((e) => e.tActive - e.t0));
      const he = summarize(okH.map((e) => e.tEnsemble - e.t0));
      const hfailed = hungSamples.filter((x) => !x.ok).length;
      rows.push({
        suite: 'failover', backendType: 'local',
        workload: `hung member (fsfreeze) -> new active set, ${okH.length}/${hungEps.length} failovers, log write deadline ${a.hungDeadlineMs ?? 250} ms`,
        values: {
          p50Ms: ha.p50, p99Ms: ha.p99, ensembleP50Ms: he.p50, ensembleP99Ms: he.p99, fsfreezeCmdP50Ms: summarize(freezeMs).p50,
          appends: hungSamples.length, failedAppends: hfailed,
        },
        goal: okH.length === hungEps.length && okH.length > 0
          ? atMost('hung member: p99 fault -> new active set under 50 ms (includes the write deadline)', ha.p99, 50, ' ms')
          : { text: 'hung member replaced', met: false, by: `${okH.length} of ${hungEps.length} replaced` },
      });
    }
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
  }
}

void runWorkload('failover', main);
