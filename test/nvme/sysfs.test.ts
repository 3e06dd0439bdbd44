/**
 * sysfs reading on fixture trees shaped like Linux 6.1's /sys/class/nvme (this host's kernel has
 * no NVMe; the same code runs against the real tree in test/nvme/nvmeof-target.test.ts).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { matchController } from '../../src/nvme/fabrics.js';
import { readHealth } from '../../src/nvme/health.js';
import {
  findNamespaceDevice, listControllers, listNamespaces, parseAddress, readAnaState, readControllerState, type SysRoots,
} from '../../src/nvme/sysfs.js';
import { requires } from '../support/requires.js';

/** Debian libnvme1: without it these skip, naming the package (see test/support/requires.ts). */
const libnvme = requires('libnvme1');

let dir: string;
let roots: SysRoots;

function ctrl(name: string, attrs: Record<string, string>, ns: Record<string, Record<string, string>> = {}): void {
  const d = path.join(roots.classNvme, name);
  mkdirSync(d, { recursive: true });
  for (const [k, v] of Object.entries(attrs)) writeFileSync(path.join(d, k), `${v}\n`);
  for (const [entry, a] of Object.entries(ns)) {
    mkdirSync(path.join(d, entry));
    for (const [k, v] of Object.entries(a)) writeFileSync(path.join(d, entry, k), `${v}\n`);
  }
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'xdbm-sysfs-'));
  roots = { classNvme: path.join(dir, 'class-nvme'), dev: path.join(dir, 'dev') };
  mkdirSync(roots.dev);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('controllers', () => {
  it('no /sys/class/nvme means no controllers', async () => {
    expect(await listControllers(roots)).toEqual([]);
    expect(await readControllerState('nvme0', roots)).toBeNull();
  });

  it('lists controllers with parsed address, sorted numerically', async () => {
    ctrl('nvme10', { state: 'connecting', transport: 'tcp', address: 'traddr=10.99.2.2,trsvcid=4420,src_addr=10.99.2.1', subsysnqn: 'nqn.b' });
    ctrl('nvme2', { state: 'live', transport: 'tcp', address: 'traddr=10.99.1.2,trsvcid=4420', subsysnqn: 'nqn.a' });
    const list = await listControllers(roots);
    expect(list.map((c) => [c.name, c.state, c.traddr, c.trsvcid, c.subsysnqn])).toEqual([
      ['nvme2', 'live', '10.99.1.2', '4420', 'nqn.a'],
      ['nvme10', 'connecting', '10.99.2.2', '4420', 'nqn.b'],
    ]);
  });

  it('connect reuse matches transport, nqn, address and port, never a deleting controller', async () => {
    ctrl('nvme0', { state: 'deleting', transport: 'tcp', address: 'traddr=10.0.0.1,trsvcid=4420', subsysnqn: 'nqn.x' });
    ctrl('nvme1', { state: 'live', transport: 'tcp', address: 'traddr=10.0.0.2,trsvcid=4420', subsysnqn: 'nqn.x' });
    ctrl('nvme2', { state: 'resetting', transport: 'tcp', address: 'traddr=10.0.0.1,trsvcid=4420', subsysnqn: 'nqn.x' });
    const list = await listControllers(roots);
    const o = { host: '10.0.0.1', port: 4420, subsysnqn: 'nqn.x', ctrlLossTmoS: 5, reconnectDelayS: 1, fastIoFailTmoS: 2 };
    expect(matchController(list, o)?.name).toBe('nvme2');
    expect(matchController(list, { ...o, port: 4421 })).toBeUndefined();
    expect(matchController(list, { ...o, subsysnqn: 'nqn.y' })).toBeUndefined();
  });

  it('parseAddress splits key=value pairs', () => {
    expect(parseAddress('traddr=::1,trsvcid=4420\n')).toEqual({ traddr: '::1', trsvcid: '4420' });
  });
});

describe('namespaces', () => {
  it('a multipath path nvme0c3n1 maps to head /dev/nvme0n1 by its nsid attribute', async () => {
    ctrl('nvme3', { state: 'live' }, {
      nvme0c3n1: { nsid: '1', ana_state: 'optimized' },
      nvme0c3n2: { nsid: '7', ana_state: 'inaccessible' },
    });
    writeFileSync(path.join(roots.dev, 'nvme0n1'), '');
    const ns = await listNamespaces('nvme3', roots);
    expect(ns).toEqual([
      { entry: 'nvme0c3n1', nsid: 1, blockDevice: path.join(roots.dev, 'nvme0n1'), anaState: 'optimized' },
      { entry: 'nvme0c3n2', nsid: 7, blockDevice: path.join(roots.dev, 'nvme0n2'), anaState: 'inaccessible' },
    ]);
    expect(await findNamespaceDevice('nvme3', 1, { roots, timeoutMs: 100 })).toBe(path.join(roots.dev, 'nvme0n1'));
    expect(await readAnaState('nvme3', 7, roots)).toBe('inaccessible');
  });

  it('without multipath the namespace entry is the block device', async () => {
    ctrl('nvme1', { state: 'live' }, { nvme1n1: { nsid: '1' } });
    writeFileSync(path.join(roots.dev, 'nvme1n1'), '');
    expect(await findNamespaceDevice('nvme1', 1, { roots, timeoutMs: 100 })).toBe(path.join(roots.dev, 'nvme1n1'));
    expect(await readAnaState('nvme1', 1, roots)).toBeNull();
  });

  it('waits for the device node to appear', async () => {
    ctrl('nvme0', { state: 'live' }, { nvme0c0n1: { nsid: '1' } });
    const t0 = Date.now();
    setTimeout(() => writeFileSync(path.join(roots.dev, 'nvme0n1'), ''), 150); // on purpose: the node appears later
    expect(await findNamespaceDevice('nvme0', 1, { roots, timeoutMs: 2000, pollMs: 20 })).toBe(path.join(roots.dev, 'nvme0n1'));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it('gives up with XDBM_NVME_ERROR (ENOENT) when the namespace never appears', async () => {
    ctrl('nvme0', { state: 'live' }, { nvme0c0n1: { nsid: '1' } });
    writeFileSync(path.join(roots.dev, 'nvme0n1'), '');
    await expect(findNamespaceDevice('nvme0', 2, { roots, timeoutMs: 120, pollMs: 20 }))
      .rejects.toMatchObject({ code: ErrorCode.NVME_ERROR, syscallCode: 'ENOENT' });
  });

  it('rejects names that are not controllers (no path tricks)', async () => {
    await expect(findNamespaceDevice('../etc', 1, { roots })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    await expect(findNamespaceDevice('nvme0', 0, { roots })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
  });
});

describe('readHealth', () => {
  it('a controller that is gone reads as gone', async () => {
    expect(await readHealth('nvme5', 1, { roots })).toEqual({ controllerState: 'gone', anaState: null, smart: null });
  });

  it('a reconnecting controller reports its state and ANA, and skips SMART', async () => {
    ctrl('nvme0', { state: 'connecting' }, { nvme0c0n1: { nsid: '1', ana_state: 'change' } });
    expect(await readHealth('nvme0', 1, { roots })).toEqual({ controllerState: 'connecting', anaState: 'change', smart: null });
  });

  it.skipIf(libnvme.missing)(`a live controller whose device cannot be opened gives smart null with a coded smartError${libnvme.note}`, async () => {
    ctrl('nvme0', { state: 'live' }, { nvme0c0n1: { nsid: '1', ana_state: 'optimized' } });
    const h = await readHealth('nvme0', 1, { roots });
    expect(h).toMatchObject({ controllerState: 'live', anaState: 'optimized', smart: null });
    expect(h.smartError?.code).toBe(ErrorCode.NVME_ERROR);
  });
});
