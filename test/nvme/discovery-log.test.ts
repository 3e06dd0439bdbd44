/** Discovery log page parsing and libnvme errno naming on constructed data. */
import { describe, expect, it } from 'vitest';
import { DISCOVERY_ENTRY_BYTES, DISCOVERY_HEADER_BYTES, parseDiscoveryLog } from '../../src/nvme/discovery-log.js';
import { describeNvmeErrno, nvmeError } from '../../src/nvme/nvme-errors.js';
import { ErrorCode } from '../../src/errors.js';

function page(entries: Array<{ trtype: number; adrfam: number; subtype: number; portId: number; trsvcid: string; subnqn: string; traddr: string }>): Buffer {
  const b = Buffer.alloc(DISCOVERY_HEADER_BYTES + entries.length * DISCOVERY_ENTRY_BYTES);
  b.writeBigUInt64LE(5n, 0); // genctr
  b.writeBigUInt64LE(BigInt(entries.length), 8);
  entries.forEach((e, i) => {
    const o = DISCOVERY_HEADER_BYTES + i * DISCOVERY_ENTRY_BYTES;
    b[o] = e.trtype; b[o + 1] = e.adrfam; b[o + 2] = e.subtype;
    b.writeUInt16LE(e.portId, o + 4);
    b.writeUInt16LE(0xffff, o + 6);
    b.write(e.trsvcid.padEnd(32, ' '), o + 32, 'latin1'); // the kernel pads trsvcid/traddr with spaces
    b.write(e.subnqn, o + 256, 'latin1');
    b.write(e.traddr.padEnd(256, ' '), o + 512, 'latin1');
  });
  return b;
}

describe('parseDiscoveryLog', () => {
  it('decodes entries and strips padding', () => {
    const out = parseDiscoveryLog(page([
      { trtype: 3, adrfam: 1, subtype: 3, portId: 1, trsvcid: '4420', subnqn: 'nqn.2014-08.org.nvmexpress.discovery', traddr: '10.99.1.2' },
      { trtype: 3, adrfam: 1, subtype: 2, portId: 1, trsvcid: '4420', subnqn: 'nqn.2026-11.io.xdbm:node1', traddr: '10.99.1.2' },
    ]));
    expect(out).toEqual([
      { trtype: 'tcp', adrfam: 'ipv4', subtype: 'current-discovery', portId: 1, cntlid: 0xffff, trsvcid: '4420', subnqn: 'nqn.2014-08.org.nvmexpress.discovery', traddr: '10.99.1.2' },
      { trtype: 'tcp', adrfam: 'ipv4', subtype: 'nvme', portId: 1, cntlid: 0xffff, trsvcid: '4420', subnqn: 'nqn.2026-11.io.xdbm:node1', traddr: '10.99.1.2' },
    ]);
  });

  it('an empty log has no entries; a truncated one keeps the whole entries only', () => {
    expect(parseDiscoveryLog(page([]))).toEqual([]);
    const two = page([
      { trtype: 3, adrfam: 1, subtype: 2, portId: 1, trsvcid: '4420', subnqn: 'a', traddr: '1.1.1.1' },
      { trtype: 3, adrfam: 1, subtype: 2, portId: 2, trsvcid: '4421', subnqn: 'b', traddr: '1.1.1.2' },
    ]);
    expect(parseDiscoveryLog(two.subarray(0, two.length - 1)).map((e) => e.subnqn)).toEqual(['a']);
  });
});

describe('libnvme errno names', () => {
  it('maps ENVME_CONNECT_* (1000+) and OS errnos', () => {
    expect(describeNvmeErrno(1005).name).toBe('ENVME_CONNECT_OPEN');
    expect(describeNvmeErrno(1017)).toMatchObject({ name: 'ENVME_CONNECT_CONNREFUSED', syscallCode: 'ECONNREFUSED' });
    expect(describeNvmeErrno(1012).name).toBe('ENVME_CONNECT_ALREADY');
    expect(describeNvmeErrno(2)).toMatchObject({ name: 'ENOENT', syscallCode: 'ENOENT' });
  });

  it('nvmeError carries the code, errno and name', () => {
    const e = nvmeError('connect', 1017, { host: 'h' });
    expect(e.code).toBe(ErrorCode.NVME_ERROR);
    expect(e.errno).toBe(1017);
    expect(e.details).toEqual({ host: 'h', nvmeErrno: 'ENVME_CONNECT_CONNREFUSED' });
    expect(e.message).toContain('connection refused');
  });
});

describe('withNvmeLock', () => {
  it('serializes work under one key and lets other keys run at once', async () => {
    const { withNvmeLock } = await import('../../src/nvme/libnvme.js');
    const log: string[] = [];
    const step = (name: string, ms: number) => async () => {
      log.push(`${name}+`);
      await new Promise((r) => setTimeout(r, ms)); // on purpose: work that holds the lock for ms
      log.push(`${name}-`);
    };
    const a1 = withNvmeLock('t1', step('a1', 60));
    const a2 = withNvmeLock('t1', step('a2', 10));
    const b1 = withNvmeLock('t2', step('b1', 10));
    const failing = withNvmeLock('t1', async () => { throw new Error('boom'); });
    const a3 = withNvmeLock('t1', step('a3', 1));
    await Promise.all([a1, a2, b1, a3, failing.catch(() => undefined)]);
    // b1 ran while a1 held t1; a2 and a3 waited their turn, after a failure in between.
    expect(log.indexOf('b1-')).toBeLessThan(log.indexOf('a1-'));
    expect(log.filter((e) => e.startsWith('a'))).toEqual(['a1+', 'a1-', 'a2+', 'a2-', 'a3+', 'a3-']);
    await expect(failing).rejects.toThrow('boom');
  });
});
