/**
 * Pure parser of the NVMe-oF Discovery Log Page (LID 70h): a 1024-byte header
 * (genctr u64 @0, numrec u64 @8, recfmt u16 @16) followed by numrec 1024-byte entries
 * (nvme/types.h `struct nvmf_disc_log_entry`).
 */

export const DISCOVERY_HEADER_BYTES = 1024;
export const DISCOVERY_ENTRY_BYTES = 1024;

export const TRTYPE_NAMES: Readonly<Record<number, string>> = { 1: 'rdma', 2: 'fc', 3: 'tcp', 254: 'loop' };
export const ADRFAM_NAMES: Readonly<Record<number, string>> = { 1: 'ipv4', 2: 'ipv6', 3: 'ib', 4: 'fc', 254: 'loop' };
export const SUBTYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'referral',
  2: 'nvme',
  3: 'current-discovery',
};

export interface DiscoveryEntry {
  trtype: string;
  adrfam: string;
  /** 'nvme' for an I/O subsystem, 'referral' or 'current-discovery' for discovery controllers. */
  subtype: string;
  portId: number;
  cntlid: number;
  trsvcid: string;
  subnqn: string;
  traddr: string;
}

/** Fixed-size field: NUL- or space-padded ASCII. */
function field(buf: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && buf[end] !== 0) end++;
  return Buffer.from(buf.buffer, buf.byteOffset + off, end - off).toString('latin1').trim();
}

/** Number of records announced by a discovery log header. */
export function discoveryRecordCount(header: Uint8Array): number {
  if (header.byteLength < 16) throw new RangeError('discovery log header shorter than 16 bytes');
  const dv = new DataView(header.buffer, header.byteOffset, header.byteLength);
  return Number(dv.getBigUint64(8, true));
}

/** Parses a whole discovery log page (header + entries); entries beyond the buffer are ignored. */
export function parseDiscoveryLog(page: Uint8Array): DiscoveryEntry[] {
  const count = discoveryRecordCount(page);
  const out: DiscoveryEntry[] = [];
  for (let i = 0; i < count; i++) {
    const o = DISCOVERY_HEADER_BYTES + i * DISCOVERY_ENTRY_BYTES;
    if (o + DISCOVERY_ENTRY_BYTES > page.byteLength) break;
    const dv = new DataView(page.buffer, page.byteOffset + o, DISCOVERY_ENTRY_BYTES);
    out.push({
      trtype: TRTYPE_NAMES[page[o]!] ?? `unknown(${page[o]})`,
      adrfam: ADRFAM_NAMES[page[o + 1]!] ?? `unknown(${page[o + 1]})`,
      subtype: SUBTYPE_NAMES[page[o + 2]!] ?? `unknown(${page[o + 2]})`,
      portId: dv.getUint16(4, true),
      cntlid: dv.getUint16(6, true),
      trsvcid: field(page, o + 32, 32),
      subnqn: field(page, o + 256, 256),
      traddr: field(page, o + 512, 256),
    });
  }
  return out;
}
