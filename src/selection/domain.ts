/**
 * Failure domains: the actives must never share one (Ceph CRUSH host rule, BookKeeper rack-aware
 * placement). failureDomain 'node' means the node id; any other value names a label (rack, zone, ...).
 * The domain is the label's value (as the config module's failureDomainOf reports it). A candidate
 * without that label (the config validator normally refuses one) falls back to `node:<node id>`, its
 * own domain, so it never shares one with another node by accident.
 */
import type { CandidateView } from './types.js';

export const NODE_DOMAIN = 'node';

export function domainOf(c: Pick<CandidateView, 'nodeId' | 'labels'>, failureDomain: string): string {
  if (failureDomain === NODE_DOMAIN) return c.nodeId;
  const v = c.labels[failureDomain];
  return v !== undefined && v !== '' ? v : `node:${c.nodeId}`;
}
