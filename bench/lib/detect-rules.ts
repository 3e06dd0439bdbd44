/**
 * Fail-slow rules replayed side by side over recorded latency traces (bench detect suite and the unit
 * tests that pin the rule). Each rule sees the same samples, round by round; only the rule differs.
 *
 *  - current: this project's rule (src/health/fail-slow.ts), run through the real code with its
 *    defaults: a window of the last 7 basic-probe samples per backend (median), fence
 *    max(1000 us, 2.5 x M, M + 6 x 1.4826 x MAD), flagged after 3 slow rounds, cleared after 3;
 *  - old: the rule before the window (the last basic probe's mean against 3 x the peers' median and
 *    the 1000 us floor, flagged after 3 slow rounds, cleared after 3);
 *  - hdfs: HDFS's slow-peer fence max(floor, 3 x median, median + 3 x 1.4826 x MAD) on each round's
 *    sample, with the old rule's 3/3 hysteresis (HDFS has none of its own) and the same 1000 us floor;
 *  - fixed: a fixed limit (5000 us, HDFS's dfs.datanode.slowpeer.low.threshold.ms) on each round's
 *    sample, 3/3 hysteresis.
 */
import type { FailSlowConfig } from '../../src/config/types.js';
import { FailSlowTracker, judgeFailSlow } from '../../src/health/fail-slow.js';
import { LatencyWindows } from '../../src/health/latency-window.js';

/** One probe result as the recorder saw it. */
export interface TraceSample {
  id: string;
  kind: string;
  /** The probe's mean latency, microseconds (0 when it failed). */
  avgUs: number;
  queueUs?: number;
}

export interface LatencyTrace {
  name: string;
  intervalMs: number;
  endpoints: Array<{ id: string; type: string }>;
  /** Probe results per round, in the order they finished. */
  rounds: TraceSample[][];
  /** The backend made slow on purpose, from which round on (absent: every backend is healthy). */
  slow?: { id: string; fromRound: number; toRound?: number; label: string };
}

export interface RuleOutcome {
  rule: string;
  /** Flags raised on backends that were not made slow, or on the slow one outside its slow rounds. */
  falseFlags: number;
  /** Rounds from the slowdown's start to the flag (1 = flagged in its first slow round); null: never. */
  detectRounds: number | null;
}

interface Rule {
  name: string;
  /** Feeds one round; returns the set flagged after it. */
  round(samples: TraceSample[], endpoints: LatencyTrace['endpoints']): Set<string>;
}

/** The absolute floor every peer rule gets (the project's min_latency_us default), so they differ only in the fence. */
export const FLOOR_US = 1000;
export const FIXED_LIMIT_US = 5000;

function healthyPeers(endpoints: LatencyTrace['endpoints'], level: (id: string) => number) {
  return endpoints.map((e) => ({ endpointId: e.id, type: e.type, latencyUs: level(e.id), state: 'HEALTHY' }));
}

/** The project's rule, through src/health (window, fence, tracker). Only basic probes feed its window here. */
export function currentRule(cfg: Partial<FailSlowConfig> = {}, o: { windowSamples?: number; minSamples?: number; flagAfterRounds?: number; clearAfterRounds?: number; madK?: number; kinds?: string[] } = {}): Rule {
  const windows = new LatencyWindows({ windowSamples: o.windowSamples, minSamples: o.minSamples });
  const tracker = new FailSlowTracker({ flagAfterRounds: o.flagAfterRounds, clearAfterRounds: o.clearAfterRounds });
  const c: FailSlowConfig = { enabled: true, peerRatio: 2.5, minLatencyUs: FLOOR_US, minPeers: 2, ...cfg };
  return {
    name: 'current',
    round(samples, endpoints) {
      for (const s of samples) if (s.avgUs > 0 && (o.kinds ?? ['basic']).includes(s.kind)) windows.add(s.kind, s.id, s.avgUs);
      const verdicts = windows.sources().map((src) => judgeFailSlow(healthyPeers(endpoints, (id) => windows.level(src, id)), c, { madK: o.madK }));
      const slow = new Set(verdicts.flatMap((v) => [...v.slow]));
      const judged = new Set(verdicts.flatMap((v) => [...v.judged]));
      return tracker.apply({ slow, judged }, endpoints.map((e) => e.id));
    },
  };
}

/** A one-sample rule (the last probe's mean) with a fence over the peers, 3/3 hysteresis. */
function perRoundRule(name: string, fence: (me: number, peers: number[]) => boolean): Rule {
  const last = new Map<string, number>();
  const tracker = new FailSlowTracker({ flagAfterRounds: 3, clearAfterRounds: 3 });
  return {
    name,
    round(samples, endpoints) {
      // Basic probes only: the traces spread performance probes over rounds, and a performance probe's
      // mean (100 durable writes) is not comparable with a basic one's; the old monitor ran them all in
      // one round, so replaying them mixed would charge it for this change's schedule.
      for (const s of samples) if (s.avgUs > 0 && s.kind === 'basic') last.set(s.id, s.avgUs);
      const slow = new Set<string>();
      const judged = new Set<string>();
      for (const e of endpoints) {
        const me = last.get(e.id);
        const peers = endpoints.filter((p) => p.id !== e.id && p.type === e.type && last.has(p.id)).map((p) => last.get(p.id)!);
        if (me === undefined || peers.length < 2) continue;
        judged.add(e.id);
        if (fence(me, peers)) slow.add(e.id);
      }
      return tracker.apply({ slow, judged }, endpoints.map((e) => e.id));
    },
  };
}

export function oldRule(): Rule {
  return perRoundRule('old', (me, peers) =>
    judgeFailSlow([{ endpointId: 'me', type: 't', latencyUs: me, state: 'HEALTHY' },
      ...peers.map((l, i) => ({ endpointId: `p${i}`, type: 't', latencyUs: l, state: 'HEALTHY' }))],
    { enabled: true, peerRatio: 3, minLatencyUs: FLOOR_US, minPeers: 2 }, { madK: 0 }).slow.has('me'));
}

export function hdfsRule(): Rule {
  return perRoundRule('hdfs', (me, peers) =>
    judgeFailSlow([{ endpointId: 'me', type: 't', latencyUs: me, state: 'HEALTHY' },
      ...peers.map((l, i) => ({ endpointId: `p${i}`, type: 't', latencyUs: l, state: 'HEALTHY' }))],
    { enabled: true, peerRatio: 3, minLatencyUs: FLOOR_US, minPeers: 2 }, { madK: 3 }).slow.has('me'));
}

export function fixedRule(): Rule {
  return perRoundRule('fixed', (me) => me > FIXED_LIMIT_US);
}

export const RULES: ReadonlyArray<() => Rule> = [currentRule, oldRule, hdfsRule, fixedRule];

/** Replays a trace through one rule: false flags and rounds to detect the slow backend. */
export function replay(trace: LatencyTrace, make: () => Rule): RuleOutcome {
  const rule = make();
  let falseFlags = 0;
  let detectRounds: number | null = null;
  let prev = new Set<string>();
  const slow = trace.slow;
  trace.rounds.forEach((samples, r) => {
    const flagged = rule.round(samples, trace.endpoints);
    for (const id of flagged) {
      if (prev.has(id)) continue; // count raising a flag, not holding it
      const inSlowSpan = slow !== undefined && id === slow.id && r >= slow.fromRound && (slow.toRound === undefined || r <= slow.toRound + 8);
      if (!inSlowSpan) falseFlags++;
    }
    if (slow && detectRounds === null && r >= slow.fromRound && flagged.has(slow.id)) detectRounds = r - slow.fromRound + 1;
    prev = flagged;
  });
  return { rule: rule.name, falseFlags, detectRounds };
}
