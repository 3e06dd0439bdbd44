/**
 * Fail-slow detection by peer comparison (after Perseus, FAST'23: a fail-slow drive is one much slower
 * than comparable drives, not one over a fixed limit; the fence is HDFS's slow-peer rule made
 * robust with a window).
 *
 * Rule (README text):
 *   Each backend has a *level* per evidence source: the median of its last `windowSamples` (7)
 *   latency samples, once it has `minSamples` (4) of them (src/health/latency-window.ts). Sources:
 *   the probe kind every backend runs every round (basic by default; the probe's mean latency), and
 *   the log's own replica writes (data-path, Gray Failure).
 *   Backends are compared only with peers of the same type within one source. A backend's peers are
 *   the other backends of its type whose state is HEALTHY or DEGRADED and which have a level. With
 *   M = median of the peers' levels and D = their MAD (median absolute deviation), a backend is *slow
 *   in a round* when it has at least `minPeers` peers and its level exceeds
 *       max(minLatencyUs, peerRatio x M, M + madK x 1.4826 x D)
 *   (defaults minLatencyUs 1000 us, peerRatio 2.5, madK 6). The median excludes the backend itself, so one
 *   slow backend cannot drag its own yardstick up; the MAD term keeps a spread-out peer group from
 *   flagging its tail, the ratio term keeps a tight group (D near 0) from flagging noise, the floor
 *   keeps 40 us against 10 us from counting. Slow in any source is slow.
 *   FAILED, UNHEALTHY and UNKNOWN backends are never flagged (they already lost preference) and never
 *   serve as peers. With `enabled: false` nothing is flagged.
 *   Hysteresis (FailSlowTracker): flagged after `flagAfterRounds` (3) consecutive slow rounds, cleared
 *   after `clearAfterRounds` (3) consecutive rounds back in line; a round where it cannot be judged
 *   (too few peers or samples, or the process was overloaded) keeps its flag as is. A flag that comes
 *   back within the anti-flap window of clearing counts as a flap (src/health/anti-flap.ts).
 */
import type { FailSlowConfig } from '../config/types.js';
import { MAD_TO_SIGMA, mad, median } from './latency-window.js';

export interface FailSlowPeer {
  endpointId: string;
  type: string;
  latencyUs: number;
  state: string;
}

const PEER_STATES = new Set(['HEALTHY', 'DEGRADED']);

/** Defaults of the rule's parameters that are not configuration keys. */
/**
 * 6: with windowed levels the peers' spread is small, and a noisy neighbour widens it for everyone at
 * once; on the recorded traces 6 scaled MADs flagged fewer healthy backends than 3 or 4 (bench detect).
 */
export const DEFAULT_MAD_K = 6;

export interface FailSlowRuleOptions {
  /** Multiplier of the scaled MAD above the peers' median (default DEFAULT_MAD_K). */
  madK?: number;
}

/** The level above which a backend is slow against peers with these levels. */
export function slowThresholdUs(peerLevelsUs: readonly number[], cfg: Pick<FailSlowConfig, 'peerRatio' | 'minLatencyUs'>, rule: FailSlowRuleOptions = {}): number {
  const m = median(peerLevelsUs);
  const d = mad(peerLevelsUs, m);
  return Math.max(cfg.minLatencyUs, cfg.peerRatio * m, m + (rule.madK ?? DEFAULT_MAD_K) * MAD_TO_SIGMA * d);
}

function usable(p: FailSlowPeer): boolean {
  return PEER_STATES.has(p.state) && Number.isFinite(p.latencyUs) && p.latencyUs > 0;
}

export interface FailSlowVerdict {
  /** Slow in this round. */
  slow: Set<string>;
  /** Could be judged this round (enough peers); the rest keep their previous verdict. */
  judged: Set<string>;
}

/** One round of the rule over one source's levels, also saying which backends could be judged at all. */
export function judgeFailSlow(peers: readonly FailSlowPeer[], cfg: FailSlowConfig, rule: FailSlowRuleOptions = {}): FailSlowVerdict {
  const slow = new Set<string>();
  const judged = new Set<string>();
  if (!cfg.enabled) return { slow, judged };
  const byType = new Map<string, FailSlowPeer[]>();
  for (const p of peers) {
    if (!usable(p)) continue;
    let list = byType.get(p.type);
    if (!list) byType.set(p.type, (list = []));
    list.push(p);
  }
  for (const list of byType.values()) {
    if (list.length - 1 < cfg.minPeers) continue;
    for (const me of list) {
      const others = list.filter((p) => p !== me).map((p) => p.latencyUs);
      judged.add(me.endpointId);
      if (me.latencyUs > slowThresholdUs(others, cfg, rule)) slow.add(me.endpointId);
    }
  }
  return { slow, judged };
}

/** The endpoints that are slow against their peers in this one round (no hysteresis). */
export function detectFailSlow(peers: readonly FailSlowPeer[], cfg: FailSlowConfig, rule: FailSlowRuleOptions = {}): Set<string> {
  return judgeFailSlow(peers, cfg, rule).slow;
}

/** Several sources judged in one round: slow in any is slow, judged in any is judged. */
export function mergeVerdicts(verdicts: readonly FailSlowVerdict[]): FailSlowVerdict {
  const slow = new Set<string>();
  const judged = new Set<string>();
  for (const v of verdicts) {
    for (const id of v.slow) slow.add(id);
    for (const id of v.judged) judged.add(id);
  }
  return { slow, judged };
}

export interface FailSlowTrackerOptions {
  /** Consecutive slow rounds before a backend is flagged (default 3). */
  flagAfterRounds?: number;
  /** Consecutive in-line rounds before the flag clears (default 3). */
  clearAfterRounds?: number;
}

/**
 * 3: on a shared, loaded host (load average 6-12 on 2 cores) single fsyncs wait for other processes'
 * journal commits often enough that 4 of 7 samples of a healthy backend are sometimes high. Replayed
 * over the recorded 15-minute trace of 20 healthy backends (bench/results/detect/extra-traces), 2
 * rounds gave 9 false flags and 3 rounds gave 3; the cost is one round of detection.
 */
export const DEFAULT_FLAG_AFTER_ROUNDS = 3;
export const DEFAULT_CLEAR_AFTER_ROUNDS = 3;

interface TrackState {
  flagged: boolean;
  slowRounds: number;
  inLineRounds: number;
}

/** Applies detectFailSlow round after round with hysteresis; see the rule above. */
export class FailSlowTracker {
  readonly flagAfterRounds: number;
  readonly clearAfterRounds: number;
  readonly #state = new Map<string, TrackState>();

  constructor(opts: FailSlowTrackerOptions = {}) {
    this.flagAfterRounds = Math.max(1, opts.flagAfterRounds ?? DEFAULT_FLAG_AFTER_ROUNDS);
    this.clearAfterRounds = Math.max(1, opts.clearAfterRounds ?? DEFAULT_CLEAR_AFTER_ROUNDS);
  }

  /** Feeds one round of one source's levels; returns the endpoints flagged fail-slow after it. */
  update(peers: readonly FailSlowPeer[], cfg: FailSlowConfig, rule: FailSlowRuleOptions = {}): Set<string> {
    return this.apply(judgeFailSlow(peers, cfg, rule), peers.map((p) => p.endpointId), cfg.enabled);
  }

  /** Feeds one round's verdict (present: the endpoints that exist now); returns those flagged after it. */
  apply(verdict: FailSlowVerdict, present: Iterable<string>, enabled = true): Set<string> {
    const { slow, judged } = verdict;
    const here = new Set(present);
    for (const id of this.#state.keys()) if (!here.has(id)) this.#state.delete(id);
    if (!enabled) this.#state.clear();
    for (const id of judged) {
      let st = this.#state.get(id);
      if (!st) this.#state.set(id, (st = { flagged: false, slowRounds: 0, inLineRounds: 0 }));
      if (slow.has(id)) {
        st.slowRounds++;
        st.inLineRounds = 0;
        if (st.slowRounds >= this.flagAfterRounds) st.flagged = true;
      } else {
        st.inLineRounds++;
        st.slowRounds = 0;
        if (st.inLineRounds >= this.clearAfterRounds) st.flagged = false;
      }
    }
    return this.flagged();
  }

  isFailSlow(endpointId: string): boolean {
    return this.#state.get(endpointId)?.flagged ?? false;
  }

  flagged(): Set<string> {
    const out = new Set<string>();
    for (const [id, st] of this.#state) if (st.flagged) out.add(id);
    return out;
  }

  forget(endpointId: string): void {
    this.#state.delete(endpointId);
  }
}
