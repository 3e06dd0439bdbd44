import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { create as createLocal } from '../../src/backends/local.js';
import { create as createNfs, checkNfsMount } from '../../src/backends/nfs.js';
import { findMount, parseMountInfo } from '../../src/backends/mountinfo.js';
import { withIoTimeout } from '../../src/backends/io-timeout.js';
import { localEndpoint, tempRoot } from './helpers.js';
import { sleep } from '../support/until.js';

const roots: Array<() => void> = [];
afterAll(() => roots.forEach((c) => c()));
function root(name: string): string {
  const t = tempRoot(name);
  roots.push(t.cleanup);
  return t.dir;
}

describe('local backend on a real directory', () => {
  it('init creates the root and the probe area; write/read/sync/delete work', async () => {
    const dir = join(root('local'), 'nested', 'data');
    const b = createLocal(localEndpoint('l1', dir));
    await b.init();
    await b.init(); // idempotent
    expect(existsSync(join(dir, '.xdbm-probe'))).toBe(true);
    await b.write('seg-1', 0, Buffer.from('hello'));
    await b.write('seg-1', 5, Buffer.from(' world'));
    await b.sync('seg-1');
    await b.sync();
    expect(readFileSync(join(dir, 'seg-1'), 'utf8')).toBe('hello world');
    expect((await b.read('seg-1', 6, 5)).toString()).toBe('world');
    await b.delete('seg-1');
    await b.delete('seg-1'); // missing is fine
    expect(existsSync(join(dir, 'seg-1'))).toBe(false);
    expect(b.probeTarget()).toEqual({ kind: 'dir', endpointId: 'l1', type: 'local', dir: join(dir, '.xdbm-probe'), direct: true });
    await b.close();
    await b.close();
  });

  it('keeps probe names in the probe area, never beside data', async () => {
    const dir = root('probe');
    const b = createLocal(localEndpoint('l2', dir));
    await b.init();
    await b.write('_health_check_', 0, Buffer.from('x'));
    expect(existsSync(join(dir, '.xdbm-probe', '_health_check_'))).toBe(true);
    expect(existsSync(join(dir, '_health_check_'))).toBe(false);
  });

  it.each(['a/b', '..', '../x', '', 'x\0y', '.'])('rejects the name %j with XDBM_INVALID_ARGUMENT', async (name) => {
    const b = createLocal(localEndpoint('l3', root('names')));
    await b.init();
    await expect(b.write(name, 0, Buffer.from('x'))).rejects.toMatchObject({ code: 'XDBM_INVALID_ARGUMENT' });
  });

  it('a read past the end of file is an error', async () => {
    const b = createLocal(localEndpoint('l4', root('eof')));
    await b.init();
    await b.write('f', 0, Buffer.from('abc'));
    await expect(b.read('f', 0, 10)).rejects.toMatchObject({ code: 'XDBM_IO_ERROR' });
    await expect(b.read('missing', 0, 1)).rejects.toMatchObject({ code: 'XDBM_IO_ERROR', syscallCode: 'ENOENT' });
  });

  it('I/O after close fails with XDBM_CLOSED; init after close reopens', async () => {
    const b = createLocal(localEndpoint('l5', root('closed')));
    await b.init();
    await b.close();
    await expect(b.write('f', 0, Buffer.from('x'))).rejects.toMatchObject({ code: 'XDBM_CLOSED' });
    await b.init();
    await b.write('f', 0, Buffer.from('x'));
  });

  it('a root that is a file does not initialise (XDBM_IO_ERROR with the OS code)', async () => {
    const dir = root('file');
    const path = join(dir, 'not-a-dir');
    writeFileSync(path, 'x');
    const b = createLocal(localEndpoint('l6', path));
    await expect(b.init()).rejects.toMatchObject({ code: 'XDBM_IO_ERROR' });
  });

  it('a removed root makes writes fail', async () => {
    const dir = root('removed');
    const b = createLocal(localEndpoint('l7', join(dir, 'd')));
    await b.init();
    rmSync(join(dir, 'd'), { recursive: true });
    await expect(b.write('_health_check_', 0, Buffer.from('x'))).rejects.toMatchObject({ code: 'XDBM_IO_ERROR', syscallCode: 'ENOENT' });
  });
});

describe('nfs backend', () => {
  const sample = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
    '40 22 0:35 / /mnt/nfs\\040a rw,relatime shared:20 - nfs4 10.0.0.5:/export/xdbm rw,vers=4.2,soft,timeo=10',
    '41 22 0:36 / /mnt/tmp rw - tmpfs tmpfs rw,size=256k',
    '42 22 0:37 / /mnt/odd rw - nfs weird rw',
  ].join('\n');

  it('parses mountinfo, unescaping octal', () => {
    const m = parseMountInfo(sample);
    expect(m).toHaveLength(4);
    expect(findMount(m, '/mnt/nfs a')).toMatchObject({ fsType: 'nfs4', source: '10.0.0.5:/export/xdbm' });
  });

  it('accepts an nfs/nfs4 mount with a host:/export source, refuses the rest with XDBM_NOT_MOUNTED', () => {
    const m = parseMountInfo(sample);
    expect(checkNfsMount(findMount(m, '/mnt/nfs a'), '/mnt/nfs a').source).toBe('10.0.0.5:/export/xdbm');
    for (const mp of ['/mnt/tmp', '/mnt/odd', '/mnt/none']) {
      expect(() => checkNfsMount(findMount(m, mp), mp)).toThrow(expect.objectContaining({ code: 'XDBM_NOT_MOUNTED' }));
    }
  });

  it('init on a plain directory fails with XDBM_NOT_MOUNTED and writes nothing there', async () => {
    const dir = root('nfs');
    const b = createNfs({
      ...localEndpoint('nfs1', dir), type: 'nfs', connectionString: 'nfs://127.0.0.1:/export',
      target: { kind: 'nfs', host: '127.0.0.1', exportPath: '/export', mountPoint: dir },
    });
    await expect(b.init()).rejects.toMatchObject({ code: 'XDBM_NOT_MOUNTED' });
    expect(existsSync(join(dir, '.xdbm-probe'))).toBe(false);
    expect(b.probeTarget()).toMatchObject({ kind: 'dir', direct: false, dir: join(dir, '.xdbm-probe') });
  });

  it('an operation that never answers becomes XDBM_IO_TIMEOUT', async () => {
    const never = new Promise<void>(() => undefined);
    await expect(withIoTimeout(never, 30, 'stat /mnt/hung')).rejects.toMatchObject({ code: 'XDBM_IO_TIMEOUT' });
    await expect(withIoTimeout(Promise.resolve(7), 30, 'fast')).resolves.toBe(7);
  });
});

describe('mkdir of a nested root', () => {
  it('creates missing parents for local roots', async () => {
    const dir = root('mk');
    mkdirSync(join(dir, 'p'));
    const b = createLocal(localEndpoint('l8', join(dir, 'p', 'q', 'r')));
    await b.init();
    expect(existsSync(join(dir, 'p', 'q', 'r', '.xdbm-probe'))).toBe(true);
  });

  it('a root under /proc fails with the kernel error instead of spinning (Node 20 recursive mkdir loops there)', async () => {
    const b = createLocal(localEndpoint('l9', '/proc/xdbm-no-such-dir/data'));
    await expect(b.init()).rejects.toMatchObject({ code: 'XDBM_IO_ERROR', syscallCode: 'ENOENT' });
  });
});

describe('a really hung file operation', () => {
  it('becomes XDBM_IO_TIMEOUT at ioTimeoutMs (open of a FIFO with no reader blocks in the kernel)', async () => {
    const { execFileSync } = await import('node:child_process');
    const { openSync, closeSync, constants } = await import('node:fs');
    const dir = root('fifo');
    const b = createLocal(localEndpoint('hung', dir, { ioTimeoutMs: 100 }));
    await b.init();
    const fifo = join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    await expect(b.write('pipe', 0, Buffer.from('x'))).rejects.toMatchObject({ code: 'XDBM_IO_TIMEOUT' });
    // Release the libuv thread still blocked in open(2): give the FIFO a reader.
    const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    await sleep(50); // cleanup only: time for the blocked open(2) to see the reader before it goes
    closeSync(fd);
  });
});
