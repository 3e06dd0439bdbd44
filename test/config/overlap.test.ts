/**
 * Two endpoints on one storage are refused at validation, naming both: the same directory, nested
 * directories, the same block device (through a link), the same NVMe subsystem and namespace.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ErrorCode, type XdbmError } from '../../src/errors.js';

function config(eps: Array<{ node: string; address: string; cs: string; type?: string }>): string {
  const lines = ['dynamic_backend_manager:', '  target_active_backends: 1', '  candidate_nodes:'];
  eps.forEach((e, i) => lines.push(
    `    - node_id: ${e.node}-${i}`, `      address: ${e.address}`, '      endpoints:',
    `        - endpoint_id: e${i}`, `          type: ${e.type ?? 'local'}`, `          connection_string: "${e.cs}"`));
  return lines.join('\n') + '\n';
}

function issues(text: string): string[] {
  try {
    parseConfig(text, 'x.yaml');
    return [];
  } catch (e) {
    return ((e as XdbmError).details!['issues'] as Array<{ message: string; code?: string }>).map((i) => `${i.code ?? ''} ${i.message}`);
  }
}

describe('overlapping endpoints', () => {
  it.each([
    ['same directory, trailing slash', 'file:///srv/x', 'file:///srv/x/'],
    ['nested directory', 'file:///srv/x', 'file:///srv/x/y'],
    ['parent after child', 'file:///srv/x/y/z', 'file:///srv/x'],
  ])('%s on one machine is refused naming both', (_name, a, b) => {
    const found = issues(config([{ node: 'n', address: '10.0.0.1', cs: a }, { node: 'm', address: '10.0.0.1', cs: b }]));
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(ErrorCode.DUPLICATE_ID);
    expect(found[0]).toContain(`'${b}'`);
    expect(found[0]).toContain(`'${a}'`);
  });

  it('the same path on two machines (two addresses) is fine, as in the seed sample', () => {
    expect(issues(config([{ node: 'n', address: '10.0.0.1', cs: 'file:///srv/x' }, { node: 'm', address: '10.0.0.2', cs: 'file:///srv/x/y' }]))).toEqual([]);
  });

  it('siblings with a common prefix are not nested', () => {
    expect(issues(config([{ node: 'n', address: '10.0.0.1', cs: 'file:///srv/x' }, { node: 'm', address: '10.0.0.1', cs: 'file:///srv/xy' }]))).toEqual([]);
  });

  it('the same block device twice on one machine is refused', () => {
    const found = issues(config([{ node: 'n', address: '10.0.0.1', cs: 'block:///dev/sdb', type: 'block' }, { node: 'm', address: '10.0.0.1', cs: 'block:///dev/sdb', type: 'block' }]));
    expect(found.join('\n')).toContain('same storage');
  });

  it('one NVMe subsystem and namespace through two portals is refused', () => {
    const nqn = 'nqn.2024-01.io.example:wal';
    const found = issues(config([
      { node: 'n', address: '10.0.0.1', cs: `nvme://10.0.0.1:4420/${nqn}/1`, type: 'nvmeof' },
      { node: 'm', address: '10.0.0.2', cs: `nvme://10.0.0.2:4421/${nqn}/1`, type: 'nvmeof' },
    ]));
    expect(found.join('\n')).toContain('same storage');
    expect(issues(config([
      { node: 'n', address: '10.0.0.1', cs: `nvme://10.0.0.1:4420/${nqn}/1`, type: 'nvmeof' },
      { node: 'm', address: '10.0.0.2', cs: `nvme://10.0.0.2:4420/${nqn}/2`, type: 'nvmeof' },
    ]))).toEqual([]);
  });
});
