/**
 * Framed WAL record, shared by the file and the device layouts (little-endian):
 *   0  magic  u32  'XWR1'
 *   4  index  u64  (log index, >= 1, below 2^53)
 *   12 length u32  payload bytes
 *   16 crc32c u32  over bytes 4..16 (index, length) and the payload
 *   20 payload
 * A record that fails any check is either a torn tail (nothing valid follows) or a corrupted record
 * (a valid record follows): the scanner tells which.
 */
import { crc32c } from './crc32c.js';

export const RECORD_MAGIC = 0x31525758; // 'XWR1' read as little-endian u32
export const RECORD_HEADER_BYTES = 20;
/** Upper bound on one payload: anything larger in a header is garbage, not a record. */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

export function recordBytes(payloadBytes: number): number {
  return RECORD_HEADER_BYTES + payloadBytes;
}

/** Writes one record at `offset` of `out` (which must have room) and returns the offset after it. */
export function encodeRecordInto(out: Buffer, offset: number, index: number, payload: Uint8Array): number {
  out.writeUInt32LE(RECORD_MAGIC, offset);
  out.writeUInt32LE(index % 0x1_0000_0000, offset + 4);
  out.writeUInt32LE(Math.floor(index / 0x1_0000_0000), offset + 8);
  out.writeUInt32LE(payload.length, offset + 12);
  out.set(payload, offset + RECORD_HEADER_BYTES);
  const crc = crc32c(payload, crc32c(out.subarray(offset + 4, offset + 16)));
  out.writeUInt32LE(crc, offset + 16);
  return offset + RECORD_HEADER_BYTES + payload.length;
}

export function encodeRecords(records: ReadonlyArray<{ index: number; payload: Uint8Array }>): Buffer {
  let total = 0;
  for (const r of records) total += recordBytes(r.payload.length);
  const out = Buffer.allocUnsafe(total);
  let off = 0;
  for (const r of records) off = encodeRecordInto(out, off, r.index, r.payload);
  return out;
}

export type ParsedRecord =
  /** A whole record with a valid checksum. */
  | { kind: 'ok'; index: number; payloadOffset: number; payloadBytes: number; end: number }
  /** The buffer ends inside the record (header or payload cut short). */
  | { kind: 'short' }
  /** Magic or length are garbage: the framing itself is lost here. */
  | { kind: 'garbage' }
  /** Plausible framing but the checksum fails: `end` is where the next record would start. */
  | { kind: 'corrupt'; index: number; end: number };

export function parseRecordAt(buf: Buffer, offset: number): ParsedRecord {
  if (offset + RECORD_HEADER_BYTES > buf.length) return { kind: 'short' };
  if (buf.readUInt32LE(offset) !== RECORD_MAGIC) return { kind: 'garbage' };
  const index = buf.readUInt32LE(offset + 4) + buf.readUInt32LE(offset + 8) * 0x1_0000_0000;
  const payloadBytes = buf.readUInt32LE(offset + 12);
  if (payloadBytes > MAX_PAYLOAD_BYTES || index < 1 || !Number.isSafeInteger(index)) return { kind: 'garbage' };
  const end = offset + RECORD_HEADER_BYTES + payloadBytes;
  if (end > buf.length) return { kind: 'short' };
  const payloadOffset = offset + RECORD_HEADER_BYTES;
  const crc = crc32c(buf.subarray(payloadOffset, end), crc32c(buf.subarray(offset + 4, offset + 16)));
  if (crc !== buf.readUInt32LE(offset + 16)) return { kind: 'corrupt', index, end };
  return { kind: 'ok', index, payloadOffset, payloadBytes, end };
}

export interface ScannedRecord {
  index: number;
  offset: number;
  /** Whole record length (header + payload). */
  bytes: number;
}

export interface ScanResult {
  /** Intact records, in file order, indexes increasing. */
  records: ScannedRecord[];
  /** Indexes whose records fail their checks but are followed by intact records: damage, not a tail. */
  damaged: number[];
  /** Offset after the last intact record. Bytes after it are a torn tail (or nothing). */
  validEnd: number;
}

const MAGIC_BYTES = Buffer.from([0x58, 0x57, 0x52, 0x31]); // RECORD_MAGIC as stored (little-endian)

/**
 * Scans a run of records expecting indexes firstIndex, firstIndex+1, ... Nothing is cut here: the
 * caller learns what is intact (records), what is damaged but followed by intact records (damaged: a
 * flipped bit, a bad sector, a misdirected write; read those from another copy), and where the intact
 * part ends (validEnd; after it only a torn tail). After a record whose framing is lost (bad magic,
 * absurd length, wrong index) the scan looks for the next intact record further on (magic, checksum
 * and an index after the last intact one), so one damaged header never hides the records behind it.
 */
export function scanRecords(buf: Buffer, firstIndex: number): ScanResult {
  const records: ScannedRecord[] = [];
  const damaged: number[] = [];
  let pendingBad: number[] = [];
  let off = 0;
  let expect = firstIndex;
  let validEnd = 0;
  while (off < buf.length) {
    const p = parseRecordAt(buf, off);
    if (p.kind === 'ok' && p.index === expect) {
      damaged.push(...pendingBad);
      pendingBad = [];
      records.push({ index: p.index, offset: off, bytes: p.end - off });
      validEnd = p.end;
      off = p.end;
      expect++;
      continue;
    }
    if (p.kind === 'corrupt' && p.index === expect) {
      // Framing holds, contents do not: damage if an intact record follows, else the torn tail.
      pendingBad.push(expect);
      off = p.end;
      expect++;
      continue;
    }
    // Framing lost here: find the next intact record with a later index.
    let next = -1;
    let nextIndex = 0;
    for (let at = buf.indexOf(MAGIC_BYTES, off); at >= 0; at = buf.indexOf(MAGIC_BYTES, at + 1)) {
      const q = parseRecordAt(buf, at);
      if (q.kind === 'ok' && q.index >= expect) { next = at; nextIndex = q.index; break; }
    }
    if (next < 0) break;
    for (let i = expect; i < nextIndex; i++) pendingBad.push(i);
    off = next;
    expect = nextIndex;
  }
  return { records, damaged, validEnd };
}
