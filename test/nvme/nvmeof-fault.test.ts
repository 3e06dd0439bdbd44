/**
 * Faults on a real NVMe/TCP target, seen through the nvmeof backend: how fast the controller state
 * and the data path report a lost subsystem, and that the same backend works again after the
 * target comes back. Runs only inside the testbed guest, where the target is local and
 * test/testbed/guest/tb.sh can break it: needs XDBM_NVME_TARGET (host:port/nqn) and XDBM_TB_NODE
 * (the node number tb.sh knows that target by).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { connectionTarget } from '../../src/config/connection-string.js';
import { NvmeofBackend } from '../../src/backends/nvmeof.js';
import { ErrorCode } from '../../src/errors.js';
import { readHealth } from '../../src/nvme/health.js';

const run = promisify(execFile);
const TB_SH = path.resolve(import.meta.dirname, '..', 'testbed', 'guest', 'tb.sh');
const spec = process.env.XDBM_NVME_TARGET ?? '';
const node = process.env.XDBM_TB_NODE ?? '';
const enabled = /^[^/]+:\d+\/nqn\..+$/.test(spec) && /^\d+$/.test(node) && existsSync(TB_SH);
const SKIP_REASON = 'needs a real NVMe/TCP target it may break: runs in the testbed guest (XDBM_NVME_TARGET + XDBM_TB_NODE), see test/testbed';
const tmo = { ctrlLossTmoS: 10, reconnectDelayS: 1, fastIoFailTmoS: 2 };

function backend(): NvmeofBackend {
  const [hp, ...rest] = spec.split('/');
  const cs = `nvme://${hp}/${rest.join('/')}/1`;
  return new NvmeofBackend({
    endpointId: 'nvme-fault-test', type: 'nvmeof', connectionString: cs, target: connectionTarget(cs, { type: 'nvmeof' }),
    weight: 1, labels: {}, probeAreaBytes: 4 << 20, nvme: tmo,
  });
}

const tb = (...args: string[]) => run('bash', [TB_SH, ...args]);

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (ok(await fn())) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`${what} not seen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!enabled)(`NVMe/TCP faults (${SKIP_REASON})`, () => {
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
        const stateMs = await until('controller leaving live', () => readHealth(ctrl, 1), (h) => h.controllerState !== 'live', 15_000);
        const err = await readP;
        const ioErrorMs = performance.now() - t0;
        expect(err).toMatchObject({ code: ErrorCode.IO_ERROR });
        // fast_io_fail_tmo (2 s) bounds it, well before ctrl_loss_tmo (10 s).
        expect(ioErrorMs).toBeLessThan(tmo.ctrlLossTmoS * 1000);
        const sick = await b.healthInfo();
        expect(['connecting', 'resetting']).toContain(sick.controllerState);
        expect(sick.smart).toBeNull();

        await tb('restore', 'subsys-unlink', node);
        restored = true;
        const t1 = performance.now();
        const liveMs = await until('controller live again', () => readHealth(ctrl, 1), (h) => h.controllerState === 'live', 15_000);
        await until('I/O working again', () => b.readRaw(0, 4096).then((d) => d.equals(block), () => false), (v) => v, 15_000);
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
