/**
 * libnvme through koffi on this host, for real: loading, struct layouts of the 1.3 ABI, host NQN,
 * topology scan and a connect that cannot succeed here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isXdbmError } from '../../src/errors.js';
import { connect, disconnect, discover } from '../../src/nvme/fabrics.js';
import { LIBNVME_DEBIAN_PACKAGE, loadLibnvme } from '../../src/nvme/libnvme.js';
import { describeNvmeErrno } from '../../src/nvme/nvme-errors.js';
import { HOSTNQN_UUID_RE, hostId, hostNqn, scanControllers } from '../../src/nvme/topology.js';
import { requires } from '../support/requires.js';

/** Debian libnvme1: without it these skip, naming the package (see test/support/requires.ts). */
const libnvme = requires('libnvme1');

const HAS_FABRICS = existsSync('/dev/nvme-fabrics');

describe('libnvme loading', () => {
  it.skipIf(libnvme.missing)(`loads libnvme.so.1 through koffi and caches it per thread${libnvme.note}`, () => {
    const lib = loadLibnvme();
    expect(lib.path).toMatch(/libnvme\.so\.1$/);
    expect(loadLibnvme()).toBe(lib);
  });

  it('a missing library is XDBM_LIBNVME_UNAVAILABLE naming the Debian package', () => {
    let caught: unknown;
    try {
      loadLibnvme('/nonexistent/libnvme.so.1');
    } catch (e) {
      caught = e;
    }
    expect(isXdbmError(caught, ErrorCode.LIBNVME_UNAVAILABLE)).toBe(true);
    expect((caught as Error).message).toContain(`apt-get install ${LIBNVME_DEBIAN_PACKAGE}`);
  });

  it('a library without the 1.3 functions is XDBM_LIBNVME_UNAVAILABLE too', () => {
    // libc loads fine but has no nvme_* symbols.
    expect(() => loadLibnvme('libc.so.6')).toThrow(expect.objectContaining({ code: ErrorCode.LIBNVME_UNAVAILABLE }));
  });

  it.skipIf(libnvme.missing)(`struct nvme_fabrics_config matches the 1.3 header (offsets measured with gcc)${libnvme.note}`, () => {
    const t = loadLibnvme().fabricsConfigType;
    const off = (m: string) => t.members![m]!.offset;
    expect(t.size).toBe(64);
    expect([off('queue_size'), off('reconnect_delay'), off('ctrl_loss_tmo'), off('fast_io_fail_tmo'),
      off('keep_alive_tmo'), off('tos'), off('duplicate_connect'), off('tls')]).toEqual([16, 24, 28, 32, 36, 48, 52, 56]);
  });

  it.skipIf(libnvme.missing)(`struct nvme_get_log_args matches the 1.3 header${libnvme.note}`, () => {
    const t = loadLibnvme().getLogArgsType;
    const off = (m: string) => t.members![m]!.offset;
    expect(t.size).toBe(64);
    expect([off('log'), off('args_size'), off('fd'), off('timeout'), off('lid'), off('len'), off('nsid'),
      off('csi'), off('lsi'), off('lsp'), off('uuidx'), off('rae'), off('ot')])
      .toEqual([16, 24, 28, 32, 36, 40, 44, 48, 52, 54, 55, 56, 57]);
  });

  it.skipIf(libnvme.missing)(`nvmf_default_config fills libnvme defaults (ctrl_loss_tmo 600, tos -1)${libnvme.note}`, () => {
    const lib = loadLibnvme();
    const cfg: Record<string, unknown> = {};
    lib.nvmf_default_config(cfg);
    expect(cfg).toMatchObject({ ctrl_loss_tmo: 600, tos: -1, reconnect_delay: 0, fast_io_fail_tmo: 0 });
  });
});

describe.skipIf(libnvme.missing)(`host identity and topology${libnvme.note}`, () => {
  it('hostNqn() is a UUID-form NQN (from /etc/nvme/hostnqn when present)', () => {
    const nqn = hostNqn();
    expect(nqn).toMatch(HOSTNQN_UUID_RE);
    if (existsSync('/etc/nvme/hostnqn')) {
      expect(nqn).toBe(readFileSync('/etc/nvme/hostnqn', 'utf8').trim());
    }
  });

  it('hostId() is a UUID or null', () => {
    const id = hostId();
    if (id !== null) expect(id).toMatch(/^[0-9a-f-]{36}$/i);
  });

  it('scanControllers() lists what sysfs has: nothing on a kernel without NVMe', async () => {
    const ctrls = await scanControllers();
    expect(Array.isArray(ctrls)).toBe(true);
    if (!existsSync('/sys/class/nvme')) expect(ctrls).toEqual([]);
    for (const c of ctrls) {
      expect(c.name).toMatch(/^nvme\d+$/);
      for (const n of c.namespaces) expect(n.blockDevice).toMatch(/^\/dev\/nvme\d+n\d+$/);
    }
  });
});

describe.skipIf(libnvme.missing)(`fabrics without a target${libnvme.note}`, () => {
  const opts = {
    host: '127.0.0.1', port: 4420, subsysnqn: 'nqn.2026-11.io.xdbm:test-absent',
    ctrlLossTmoS: 2, reconnectDelayS: 1, fastIoFailTmoS: 1,
  };

  it('connect to 127.0.0.1:4420 with nothing there fails with XDBM_NVME_ERROR and says why', async () => {
    const err = await connect(opts).then(() => undefined, (e: unknown) => e);
    expect(isXdbmError(err, ErrorCode.NVME_ERROR)).toBe(true);
    const { details, errno } = err as { details: { nvmeErrno: string }; errno: number };
    if (!HAS_FABRICS) {
      // This host: no nvme-fabrics in the kernel.
      expect(details.nvmeErrno).toBe('ENVME_CONNECT_OPEN');
      expect((err as Error).message).toContain('/dev/nvme-fabrics');
    } else {
      // A kernel with nvme-tcp (the testbed guest): the connect is refused or fails.
      expect(['ENVME_CONNECT_CONNREFUSED', 'ENVME_CONNECT_WRITE', 'ENVME_CONNECT_INVAL']).toContain(details.nvmeErrno);
    }
    expect(describeNvmeErrno(errno).name).toBe(details.nvmeErrno);
  });

  it('discover against nothing fails with XDBM_NVME_ERROR', async () => {
    await expect(discover({ host: '127.0.0.1', port: 4420 })).rejects.toMatchObject({ code: ErrorCode.NVME_ERROR });
  });

  it('bad arguments are XDBM_INVALID_ARGUMENT before libnvme is called', async () => {
    await expect(connect({ ...opts, port: 0 })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    await expect(connect({ ...opts, subsysnqn: 'x,traddr=1.2.3.4' })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    await expect(connect({ ...opts, host: '1.2.3.4,nqn=evil' })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    await expect(connect({ ...opts, reconnectDelayS: 0 })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    await expect(disconnect('sda')).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
  });

  it.skipIf(!HAS_FABRICS)('a target that accepts TCP and never answers: connect gives up at connectTimeoutMs (needs nvme-tcp: runs in the testbed guest)', async () => {
    const { createServer } = await import('node:net');
    const sockets = new Set<import('node:net').Socket>();
    const server = createServer((s) => { sockets.add(s); s.on('error', () => undefined); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as import('node:net').AddressInfo).port;
    try {
      const t0 = performance.now();
      const err = await connect({ ...opts, port, connectTimeoutMs: 1500 }).then(() => undefined, (e: unknown) => e);
      const ms = performance.now() - t0;
      expect(err).toMatchObject({ code: ErrorCode.NVME_ERROR, syscallCode: 'ETIMEDOUT' });
      expect(ms).toBeGreaterThanOrEqual(1400);
      expect(ms).toBeLessThan(5000);
      expect(sockets.size).toBeGreaterThan(0); // the kernel did connect and is waiting for an answer
    } finally {
      for (const s of sockets) s.destroy(); // lets the blocked kernel connect fail, freeing its pool thread
      await new Promise((r) => server.close(r));
    }
    // The abandoned connect finishes (fails) and the next connect to that target can run.
    await expect(connect({ ...opts, port, connectTimeoutMs: 10_000 })).rejects.toMatchObject({ code: ErrorCode.NVME_ERROR });
  });

  it('disconnect of a controller that does not exist is a no-op', async () => {
    await expect(disconnect('nvme987')).resolves.toBeUndefined();
  });
});

describe.skipIf(libnvme.missing)(`Get Log Page through koffi${libnvme.note}`, () => {
  it('an fd that is not an NVMe device: the ioctl fails with ENOTTY as XDBM_NVME_ERROR', async () => {
    const { mkdtempSync, symlinkSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { readSmartLog } = await import('../../src/nvme/health.js');
    const dir = mkdtempSync(`${tmpdir()}/xdbm-smart-`);
    try {
      symlinkSync('/dev/null', `${dir}/nvme0`);
      await expect(readSmartLog('nvme0', undefined, { roots: { classNvme: dir, dev: dir } }))
        .rejects.toMatchObject({ code: ErrorCode.NVME_ERROR, syscallCode: 'ENOTTY' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
