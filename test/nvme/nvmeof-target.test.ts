/**
 * Against a real NVMe/TCP target: discovery, connect (idempotent), topology, namespace device,
 * SMART/ANA, the nvmeof backend's I/O, and disconnect. Runs only when XDBM_NVME_TARGET is set,
 * e.g. XDBM_NVME_TARGET=127.0.0.1:4420/nqn.2026-11.io.xdbm:tb1 (XDBM_NVME_NSID, default 1), as the
 * testbed's QEMU guest does (test/testbed): this host's kernel has no nvme-tcp.
 * The target's namespace must be scratch space: the test writes to it.
 *
 * Then faults, when XDBM_TB_NODE also names the testbed node serving that target (the guest's
 * test/testbed/guest/tb.sh breaks and repairs it): how fast the controller state and the data path
 * report a lost subsystem, packet loss at connect, a vanished namespace, and recovery. Both parts
 * live in one file so they never run at the same time as each other.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { connectionTarget } from '../../src/config/connection-string.js';
import type { EndpointConfig } from '../../src/config/types.js';
import { NvmeofBackend } from '../../src/backends/nvmeof.js';
import { ErrorCode } from '../../src/errors.js';
import { controllerRefs } from '../../src/nvme/controller-refs.js';
import { CONNECT_TIMEOUT_MS, connect, disconnect, discover } from '../../src/nvme/fabrics.js';
import { readHealth } from '../../src/nvme/health.js';
import { findNamespaceDevice, listControllers, readControllerState } from '../../src/nvme/sysfs.js';
import { scanControllers } from '../../src/nvme/topology.js';
import { until } from '../support/until.js';

const SKIP_REASON = 'needs a real NVMe/TCP target: runs in the testbed, see test/testbed';
const spec = process.env.XDBM_NVME_TARGET;
const m = spec ? /^([^/]+):(\d+)\/(nqn\..+)$/.exec(spec) : null;
if (spec && !m) throw new Error(`XDBM_NVME_TARGET must be host:port/nqn, got ${spec}`);
const host = m?.[1] ?? '';
const port = Number(m?.[2] ?? 0);
const subsysnqn = m?.[3] ?? '';
const nsid = Number(process.env.XDBM_NVME_NSID ?? 1);
const tmo = { ctrlLossTmoS: 5, reconnectDelayS: 1, fastIoFailTmoS: 2 };

function endpoint(): EndpointConfig {
  const cs = `nvme://${host}:${port}/${subsysnqn}/${nsid}`;
  return {
    endpointId: 'nvme-target-test', type: 'nvmeof', connectionString: cs, target: connectionTarget(cs, { type: 'nvmeof' }),
    weight: 1, labels: {}, probeAreaBytes: 4 << 20, nvme: tmo,
  };
}

/** Controllers to this subsystem (so leftovers can be cleaned up). */
async function ours(): Promise<string[]> {
  return (await listControllers()).filter((c) => c.subsysnqn === subsysnqn).map((c) => c.name);
}

describe.skipIf(!m)(`real NVMe/TCP target (${SKIP_REASON})`, () => {
  afterAll(async () => {
    for (const c of await ours()) await disconnect(c).catch(() => undefined);
  });

  it('discovery lists the subsystem', async () => {
    const entries = await discover({ host, port });
    expect(entries.some((e) => e.subnqn === subsysnqn && e.trtype === 'tcp')).toBe(true);
    expect(await ours()).toEqual([]); // the discovery controller is gone again
  });

  it('connect creates a controller, a second connect reuses it; disconnect removes it', async () => {
    const t0 = performance.now();
    const a = await connect({ host, port, subsysnqn, ...tmo });
    const connectMs = performance.now() - t0;
    expect(a.created).toBe(true);
    expect(a.ctrlName).toMatch(/^nvme\d+$/);
    const b = await connect({ host, port, subsysnqn, ...tmo });
    expect(b).toEqual({ ctrlName: a.ctrlName, created: false });
    expect(await readControllerState(a.ctrlName)).toBe('live');
    // The timeouts we asked for reached the kernel.
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(`/sys/class/nvme/${a.ctrlName}/ctrl_loss_tmo`, 'utf8').trim()).toBe(String(tmo.ctrlLossTmoS));
    expect(readFileSync(`/sys/class/nvme/${a.ctrlName}/fast_io_fail_tmo`, 'utf8').trim()).toBe(String(tmo.fastIoFailTmoS));

    const dev = await findNamespaceDevice(a.ctrlName, nsid);
    expect(existsSync(dev)).toBe(true);
    const scanned = (await scanControllers()).find((c) => c.name === a.ctrlName);
    expect(scanned).toMatchObject({ state: 'live', transport: 'tcp', traddr: host, trsvcid: String(port), subsysnqn });
    expect(scanned!.namespaces.map((n) => [n.nsid, n.blockDevice])).toContainEqual([nsid, dev]);

    const h = await readHealth(a.ctrlName, nsid);
    expect(h.controllerState).toBe('live');
    expect(h.smart).not.toBeNull();
    expect(h.smart!.criticalWarning).toBe(0);
    expect(h.anaState === null || h.anaState === 'optimized').toBe(true);
    console.log(`health of ${a.ctrlName} nsid ${nsid}: ${JSON.stringify(h)}`);

    const t1 = performance.now();
    await disconnect(a.ctrlName);
    const disconnectMs = performance.now() - t1;
    expect(await readControllerState(a.ctrlName)).toBeNull();
    console.log(`nvme connect ${connectMs.toFixed(0)} ms, disconnect ${disconnectMs.toFixed(0)} ms`);
  });

  it('the nvmeof backend does probe-area and raw I/O on the namespace and disconnects on close', async () => {
    const b = new NvmeofBackend(endpoint());
    await b.init();
    try {
      const ctrl = b.ctrlName!;
      expect(controllerRefs()[ctrl]).toEqual({ refs: 1, owned: true });
      const data = Buffer.alloc(4096, 0x5a);
      await b.write('probe-basic', 0, data);
      expect(await b.read('probe-basic', 0, 4096)).toEqual(data);
      await b.delete('probe-basic');
      await expect(b.read('probe-basic', 0, 1)).rejects.toMatchObject({ code: ErrorCode.IO_ERROR });
      const raw = Buffer.alloc(8192, 0xa5);
      await b.writeRaw(0, raw);
      await b.flush();
      expect(await b.readRaw(0, 8192)).toEqual(raw);
      const t = b.probeTarget();
      expect(t).toMatchObject({ kind: 'device', type: 'nvmeof', endpointId: 'nvme-target-test' });
      const info = await b.healthInfo();
      expect(info).toMatchObject({ ctrlName: ctrl, controllerState: 'live', controllerOwned: true });
      expect(info.devicePath).toBe(t.kind === 'device' ? t.devicePath : undefined);
      await b.close();
      expect(await readControllerState(ctrl)).toBeNull();
      expect(controllerRefs()).toEqual({});
    } finally {
      await b.close();
    }
  });

  it('a controller someone else connected is used but not disconnected on close', async () => {
    const theirs = await connect({ host, port, subsysnqn, ...tmo });
    try {
      const b = new NvmeofBackend(endpoint());
      await b.init();
      expect(b.ctrlName).toBe(theirs.ctrlName);
      expect((await b.healthInfo()).controllerOwned).toBe(false);
      await b.close();
      expect(await readControllerState(theirs.ctrlName)).toBe('live');
    } finally {
      await disconnect(theirs.ctrlName);
    }
  });

  it('two backends on one target share one controller; the last close disconnects it', async () => {
    const a = new NvmeofBackend({ ...endpoint(), endpointId: 'share-a' });
    const b = new NvmeofBackend({ ...endpoint(), endpointId: 'share-b' });
    await Promise.all([a.init(), b.init()]);
    try {
      expect(a.ctrlName).toBe(b.ctrlName);
      expect(controllerRefs()[a.ctrlName!]).toEqual({ refs: 2, owned: true });
      const ctrl = a.ctrlName!;
      await a.close();
      expect(await readControllerState(ctrl)).toBe('live');
      expect((await b.read('x', 0, 0).catch((e: { code: string }) => e.code))).toBe(ErrorCode.IO_ERROR); // b still works (no such name)
      await b.close();
      expect(await readControllerState(ctrl)).toBeNull();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('connect to a subsystem the target does not offer fails with XDBM_NVME_ERROR', async () => {
    await expect(connect({ host, port, subsysnqn: `${subsysnqn}-absent`, ...tmo }))
      .rejects.toMatchObject({ code: ErrorCode.NVME_ERROR });
  });
});

const run = promisify(execFile);
const TB_SH = path.resolve(import.meta.dirname, '..', 'testbed', 'guest', 'tb.sh');
const node = process.env.XDBM_TB_NODE ?? '';
const faultsEnabled = !!m && /^\d+$/.test(node) && existsSync(TB_SH);
const FAULT_SKIP_REASON = 'needs a real NVMe/TCP target it may break: runs in the testbed guest (XDBM_NVME_TARGET + XDBM_TB_NODE), see test/testbed';
const faultTmo = { ctrlLossTmoS: 10, reconnectDelayS: 1, fastIoFailTmoS: 2 };

function backend(): NvmeofBackend {
  return new NvmeofBackend({ ...endpoint(), endpointId: 'nvme-fault-test', nvme: faultTmo });
}

const tb = (...args: string[]) => run('bash', [TB_SH, ...args]);

/** Waits until `ok(await fn())` (test/support/until.ts); returns how long that took, in ms. */
async function msUntil<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  await until(async () => ok(await fn()), what, { timeoutMs, intervalMs: 50 });
  return performance.now() - t0;
}

describe.skipIf(!faultsEnabled)(`NVMe/TCP faults (${FAULT_SKIP_REASON})`, () => {
  afterAll(async () => {
    for (const c of await ours()) await disconnect(c).catch(() => undefined);
  });

  it('subsystem unlinked: controller leaves live, I/O fails with XDBM_IO_ERROR after fast_io_fail_tmo, relink recovers', async () => {
    const b = backend();
    await b.init();
    const ctrl = b.ctrlName!;
    try {
      const block = Buffer.alloc(4096, 0x3c);
      await b.writeRaw(0, block);
      await tb('fault', 'subsys-unlink', node);
      const t0 = performance.now();
      let restored = false;
      try {
        const readP = b.readRaw(0, 4096).then(() => null, (e: unknown) => e);
        const stateMs = await msUntil('controller leaving live', () => readHealth(ctrl, nsid), (h) => h.controllerState !== 'live', 15_000);
        const err = await readP;
        const ioErrorMs = performance.now() - t0;
        expect(err).toMatchObject({ code: ErrorCode.IO_ERROR });
        // fast_io_fail_tmo (2 s) bounds it, well before ctrl_loss_tmo (10 s).
        expect(ioErrorMs).toBeLessThan(faultTmo.ctrlLossTmoS * 1000);
        const sick = await b.healthInfo();
        expect(['connecting', 'resetting']).toContain(sick.controllerState);
        expect(sick.smart).toBeNull();

        await tb('restore', 'subsys-unlink', node);
        restored = true;
        const t1 = performance.now();
        const liveMs = await msUntil('controller live again', () => readHealth(ctrl, nsid), (h) => h.controllerState === 'live', 15_000);
        await msUntil('I/O working again', () => b.readRaw(0, 4096).then((d) => d.equals(block), () => false), (v) => v, 15_000);
        const ioBackMs = performance.now() - t1;
        console.log(`subsys-unlink: state change ${stateMs.toFixed(0)} ms, I/O error ${ioErrorMs.toFixed(0)} ms ` +
          `(${(err as { syscallCode?: string }).syscallCode}); after relink: live ${liveMs.toFixed(0)} ms, I/O back ${ioBackMs.toFixed(0)} ms`);
      } finally {
        if (!restored) await tb('restore', 'subsys-unlink', node).catch(() => undefined);
      }
    } finally {
      await b.close();
    }
  });

  it('a target behind 100 % packet loss: connect fails with XDBM_NVME_ERROR in seconds, not minutes', async () => {
    await tb('fault', 'loss', node, '100');
    try {
      const t0 = performance.now();
      const err = await connect({ host, port, subsysnqn, ...faultTmo }).then(() => null, (e: unknown) => e);
      const ms = performance.now() - t0;
      expect(err).toMatchObject({ code: ErrorCode.NVME_ERROR });
      expect(ms).toBeLessThanOrEqual(CONNECT_TIMEOUT_MS + 1000);
      console.log(`loss 100 %: connect failed after ${ms.toFixed(0)} ms (${(err as { details?: { nvmeErrno?: string }; syscallCode?: string }).details?.nvmeErrno ?? (err as { syscallCode?: string }).syscallCode})`);
    } finally {
      await tb('restore', 'loss', node);
    }
  });

  it('namespace disabled: the device goes away and init fails with XDBM_NVME_ERROR until it is back', async () => {
    await tb('fault', 'ns-disable', node);
    try {
      const b = backend();
      const t0 = performance.now();
      const err = await b.init().then(() => null, (e: unknown) => e);
      // init waits NAMESPACE_WAIT_MS for the device, then gives up and disconnects what it connected.
      expect(err).toMatchObject({ code: ErrorCode.NVME_ERROR, syscallCode: 'ENOENT' });
      expect(b.isOpen).toBe(false);
      console.log(`ns-disable: init gave up after ${(performance.now() - t0).toFixed(0)} ms`);
    } finally {
      await tb('restore', 'ns-disable', node);
    }
    const b = backend();
    await b.init();
    expect((await b.healthInfo()).controllerState).toBe('live');
    await b.close();
  });
});
