/** HealthMonitor with a scripted fake ProbeRunner (pure logic: no I/O, a fake clock). */
import { describe, expect, it } from 'vitest';
import type { ProbeTarget, StorageBackend } from '../../src/backends/backend.js';
import type { ManagerConfig } from '../../src/config/types.js';
import { ErrorCode, XdbmError } from '../../src/errors.js';
import { HealthMonitor, probeKindForRound } from '../../src/health/monitor.js';
import type { Transition } from '../../src/health/state-machine.js';
import type { ProbeOptions, ProbeResult, ProbeRunner } from '../../src/probes/types.js';
import type { ProbeKind } from '../../src/types.js';
import { until } from '../support/until.js';

function cfg(): ManagerConfig {
  return {
    targetActiveBackends: 3,
    healthCheckIntervalMs: 1000,
    candidateNodes: [],
    selection: { algorithm: 'weighted_score', weights: { latency: 0.4, bandwidth: 0.3, reliability: 0.2, load: 0.1 }, failureDomain: 'node', allowSharedFailureDomain: false },
    failover: {
      enableAutoFailover: true, failureThreshold: 3, degradedThreshold: 1, recoveryThreshold: 2, failoverTimeoutMs: 1000,
      enableDataMigration: false, errorDecayHalfLifeMs: 1000, holdDownBaseMs: 5000, holdDownMaxMs: 20_000, flapWindowMs: 60_000,
    },
    monitoring: {
      enableDetailedMetrics: false, metricsExportIntervalMs: 1000, healthCheckTypes: ['basic'], probeTimeoutMs: 100,
      maxAcceptableLatencyUs: 100_000, maxAcceptableErrorRate: 0.1, failSlow: { enabled: true, peerRatio: 3, minLatencyUs: 1000, minPeers: 2 },
    },
    wal: { ackQuorum: 2, segmentBytes: 1 << 20, metadata: { type: 'file', path: '/dev/null' } },
    alerts: [],
    admin: { socketPath: '/tmp/none.sock' },
  };
}

/** Scripted runner: per endpoint a queue of outcomes ('ok' | 'fail' | 'crash' | 'hang' | latency number). */
class ScriptedRunner implements ProbeRunner {
  calls: Array<{ id: string; kind: ProbeKind }> = [];
  script = new Map<string, Array<'ok' | 'fail' | 'crash' | 'hang' | number>>();
  async run(target: ProbeTarget, kind: ProbeKind, _opts?: ProbeOptions): Promise<ProbeResult> {
    this.calls.push({ id: target.endpointId, kind });
    const step = this.script.get(target.endpointId)?.shift() ?? 'ok';
    if (step === 'hang') return new Promise(() => undefined);
    const ok = step !== 'fail' && step !== 'crash';
    return {
      endpointId: target.endpointId, kind, ok, ops: 3, errors: ok ? 0 : 1, errorRate: ok ? 0 : 1,
      avgLatencyUs: typeof step === 'number' ? step : 50, p50LatencyUs: 50, p99LatencyUs: 60, bandwidthMBps: 10, iops: 100,
      durationMs: 1, finishedAtMs: 0,
      ...(ok ? {} : { error: { code: step === 'crash' ? ErrorCode.WORKER_CRASHED : ErrorCode.IO_ERROR, message: String(step) } }),
    };
  }
  async close(): Promise<void> {}
}

function setup(ids: string[]) {
  let now = 1_000_000;
  const runner = new ScriptedRunner();
  const transitions: Array<{ id: string; t: Transition; reason: string }> = [];
  const backends = new Map(ids.map((id) => [id, {
    endpointId: id, isOpen: true, init: async () => undefined, close: async () => undefined,
    probeTarget: () => ({ kind: 'dir', endpointId: id, type: 'local', dir: '/x', direct: false }),
  } as unknown as StorageBackend]));
  const c = cfg();
  const mon = new HealthMonitor({
    config: () => c,
    endpoints: () => ids.map((id) => ({ endpointId: id, type: 'local' as const })),
    backend: (id) => backends.get(id),
    onTransition: (id, t, reason) => transitions.push({ id, t, reason }),
  }, runner, { now: () => now });
  ids.forEach((id) => mon.record(id));
  return { mon, runner, transitions, cfg: c, advance: (ms: number) => { now += ms; }, now: () => now };
}

describe('probe kind per round', () => {
  it('basic every round, performance every 10th (round 0 included), the most thorough due kind wins', () => {
    const kinds: ProbeKind[] = ['basic', 'performance'];
    expect([0, 1, 9, 10, 11, 20].map((r) => probeKindForRound(r, kinds))).toEqual(['performance', 'basic', 'basic', 'performance', 'basic', 'performance']);
    expect(probeKindForRound(30, ['basic', 'performance', 'full'])).toBe('full');
    expect(probeKindForRound(7, ['basic'])).toBe('basic');
    expect(probeKindForRound(3, [])).toBe('basic');
    expect(probeKindForRound(3, ['performance'])).toBe('performance');
  });
});

describe('HealthMonitor', () => {
  it('drives the state machine and counts checks', async () => {
    const s = setup(['a', 'b']);
    s.runner.script.set('b', ['ok', 'fail', 'fail', 'fail']);
    for (let i = 0; i < 4; i++) await s.mon.runRound();
    expect(s.mon.record('a').health.state).toBe('HEALTHY');
    expect(s.mon.record('b').health.state).toBe('FAILED');
    expect(s.mon.totalChecks).toBe(8);
    expect(s.mon.failedChecks).toBe(3);
    const toFailed = s.transitions.find((x) => x.id === 'b' && x.t.to === 'FAILED')!;
    expect(toFailed.t.becameFailed).toBe(true);
    expect(toFailed.reason).toMatch(/XDBM_IO_ERROR/);
    expect(s.mon.record('b').lastError?.code).toBe('XDBM_IO_ERROR');
    expect(s.mon.decayedErrors('b')).toBeCloseTo(3, 9);
  });

  it('keeps at most one probe per backend in flight: a hung one is skipped, not stacked', async () => {
    const s = setup(['a', 'h']);
    s.runner.script.set('h', ['hang']);
    const r1 = s.mon.runRound(); // never settles: h hangs (the real runner would time it out)
    await until(() => s.runner.calls.some((c) => c.id === 'h'), 'the hanging probe of h started');
    await s.mon.runRound();
    await s.mon.runRound();
    expect(s.runner.calls.filter((c) => c.id === 'h')).toHaveLength(1);
    expect(s.runner.calls.filter((c) => c.id === 'a')).toHaveLength(3);
    void r1;
  });

  it('a worker crash makes the backend UNKNOWN, without counting a failure', async () => {
    const s = setup(['a']);
    s.runner.script.set('a', ['ok', 'crash']);
    await s.mon.runRound();
    await s.mon.runRound();
    expect(s.mon.record('a').health).toMatchObject({ state: 'UNKNOWN', consecutiveFailures: 0 });
  });

  it('a runner that rejects with PROBE_BUSY changes nothing; another rejection is a failed probe', async () => {
    const s = setup(['a']);
    const orig = s.runner.run.bind(s.runner);
    let mode: 'busy' | 'boom' | 'ok' = 'busy';
    s.runner.run = async (t, k, o) => {
      if (mode === 'busy') throw new XdbmError(ErrorCode.PROBE_BUSY, 'busy');
      if (mode === 'boom') throw new Error('boom');
      return orig(t, k, o);
    };
    await s.mon.runRound();
    expect(s.mon.totalChecks).toBe(0);
    mode = 'boom';
    await s.mon.runRound();
    expect(s.mon.record('a').health.state).toBe('UNHEALTHY');
    expect(s.mon.failedChecks).toBe(1);
  });

  it('fail-slow: a backend 3x slower than its peers for 3 rounds becomes DEGRADED, then HEALTHY again', async () => {
    const s = setup(['a', 'b', 'slow']);
    s.runner.script.set('slow', [50, 20_000, 20_000, 20_000, 50, 50, 50]);
    for (let i = 0; i < 4; i++) await s.mon.runRound();
    expect(s.mon.record('slow').health.state).toBe('DEGRADED');
    expect(s.mon.isFailSlow('slow')).toBe(true);
    for (let i = 0; i < 3; i++) await s.mon.runRound();
    expect(s.mon.isFailSlow('slow')).toBe(false);
    expect(s.mon.record('slow').health.state).toBe('HEALTHY');
  });

  it('anti-flap: FAILED again soon after recovering holds the backend down (UNHEALTHY while probes pass)', async () => {
    const s = setup(['f']);
    s.runner.script.set('f', ['fail', 'fail', 'fail', 'ok', 'ok', 'fail', 'fail', 'fail', 'ok', 'ok', 'ok']);
    for (let i = 0; i < 8; i++) { await s.mon.runRound(); s.advance(100); }
    const rec = s.mon.record('f');
    expect(rec.health.state).toBe('FAILED');
    expect(rec.flap.flapCount).toBe(1);
    expect(rec.flap.holdDownUntilMs).toBe(s.now() - 100 + 5000);
    for (let i = 0; i < 3; i++) { await s.mon.runRound(); s.advance(100); }
    expect(s.mon.record('f').health.state).toBe('UNHEALTHY');
    expect(s.mon.isHeldDown('f')).toBe(true);
    s.advance(5000);
    await s.mon.runRound();
    await s.mon.runRound();
    expect(s.mon.record('f').health.state).toBe('HEALTHY');
  });

  it('markFailed (data path) makes it FAILED at once with reason data-path', () => {
    const s = setup(['a']);
    s.mon.markFailed('a', 'XDBM_IO_ERROR', 'EIO');
    expect(s.transitions.at(-1)).toMatchObject({ id: 'a', reason: 'data-path' });
    expect(s.transitions.at(-1)!.t.to).toBe('FAILED');
  });
});
