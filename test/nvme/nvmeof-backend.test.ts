/**
 * The nvmeof backend on this host: config (YAML and connection string) to fabrics settings, the
 * registry, and an init that cannot connect here (this kernel has no nvme-fabrics) failing with a
 * code and leaving nothing open. Real connects and I/O: test/nvme/nvmeof-target.test.ts.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseNodeYaml } from '../../src/config/index.js';
import { connectionTarget } from '../../src/config/connection-string.js';
import { DEFAULTS } from '../../src/config/defaults.js';
import type { EndpointConfig } from '../../src/config/types.js';
import { createBackend } from '../../src/backends/index.js';
import { BlockBackend } from '../../src/backends/block.js';
import { NvmeofBackend, create, nvmeofSettings } from '../../src/backends/nvmeof.js';
import { ErrorCode, isXdbmError } from '../../src/errors.js';
import { controllerRefs } from '../../src/nvme/controller-refs.js';
import { addonPath } from '../../src/native/binding.js';
import { requires } from '../support/requires.js';

/** Debian libnvme1: without it these skip, naming the package (see test/support/requires.ts). */
const libnvme = requires('libnvme1');

const NODE_YAML = `
node_id: node-07
address: 10.99.7.2
labels: { rack: rack-4 }
endpoints:
  - endpoint_id: nvme-07-a
    type: nvmeof
    connection_string: nvme://10.99.7.2:4421/nqn.2026-11.io.xdbm:node-07/3
    nvme: { ctrl_loss_tmo_s: 6, reconnect_delay_s: 1, fast_io_fail_tmo_s: 2, hostnqn: "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555" }
  - endpoint_id: nvme-07-b
    type: nvmeof
    connection_string: nvme://10.99.7.2/nqn.2026-11.io.xdbm:node-07
`;

function endpoint(connectionString: string, extra: Partial<EndpointConfig> = {}): EndpointConfig {
  return {
    endpointId: 'nvme-test', type: 'nvmeof', connectionString, target: connectionTarget(connectionString, { type: 'nvmeof' }),
    weight: 1, labels: {}, probeAreaBytes: 4 << 20, ...extra,
  };
}

describe('nvmeof config', () => {
  it('YAML endpoint → fabrics settings with its nvme options', () => {
    const node = parseNodeYaml(NODE_YAML);
    const [a, b] = node.endpoints;
    expect(nvmeofSettings(a!)).toEqual({
      connect: {
        host: '10.99.7.2', port: 4421, subsysnqn: 'nqn.2026-11.io.xdbm:node-07',
        ctrlLossTmoS: 6, reconnectDelayS: 1, fastIoFailTmoS: 2,
        hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555',
      },
      nsid: 3,
    });
    // Port 4420, nsid 1 and the fabrics defaults when the YAML gives none.
    expect(nvmeofSettings(b!)).toEqual({
      connect: { host: '10.99.7.2', port: 4420, subsysnqn: 'nqn.2026-11.io.xdbm:node-07', ...DEFAULTS.nvme },
      nsid: 1,
    });
  });

  it('a bare EndpointConfig without nvme options uses the fabrics defaults', () => {
    const s = nvmeofSettings(endpoint('nvme://127.0.0.1:4420/nqn.2026-11.io.xdbm:x/2'));
    expect(s.connect).toMatchObject({ ctrlLossTmoS: DEFAULTS.nvme.ctrlLossTmoS, fastIoFailTmoS: DEFAULTS.nvme.fastIoFailTmoS });
    expect(s.connect.hostnqn).toBeUndefined();
    expect(s.nsid).toBe(2);
  });

  it('a non-nvme target is XDBM_CONFIG_INVALID at create', () => {
    const cfg: EndpointConfig = {
      endpointId: 'x', type: 'nvmeof', connectionString: 'block:///dev/loop0', target: { kind: 'block', devicePath: '/dev/loop0' },
      weight: 1, labels: {}, probeAreaBytes: 1 << 20,
    };
    expect(() => create(cfg)).toThrow(expect.objectContaining({ code: ErrorCode.CONFIG_INVALID }));
  });

  it('the registry builds an NvmeofBackend, which is a BlockBackend (raw data region for the WAL)', async () => {
    const b = await createBackend(endpoint('nvme://127.0.0.1/nqn.2026-11.io.xdbm:x'));
    expect(b).toBeInstanceOf(NvmeofBackend);
    expect(b).toBeInstanceOf(BlockBackend);
    expect(b.type).toBe('nvmeof');
  });
});

describe.skipIf(libnvme.missing)(`nvmeof init without a reachable target${libnvme.note}`, () => {
  it('fails with a code, stays closed and holds no controller', async () => {
    const b = create(endpoint('nvme://127.0.0.1:4420/nqn.2026-11.io.xdbm:absent'));
    const err = await b.init().then(() => undefined, (e: unknown) => e);
    // The addon loads first (XDBM_NATIVE_UNAVAILABLE when it was never built), then the connect fails.
    expect(isXdbmError(err)).toBe(true);
    if (addonPath() === undefined) {
      expect((err as { code: string }).code).toBe(ErrorCode.NATIVE_UNAVAILABLE);
    } else {
      expect((err as { code: string }).code).toBe(ErrorCode.NVME_ERROR);
      // This host has no /dev/nvme-fabrics; a kernel with nvme-tcp (testbed guest) is refused instead.
      expect((err as { details: { nvmeErrno: string } }).details.nvmeErrno)
        .toBe(existsSync('/dev/nvme-fabrics') ? 'ENVME_CONNECT_CONNREFUSED' : 'ENVME_CONNECT_OPEN');
    }
    expect(b.isOpen).toBe(false);
    expect(controllerRefs()).toEqual({});
    await expect(b.write('probe', 0, Buffer.alloc(512))).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    expect(await b.healthInfo()).toEqual({});
    await b.close();
    await b.close();
  });
});
