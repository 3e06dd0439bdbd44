/** `xdbm nodes add FILE`: one node parsed alone, then checked against the running config. */
import { describe, expect, it } from 'vitest';
import { ErrorCode, isXdbmError } from '../../src/errors.js';
import { parseConfig, parseNodeYaml, validateNodeAgainst } from '../../src/config/load.js';
import { issuesOf } from '../../src/config/issues.js';
import { nodeToYaml } from '../../src/config/serialize.js';
import { BASE, posOf } from './helpers.js';

const NODE = `node_id: n4
address: 10.0.0.4
labels: { rack: r4 }
endpoints:
  - endpoint_id: e4
    type: nfs
    connection_string: nfs://10.0.0.4:/export/e4
  - endpoint_id: e4-local
    type: local
    connection_string: file:data/e4
`;

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('parseNodeYaml', () => {
  it('parses one node with the same defaults as the full config', () => {
    const n = parseNodeYaml(NODE, 'n4.yaml', { baseDir: '/srv/nodes' });
    expect(n.nodeId).toBe('n4');
    expect(n.endpoints[0]!.target).toEqual({ kind: 'nfs', host: '10.0.0.4', exportPath: '/export/e4', mountPoint: '/mnt/xdbm/e4' });
    expect(n.endpoints[1]!.target).toEqual({ kind: 'file', path: '/srv/nodes/data/e4' });
    expect(n.endpoints[1]!.labels).toEqual({ rack: 'r4' });
    expect(parseNodeYaml(nodeToYaml(n), 'again.yaml')).toEqual(n);
  });

  it('reports node errors with paths relative to the node and exact positions', () => {
    const t = NODE.replace('endpoint_id: e4-local', 'endpoint_id: e4').replace('type: nfs', 'type: nsf').replace('address: 10.0.0.4\n', '');
    const err = thrown(() => parseNodeYaml(t, 'n4.yaml'));
    expect(isXdbmError(err, ErrorCode.CONFIG_INVALID)).toBe(true);
    const issues = issuesOf(err);
    expect(issues.map((i) => i.path)).toEqual(['address', 'endpoints[0].type', 'endpoints[1].endpoint_id']);
    expect({ line: issues[0]!.line, column: issues[0]!.column }).toEqual({ line: 1, column: 1 });
    expect(issues[1]!.message).toContain("did you mean 'nfs'?");
    expect({ line: issues[2]!.line, column: issues[2]!.column }).toEqual(posOf(t, 'endpoint_id: e4', 'e4', 1));
  });

  it('rejects a list or an empty file', () => {
    expect(isXdbmError(thrown(() => parseNodeYaml('- node_id: x\n')), ErrorCode.CONFIG_INVALID)).toBe(true);
    expect(isXdbmError(thrown(() => parseNodeYaml('')), ErrorCode.CONFIG_INVALID)).toBe(true);
  });
});

describe('validateNodeAgainst', () => {
  const cfg = parseConfig(BASE);

  it('returns the config with the node added', () => {
    const next = validateNodeAgainst(cfg, parseNodeYaml(NODE, undefined, { baseDir: '/srv' }));
    expect(next.candidateNodes.map((n) => n.nodeId)).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(cfg.candidateNodes).toHaveLength(3);
  });

  it('duplicate node id and endpoint ids: XDBM_DUPLICATE_ID with every clash', () => {
    const dup = parseNodeYaml(NODE.replace('node_id: n4', 'node_id: n2').replace('endpoint_id: e4-local', 'endpoint_id: e1'));
    const err = thrown(() => validateNodeAgainst(cfg, dup));
    expect(isXdbmError(err, ErrorCode.DUPLICATE_ID)).toBe(true);
    expect(issuesOf(err).map((i) => i.path)).toEqual(['node_id', 'endpoints[1].endpoint_id']);
    expect(issuesOf(err)[1]!.message).toContain("already used by node 'n1'");
  });

  it('replacing a node may reuse its own ids', () => {
    const n2 = parseNodeYaml(NODE.replace('node_id: n4', 'node_id: n2').replace('endpoint_id: e4\n', 'endpoint_id: e2\n'));
    const next = validateNodeAgainst(cfg, n2, { replacing: 'n2' });
    expect(next.candidateNodes[1]!.endpoints.map((e) => e.endpointId)).toEqual(['e2', 'e4-local']);
    expect(isXdbmError(thrown(() => validateNodeAgainst(cfg, n2, { replacing: 'nope' })), ErrorCode.UNKNOWN_NODE)).toBe(true);
  });

  it('a node that breaks a whole-config rule (missing failure-domain label) is refused', () => {
    const racked = parseConfig(BASE.replace(/address: (10\.0\.0\.\d)\n/g, 'address: $1\n      labels: { rack: r-$1 }\n') + '  selection_policy:\n    failure_domain: rack\n');
    const unlabeled = parseNodeYaml(NODE.replace('labels: { rack: r4 }\n', ''));
    const err = thrown(() => validateNodeAgainst(racked, unlabeled));
    expect(isXdbmError(err, ErrorCode.CONFIG_INVALID)).toBe(true);
    expect(issuesOf(err)[0]!.message).toContain("has no label 'rack'");
  });
});
