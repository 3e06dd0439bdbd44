/** Failure domains: actives must sit in distinct ones (node by default, or a label such as rack). */
import type { EndpointConfig, NodeConfig, SelectionConfig } from './types.js';

/** Domain of an endpoint: its node id when failureDomain is 'node', else the value of that label (undefined when unlabeled). */
export function failureDomainOf(selection: Pick<SelectionConfig, 'failureDomain'>, nodeId: string, endpoint: Pick<EndpointConfig, 'labels'>): string | undefined {
  if (selection.failureDomain === 'node') return nodeId;
  return endpoint.labels[selection.failureDomain];
}

/** Distinct failure domains over all candidate endpoints (unlabeled endpoints are left out). */
export function distinctDomains(selection: Pick<SelectionConfig, 'failureDomain'>, nodes: readonly NodeConfig[]): Set<string> {
  const out = new Set<string>();
  for (const n of nodes) {
    for (const e of n.endpoints) {
      const d = failureDomainOf(selection, n.nodeId, e);
      if (d !== undefined) out.add(d);
    }
  }
  return out;
}
