/**
 * The fail-slow rule and the overload guard pinned on a recorded latency trace (20 local backends on
 * one file system, test/core/traces/quiet-20-local.json), driven through the real HealthMonitor with a
 * runner that answers from the trace. No clock, no sleeps: rounds are run one after another.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ProbeTarget, StorageBackend } from '../../src/backends/backend.js';
import type { ManagerConfig } from '../../src/config/types.js';
import { ErrorCode } from '../../src/errors.js';
import { HealthMonitor } from '../../src/health/monitor.js';
import type { Transition } from '../../src/health/state-machine.js';
import type { ProbeResult, ProbeRunner } from '../../src/probes/types.js';
import type { ProbeKind } from '../../src/types.js';

const TRACE = JSON.parse(readFileSync(new URL('./traces/quiet-20-local.json', import.meta.url), 'utf8')) as { ids: string[]; rounds: number[][] };
const IDS = TRACE.ids;

function cfg(kinds: ProbeKind[] = ['basic']): ManagerConfig {
  return {
    targetActiveBackends: 3,
    healthCheckIntervalMs: 1000,
    candidateNodes: [],
    selection: { algorithm: 'weighted_score', weights: { latency: 0.4, bandwidth: 0.3, reliability: 0.2, load: 0.1 }, failureDomain: 'node', allowSharedFailureDomain: false },
    failover: {
      enableAutoFailover: true, failureThreshold: 3, degradedThreshold: 1, recoveryThreshold: 2, failoverTimeoutMs: 1000,
      enableDataMigration: false, errorDecayHalfLifeMs: 60_000, holdDownBaseMs: 5000, holdDownMaxMs: 20_000, flapWindowMs: 600_000,
    },
    monitoring: {
      enableDetailedMetrics: false, metricsExportIntervalMs: 1000, healthCheckTypes: kinds, probeTimeoutMs: 1000,
      maxAcceptableLatencyUs: 100_000, maxAcceptableErrorRate: 0.1, failSlow: { enabled: true, peerRatio: 2.5, minLatencyUs: 1000, minPeers: 2 },
    },
    wal: { ackQuorum: 2, segmentBytes: 1 << 20, metadata: { type: 'file', path: '/dev/null' } },
    alerts: [],
    admin: { socketPath: '/tmp/none.sock' },
  };
}

type Shape = (ctx: { round: number; id: string; position: number; kind: ProbeKind; baseUs: number }) =>
  { latencyUs: number } | { error: string };

/** Answers each probe from the trace (round r uses trace round r mod length), reshaped by `shape`. */
class TraceRunner implements ProbeRunner {
  round = 0;
  position = 0;
  readonly calls: Array<{ round: number; id: string; kind: ProbeKind }> = [];
  constructor(readonly shape: Shape = ({ baseUs }) => ({ latencyUs: baseUs }), readonly concurrency = 2) {}
  async run(target: ProbeTarget, kind: ProbeKind): Promise<ProbeResult> {
    const id = target.endpointId;
    const baseUs = TRACE.rounds[this.round % TRACE.rounds.length]![IDS.indexOf(id)]!;
    const out = this.shape({ round: this.round, id, position: this.position++, kind, baseUs });
    this.calls.push({ round: this.round, id, kind });
    const ok = 'latencyUs' in out;
    const lat = ok ? out.latencyUs : 0;
    return {
      endpointId: id, kind, ok, ops: 3, errors: ok ? 0 : 1, errorRate: ok ? 0 : 1, avgLatencyUs: lat, p50LatencyUs: lat, p99LatencyUs: lat,
      bandwidthMBps: 10, iops: 100, durationMs: 1, finishedAtMs: 0, queueUs: 100,
      ...(ok ? {} : { error: { code: out.error, message: out.error } }),
    };
  }
  async close(): Promise<void> {}
}

function setup(opts: { shape?: Shape; rotateOrder?: boolean; kinds?: ProbeKind[]; loopDelayMs?: (round: number) => number; concurrency?: number } = {}) {
  let now = 1_000_000;
  const runner = new TraceRunner(opts.shape, opts.concurrency);
  const transitions: Array<{ id: string; t: Transition; reason: string; round: number }> = [];
  const c = cfg(opts.kinds);
  const backend = (id: string) => ({
    endpointId: id, isOpen: true, init: async () => undefined, close: async () => undefined,
    probeTarget: () => ({ kind: 'dir', endpointId: id, type: 'local', dir: '/x', direct: false }),
  } as unknown as StorageBackend);
  const backends = new Map(IDS.map((id) => [id, backend(id)]));
  const mon = new HealthMonitor({
    config: () => c,
    endpoints: () => IDS.map((id) => ({ endpointId: id, type: 'local' as const })),
    backend: (id) => backends.get(id),
    onTransition: (id, t, reason) => transitions.push({ id, t, reason, round: runner.round }),
  }, runner, {
    now: () => now, rotateOrder: opts.rotateOrder,
    eventLoopDelayMs: () => opts.loopDelayMs?.(runner.round) ?? 0,
  });
  IDS.forEach((id) => mon.record(id));
  const rounds = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      runner.position = 0;
      await mon.runRound();
      runner.round++;
      now += 1000;
    }
  };
  /** State changes after every backend's first verdict (UNKNOWN -> HEALTHY). */
  const changes = () => transitions.filter((x) => x.t.from !== 'UNKNOWN');
  return { mon, runner, transitions, changes, rounds, now: () => now };
}

describe('fail-slow on recorded traces', () => {
  it('a late-in-round penalty that lands on whoever goes first: order rotated, nobody is flagged', async () => {
    // The first probe of a round pays the file system's saved-up work (the issue measured 5.7 ms against 0.3 ms).
    const shape: Shape = ({ position, baseUs }) => ({ latencyUs: position === 0 ? baseUs + 5400 : baseUs });
    const s = setup({ shape });
    await s.rounds(90);
    expect(s.changes()).toEqual([]);
    expect(IDS.filter((id) => s.mon.isFailSlow(id))).toEqual([]);
  });

  it('the same penalty in a fixed order is flagged: rotating the order is what keeps it off one backend', async () => {
    const shape: Shape = ({ position, baseUs }) => ({ latencyUs: position === 0 ? baseUs + 5400 : baseUs });
    const s = setup({ shape, rotateOrder: false });
    await s.rounds(10);
    expect(IDS.filter((id) => s.mon.isFailSlow(id))).toEqual([IDS[0]]);
  });

  it('a backend 3x slower than its peers is flagged in its 6th or 7th slow round, and no peer is', async () => {
    const victim = IDS[7]!;
    const from = 10;
    const shape: Shape = ({ round, id, baseUs }) => ({ latencyUs: id === victim && round >= from ? 3 * baseUs : baseUs });
    const s = setup({ shape });
    await s.rounds(from + 7);
    const flagged = s.transitions.find((x) => x.id === victim && x.reason.startsWith('fail-slow: much slower'));
    expect(flagged).toBeDefined();
    // Clean samples: the 7-sample median turns at the 4th slow sample, the flag comes two rounds later (6th).
    // This trace's own sample at round 10 is 156 us (a third of this backend's usual), so 3x of it is not
    // slow yet and the flag comes in the 7th round: the rule waits for evidence, which is the point.
    expect(flagged!.round - from + 1).toBeLessThanOrEqual(7);
    expect(s.mon.record(victim).health.state).toBe('DEGRADED');
    expect(s.changes().filter((x) => x.id !== victim)).toEqual([]);
  });

  it('a backend that recovers is cleared once its window is back in line; slow again soon after is a flap', async () => {
    const victim = IDS[3]!;
    let slow = (round: number): boolean => round >= 10 && round < 20;
    const shape: Shape = ({ round, id, baseUs }) => ({ latencyUs: id === victim && slow(round) ? 10 * baseUs : baseUs });
    const s = setup({ shape });
    await s.rounds(20);
    expect(s.mon.isFailSlow(victim)).toBe(true);
    // back in line: the 7-sample median turns at the 4th good sample, then 3 rounds in line clear the flag
    await s.rounds(5);
    expect(s.mon.isFailSlow(victim)).toBe(true);
    await s.rounds(1);
    expect(s.mon.isFailSlow(victim)).toBe(false);
    expect(s.mon.record(victim).health.state).toBe('HEALTHY');
    expect(s.mon.record(victim).flap.flapCount).toBe(0);
    // slow again right away: the flag that comes back counts as a flap and holds the backend down
    slow = (round: number): boolean => round >= 26;
    await s.rounds(5);
    expect(s.mon.isFailSlow(victim)).toBe(true);
    expect(s.mon.record(victim).flap.flapCount).toBe(1);
    expect(s.mon.isHeldDown(victim)).toBe(true);
  });
});

describe('data-path latency is evidence too', () => {
  it('an active whose replica writes are 5x its fellow actives\' is flagged, though its probes look like everyone\'s', async () => {
    const s = setup();
    const actives = [IDS[0]!, IDS[1]!, IDS[2]!];
    for (let r = 0; r < 8; r++) {
      // the log's writes of one round: 20 per active, the slow one's 5x (recorded base of 600 us)
      for (let i = 0; i < 20; i++) for (const id of actives) s.mon.recordDataPath(id, id === IDS[2] ? 3000 : 600, true);
      await s.rounds(1);
    }
    expect(s.mon.isFailSlow(IDS[2]!)).toBe(true);
    expect(s.mon.isFailSlow(IDS[0]!)).toBe(false);
    expect(s.transitions.find((x) => x.id === IDS[2] && x.reason.startsWith('fail-slow'))).toBeDefined();
  });

  it('failed data-path operations add no latency sample', () => {
    const s = setup();
    s.mon.recordDataPath(IDS[0]!, 90_000, false);
    expect(s.mon.latencySamples(IDS[0]!)['data-path']).toEqual([]);
  });
});

describe('local overload is not a backend fault', () => {
  // Every 10th round a third of the backends miss their deadline, as when all heavy probes fired at once on a loaded host.
  const missEvery10th: Shape = ({ round, id, baseUs }) =>
    round % 10 === 5 && IDS.indexOf(id) % 3 === 0 ? { error: ErrorCode.PROBE_TIMEOUT } : { latencyUs: baseUs };

  it('timeouts in rounds where the event loop ran late change no state and raise self-overload', async () => {
    const s = setup({ shape: missEvery10th, loopDelayMs: (round) => (round % 10 === 5 ? 450 : 5) });
    await s.rounds(30);
    expect(s.changes()).toEqual([]);
    expect(s.mon.selfOverload().overloadedRounds).toBe(3);
    expect(s.mon.selfOverload().suppressedResults).toBe(3 * IDS.filter((_, i) => i % 3 === 0).length);
  });

  it('the same timeouts with a punctual event loop are the backends\' and do change state', async () => {
    const s = setup({ shape: missEvery10th });
    await s.rounds(30);
    expect(s.changes().length).toBeGreaterThan(0);
    expect(s.mon.selfOverload().overloadedRounds).toBe(0);
  });

  it('probes that found no free worker (XDBM_PROBE_OVERLOADED) change no state', async () => {
    const shape: Shape = ({ round, id, baseUs }) =>
      round >= 5 && round < 8 && IDS.indexOf(id) % 2 === 0 ? { error: ErrorCode.PROBE_OVERLOADED } : { latencyUs: baseUs };
    const s = setup({ shape });
    await s.rounds(12);
    expect(s.changes()).toEqual([]);
    expect(s.mon.selfOverload().overloadedRounds).toBe(3);
    expect(s.mon.failedChecks).toBe(0);
  });
});

describe('heavy probes are spread and capped', () => {
  it('with 2 workers at most one heavy probe per round, and every backend gets its performance probe', async () => {
    const s = setup({ kinds: ['basic', 'performance'] });
    await s.rounds(40);
    const perf = s.runner.calls.filter((c) => c.kind === 'performance');
    const perRound = new Map<number, number>();
    for (const c of perf) perRound.set(c.round, (perRound.get(c.round) ?? 0) + 1);
    expect(Math.max(...perRound.values())).toBe(1);
    expect(new Set(perf.map((c) => c.id)).size).toBe(IDS.length);
  });

  it('with more workers the phases spread them: no round runs them all', async () => {
    const s = setup({ kinds: ['basic', 'performance'], concurrency: 8 });
    await s.rounds(10);
    const perf = s.runner.calls.filter((c) => c.kind === 'performance');
    const perRound = new Map<number, number>();
    for (const c of perf) perRound.set(c.round, (perRound.get(c.round) ?? 0) + 1);
    expect(perf).toHaveLength(IDS.length);
    expect(Math.max(...perRound.values())).toBe(2);
  });
});
