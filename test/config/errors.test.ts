/** Each kind of configuration mistake: reported with its path, exact line:column and a fix. */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { parseConfig } from '../../src/config/load.js';
import { BASE, P, edit, issueAt, issuesFor, onlyIssue, posOf, withSection } from './helpers.js';

const N0E0 = `${P}.candidate_nodes[0].endpoints[0]`;

describe('config errors: structure', () => {
  it('accepts the base fixture (so every failure below comes from its one edit)', () => {
    expect(parseConfig(BASE).candidateNodes).toHaveLength(3);
  });

  it('unknown key: reported at the key with a did-you-mean and the valid keys', () => {
    const t = withSection('  failover:\n    failure_treshold: 3\n');
    const i = onlyIssue(t, `${P}.failover.failure_treshold`, posOf(t, 'failure_treshold'));
    expect(i.message).toContain("did you mean 'failure_threshold'?");
    expect(i.message).toContain('recovery_threshold');
  });

  it('unknown top-level key and misspelt root key', () => {
    const t = BASE.replace('dynamic_backend_manager:', 'dynamic_backend_manger:');
    const issues = issuesFor(t);
    const unknown = issueAt(issues, 'dynamic_backend_manger');
    expect(unknown.message).toContain("did you mean 'dynamic_backend_manager'?");
    expect({ line: unknown.line, column: unknown.column }).toEqual({ line: 1, column: 1 });
    issueAt(issues, P); // and the missing root key
    expect(issues).toHaveLength(2);
  });

  it('top-level x- keys are ignored (anchors live there)', () => {
    const t = `x-local: &local\n  type: local\n  weight: 0.5\n` + edit('          type: local\n          connection_string: file:///srv/e1', '          <<: *local\n          connection_string: file:///srv/e1');
    const cfg = parseConfig(t);
    expect(cfg.candidateNodes[0]!.endpoints[0]!.weight).toBe(0.5);
    expect(cfg.candidateNodes[0]!.endpoints[0]!.type).toBe('local');
  });

  it('wrong type: a quoted number, reported at the value, suggesting to drop the quotes', () => {
    const t = edit('  target_active_backends: 3', '  target_active_backends: "3"');
    const i = onlyIssue(t, `${P}.target_active_backends`, posOf(t, 'target_active_backends', '"3"'));
    expect(i.message).toContain('remove the quotes');
  });

  it('wrong type: a list where a mapping belongs, reported at its key', () => {
    const t = withSection('  failover: [1, 2]\n');
    const i = onlyIssue(t, `${P}.failover`, posOf(t, 'failover:', 'failover'));
    expect(i.message).toMatch(/must be a mapping/);
  });

  it('missing required key in a list item: reported at the item', () => {
    const t = edit('          connection_string: file:///srv/e2\n', '');
    const i = onlyIssue(t, `${P}.candidate_nodes[1].endpoints[0].connection_string`, posOf(t, 'endpoint_id: e2'));
    expect(i.message).toContain("missing required key 'connection_string'");
    expect(i.message).toContain('file:///absolute/path');
  });

  it('missing candidate_nodes: reported at the parent key', () => {
    const t = 'dynamic_backend_manager:\n  target_active_backends: 1\n';
    const i = issueAt(issuesFor(t), `${P}.candidate_nodes`);
    expect({ line: i.line, column: i.column }).toEqual({ line: 1, column: 1 });
  });

  it('missing node_id and address in one node: both reported', () => {
    const t = edit('    - node_id: n2\n      address: 10.0.0.2\n', '    - endpoints:\n').replace('      endpoints:\n        - endpoint_id: e2', '        - endpoint_id: e2');
    const issues = issuesFor(t);
    const at = posOf(t, '    - endpoints:', 'endpoints');
    for (const k of ['node_id', 'address']) {
      const i = issueAt(issues, `${P}.candidate_nodes[1].${k}`);
      expect({ line: i.line, column: i.column }).toEqual(at);
    }
  });

  it('duplicate node ids: the second one, naming where the first is', () => {
    const t = edit('    - node_id: n2', '    - node_id: n1');
    const i = onlyIssue(t, `${P}.candidate_nodes[1].node_id`, posOf(t, 'node_id: n1', 'n1', 1));
    expect(i.code).toBe(ErrorCode.DUPLICATE_ID);
    expect(i.message).toContain(`${P}.candidate_nodes[0].node_id (line 4)`);
  });

  it('duplicate endpoint ids across nodes', () => {
    const t = edit('        - endpoint_id: e3', '        - endpoint_id: e1');
    const i = onlyIssue(t, `${P}.candidate_nodes[2].endpoints[0].endpoint_id`, posOf(t, 'endpoint_id: e1', 'e1', 1));
    expect(i.code).toBe(ErrorCode.DUPLICATE_ID);
    expect(i.message).toContain('unique across all nodes');
  });

  it('two endpoints of one node on the same directory', () => {
    const t = edit('          connection_string: file:///srv/e1\n',
      '          connection_string: file:///srv/e1\n        - endpoint_id: e1b\n          type: local\n          connection_string: file:///srv//e1/\n');
    const i = onlyIssue(t, `${N0E0.replace('[0]', '[0]').replace(/endpoints\[0\]$/, 'endpoints[1]')}.connection_string`, posOf(t, 'file:///srv//e1/', 'file'));
    expect(i.message).toContain('same storage');
  });

  it('YAML syntax error: position of the error, nothing else', () => {
    const t = edit('      address: 10.0.0.2', '      address: [10.0.0.2');
    const issues = issuesFor(t);
    expect(issues.length).toBeGreaterThanOrEqual(1);
    expect(issues[0]!.message).toMatch(/YAML syntax error/);
    expect(issues[0]!.line).toBeGreaterThanOrEqual(posOf(t, '[10.0.0.2').line);
  });

  it('empty file: one issue at 1:1 saying what the file must hold', () => {
    const issues = issuesFor('# nothing here\n');
    expect(issues).toEqual([{ path: '', line: 1, column: 1, message: "the configuration must be a mapping with the key 'dynamic_backend_manager', got nothing" }]);
  });

  it('duplicate key in one mapping', () => {
    const t = edit('  target_active_backends: 3', '  target_active_backends: 3\n  target_active_backends: 2');
    const issues = issuesFor(t);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.message).toContain('duplicate key');
    expect(issues[0]!.line).toBe(3);
  });
});

describe('config errors: endpoints', () => {
  it('endpoint weight above 1', () => {
    const t = edit('          connection_string: file:///srv/e1\n', '          connection_string: file:///srv/e1\n          weight: 1.5\n');
    const i = onlyIssue(t, `${N0E0}.weight`, posOf(t, 'weight: 1.5', '1.5'));
    expect(i.message).toContain('at most 1');
  });

  it('endpoint weight below 0', () => {
    const t = edit('          connection_string: file:///srv/e3\n', '          connection_string: file:///srv/e3\n          weight: -0.1\n');
    onlyIssue(t, `${P}.candidate_nodes[2].endpoints[0].weight`, posOf(t, 'weight: -0.1', '-0.1'));
  });

  it('unknown endpoint type lists the valid ones with a did-you-mean', () => {
    const t = edit('          type: local\n          connection_string: file:///srv/e2', '          type: nvme\n          connection_string: file:///srv/e2');
    const i = onlyIssue(t, `${P}.candidate_nodes[1].endpoints[0].type`, posOf(t, 'type: nvme', 'nvme'));
    expect(i.message).toContain('nvmeof, nfs, local, block');
  });

  it('connection scheme that does not match the type', () => {
    const t = edit('connection_string: file:///srv/e1', 'connection_string: nfs://10.0.0.1:/export/e1');
    const i = onlyIssue(t, `${N0E0}.connection_string`, posOf(t, 'nfs://10.0.0.1', 'nfs://'));
    expect(i.code).toBe(ErrorCode.BAD_CONNECTION_STRING);
    expect(i.message).toContain("does not match type 'local'");
  });

  const badStrings: [string, string, string, RegExp][] = [
    ['nvmeof', 'nvme://10.0.0.9:0/nqn.a', 'port 0', /port '0' must be an integer from 1 to 65535/],
    ['nvmeof', 'nvme://10.0.0.9:65536/nqn.a', 'port 65536', /65535/],
    ['nvmeof', 'nvme://10.0.0.9:4420/', 'empty NQN', /empty subsystem NQN/],
    ['nvmeof', 'nvme://10.0.0.9:4420/nqn.a/0', 'nsid 0', /namespace id '0' must be a positive integer/],
    ['nvmeof', 'nvme://10.0.0.9:4420/nqn.a/x', 'nsid not a number', /namespace id 'x'/],
    ['nvmeof', 'nvme://10.0.0.9:4420/a/b/1', 'NQN with a slash', /must not contain '\/'/],
    ['nvmeof', 'nvme://10.0.0.9:4420', 'no NQN', /no subsystem NQN/],
    ['nfs', 'nfs://10.0.0.9:export', 'relative export', /must be an absolute path/],
    ['nfs', 'nfs://10.0.0.9/export', 'no colon', /no ':' between host and export/],
    ['nfs', 'nfs://10.0.0.9:/a/../b', 'dot-dot in export', /'\.\.' segment/],
    ['local', 'file://server/srv/x', 'file URL with a host', /names no host/],
    ['local', 'file:///srv/../etc', 'dot-dot in absolute path', /'\.\.' segment/],
    ['block', 'block:///etc/passwd', 'device outside /dev', /under \/dev\//],
    ['block', 'block:///dev/../etc/passwd', 'escape from /dev', /'\.\.' segment/],
    ['block', 'block://dev/sdb', 'two slashes', /three slashes/],
    ['local', 'http://x/y', 'unknown scheme', /unknown connection scheme 'http:'/],
  ];
  for (const [type, cs, what, re] of badStrings) {
    it(`malformed connection string (${what}): ${cs}`, () => {
      const t = edit('          type: local\n          connection_string: file:///srv/e2', `          type: ${type}\n          connection_string: "${cs}"`);
      const i = onlyIssue(t, `${P}.candidate_nodes[1].endpoints[0].connection_string`, posOf(t, cs, `"${cs}"`));
      expect(i.code).toBe(ErrorCode.BAD_CONNECTION_STRING);
      expect(i.message).toMatch(re);
    });
  }

  it('NUL byte in a path', () => {
    const t = edit('connection_string: file:///srv/e2', 'connection_string: "file:///srv/e\\0x"');
    const i = onlyIssue(t, `${P}.candidate_nodes[1].endpoints[0].connection_string`, posOf(t, 'file:///srv/e\\0x', '"file'));
    expect(i.message).toContain('NUL');
  });

  it('relative mount_point, and mount_point on a non-nfs endpoint', () => {
    const t = edit('          type: local\n          connection_string: file:///srv/e2',
      '          type: nfs\n          connection_string: nfs://10.0.0.2:/x\n          mount_point: mnt/x')
      .replace('          connection_string: file:///srv/e3', '          connection_string: file:///srv/e3\n          mount_point: /mnt/e3');
    const issues = issuesFor(t);
    expect(issues).toHaveLength(2);
    const rel = issueAt(issues, `${P}.candidate_nodes[1].endpoints[0].mount_point`);
    expect({ line: rel.line, column: rel.column }).toEqual(posOf(t, 'mount_point: mnt/x', 'mnt/x'));
    expect(rel.message).toContain('not absolute');
    const wrong = issueAt(issues, `${P}.candidate_nodes[2].endpoints[0].mount_point`);
    expect(wrong.message).toContain('nfs endpoints only');
  });

  it('nvme options: out of order timeouts and a bad hostnqn', () => {
    const t = edit('          type: local\n          connection_string: file:///srv/e2',
      '          type: nvmeof\n          connection_string: nvme://10.0.0.2:4420/nqn.a\n          nvme: { ctrl_loss_tmo_s: 5, reconnect_delay_s: 6, hostnqn: host1 }');
    const issues = issuesFor(t);
    expect(issues).toHaveLength(2);
    const r = issueAt(issues, `${P}.candidate_nodes[1].endpoints[0].nvme.reconnect_delay_s`);
    expect({ line: r.line, column: r.column }).toEqual(posOf(t, 'nvme: {', '6'));
    issueAt(issues, `${P}.candidate_nodes[1].endpoints[0].nvme.hostnqn`);
  });
});
