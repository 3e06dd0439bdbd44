/**
 * Failure domains: the actives must never share one (Ceph CRUSH host rule, BookKeeper rack-aware
 * placement). failureDomain 'node' means the node id; any other value names a label (rack, zone, ...).
 * A candidate without that label falls back to its own node as its domain, so it never shares a
 * domain with another node by accident.
 */
import type { CandidateView } from './types.js';

export const NODE_DOMAIN = 'node';

export function domainOf(c: Pick<CandidateView, 'nodeId' | 'labels'>, failureDomain: string): string {
  if (failureDomain === NODE_DOMAIN) return c.nodeId;
  const v = c.labels[failureDomain];
  return v !== undefined && v !== '' ? `${failureDomain}=${v}` : `node=${c.nodeId}`;
}
