/** Connection-string parsing on its own (the config layer reports these as issues; here they throw). */
import { describe, expect, it } from 'vitest';
import { ErrorCode, isXdbmError } from '../../src/errors.js';
import { connectionTarget, parseConnectionString } from '../../src/config/connection-string.js';
import { checkPath } from '../../src/config/paths.js';

describe('connection strings', () => {
  it('nvme: seed form with a plain subsystem name, default nsid 1', () => {
    expect(connectionTarget('nvme://192.168.1.101:4420/namespace1')).toEqual({ kind: 'nvme', host: '192.168.1.101', port: 4420, subsysnqn: 'namespace1', nsid: 1 });
  });

  it('nvme: full NQN with colons, explicit nsid, IPv6 host, default port', () => {
    expect(connectionTarget('nvme://[fd00::1]:4421/nqn.2014-08.org.nvmexpress:uuid:1b4e28ba/7'))
      .toEqual({ kind: 'nvme', host: 'fd00::1', port: 4421, subsysnqn: 'nqn.2014-08.org.nvmexpress:uuid:1b4e28ba', nsid: 7 });
    expect(connectionTarget('nvme://target.example/nqn.x')).toMatchObject({ host: 'target.example', port: 4420 });
  });

  it('nvme: an unbracketed IPv6 address is refused with the fix', () => {
    const r = parseConnectionString('nvme://fd00::1:4420/nqn.x');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toContain('brackets');
  });

  it('nfs: host and absolute export, mount point passed through', () => {
    expect(connectionTarget('nfs://filer-1:/export/xdevice/', { mountPoint: '/mnt/a' }))
      .toEqual({ kind: 'nfs', host: 'filer-1', exportPath: '/export/xdevice', mountPoint: '/mnt/a' });
  });

  it('file: absolute, localhost, and relative (resolved against baseDir)', () => {
    expect(connectionTarget('file:///srv//x/')).toEqual({ kind: 'file', path: '/srv/x' });
    expect(connectionTarget('file://localhost/srv/x')).toEqual({ kind: 'file', path: '/srv/x' });
    expect(connectionTarget('file:../data/n1', { baseDir: '/opt/xdbm/config' })).toEqual({ kind: 'file', path: '/opt/xdbm/data/n1' });
    const r = parseConnectionString('file:data/a', { baseDir: '/srv/xdbm' });
    expect(r.ok && r.canonical).toBe('file:///srv/xdbm/data/a');
  });

  it('block: under /dev only', () => {
    expect(connectionTarget('block:///dev/loop0')).toEqual({ kind: 'block', devicePath: '/dev/loop0' });
    expect(parseConnectionString('block:///dev/').ok).toBe(false);
  });

  it('type mismatch and malformed strings throw XDBM_BAD_CONNECTION_STRING', () => {
    for (const [s, type] of [['nvme://h:4420/n', 'nfs'], ['nfs://h/x', undefined], ['file://h/x', undefined], ['zz', undefined], [' file:///x', undefined]] as const) {
      let err: unknown;
      try {
        connectionTarget(s, { type });
      } catch (e) {
        err = e;
      }
      expect(isXdbmError(err, ErrorCode.BAD_CONNECTION_STRING), s).toBe(true);
    }
  });
});

describe('path rules', () => {
  it('absolute, normalised, no NUL, no .. in absolute paths; relative resolved when allowed', () => {
    expect(checkPath('/a//b/')).toEqual({ ok: true, path: '/a/b' });
    expect(checkPath('/a/../b').ok).toBe(false);
    expect(checkPath('/a\0b').ok).toBe(false);
    expect(checkPath('a/b').ok).toBe(false);
    expect(checkPath('../x', { allowRelative: true, baseDir: '/p/q' })).toEqual({ ok: true, path: '/p/x' });
    expect(checkPath('/dev/sda', { under: '/dev' })).toEqual({ ok: true, path: '/dev/sda' });
    expect(checkPath('/devx/sda', { under: '/dev' }).ok).toBe(false);
  });
});
