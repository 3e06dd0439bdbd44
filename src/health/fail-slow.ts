/**
 * Fail-slow detection by peer comparison (after Perseus, FAST'23: a fail-slow drive is one much slower
 * than comparable drives, not one over a fixed limit).
 *
 * Rule (README text):
 *   Backends are compared only with peers of the same type (nvmeof with nvmeof, nfs with nfs, ...).
 *   A backend's peers are the other backends of its type whose state is HEALTHY or DEGRADED and whose
 *   latency is a positive number. A backend is *slow in a round* when
 *     - it has at least `minPeers` such peers, and
 *     - its latency exceeds `peerRatio` x the median latency of those peers, and
 *     - its latency exceeds `minLatencyUs` (so 40 us against 10 us never counts).
 *   The median excludes the backend itself, so one slow backend cannot drag its own yardstick up.
 *   FAILED, UNHEALTHY and UNKNOWN backends are never flagged (they already lost preference) and never
 *   serve as peers. With `enabled: false` nothing is flagged.
 *   Hysteresis (FailSlowTracker): a backend is flagged fail-slow after `flagAfterRounds` consecutive
 *   slow rounds (default 3) and cleared after `clearAfterRounds` consecutive rounds back in line
 *   (default 3); a round where it cannot be judged (too few peers, not probed) keeps its flag as is.
 */
import type { FailSlowConfig } from '../config/types.js';

export interface FailSlowPeer {
  endpointId: string;
  type: string;
  latencyUs: number;
  state: string;
}

const PEER_STATES = new Set(['HEALTHY', 'DEGRADED']);

function median(sortedValues: number[]): number {
  const n = sortedValues.length;
  const mid = n >> 1;
  return n % 2 === 1 ? sortedValues[mid]! : (sortedValues[mid - 1]! + sortedValues[mid]!) / 2;
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

/** One round of the rule, also saying which backends could be judged at all. */
export function judgeFailSlow(peers: readonly FailSlowPeer[], cfg: FailSlowConfig): FailSlowVerdict {
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
      const others = list.filter((p) => p !== me).map((p) => p.latencyUs).sort((a, b) => a - b);
      judged.add(me.endpointId);
      if (me.latencyUs > cfg.peerRatio * median(others) && me.latencyUs > cfg.minLatencyUs) {
        slow.add(me.endpointId);
      }
    }
  }
  return { slow, judged };
}

/** The endpoints that are slow against their peers in this one round (no hysteresis). */
export function detectFailSlow(peers: readonly FailSlowPeer[], cfg: FailSlowConfig): Set<string> {
  return judgeFailSlow(peers, cfg).slow;
}

export interface FailSlowTrackerOptions {
  /** Consecutive slow rounds before a backend is flagged (default 3). */
  flagAfterRounds?: number;
  /** Consecutive in-line rounds before the flag clears (default 3). */
  clearAfterRounds?: number;
}

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
    this.flagAfterRounds = Math.max(1, opts.flagAfterRounds ?? 3);
    this.clearAfterRounds = Math.max(1, opts.clearAfterRounds ?? 3);
  }

  /** Feeds one round; returns the endpoints flagged fail-slow after it. */
  update(peers: readonly FailSlowPeer[], cfg: FailSlowConfig): Set<string> {
    const { slow, judged } = judgeFailSlow(peers, cfg);
    const present = new Set(peers.map((p) => p.endpointId));
    for (const id of this.#state.keys()) if (!present.has(id)) this.#state.delete(id);
    if (!cfg.enabled) this.#state.clear();
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
