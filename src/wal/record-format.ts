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
  /** false when the record's checksum fails but later records are intact (a flipped byte, not a torn tail). */
  valid: boolean;
}

/**
 * Scans consecutive records from offset 0, expecting indexes firstIndex, firstIndex+1, ...
 * Returns the records and `validEnd`: the offset after the last record worth keeping. Everything from
 * validEnd on is a torn tail (a record cut short, garbage, or a bad record with nothing valid after it).
 */
export function scanRecords(buf: Buffer, firstIndex: number): { records: ScannedRecord[]; validEnd: number } {
  const records: ScannedRecord[] = [];
  let off = 0;
  let expect = firstIndex;
  let validEnd = 0;
  let pendingBad: ScannedRecord[] = [];
  while (off < buf.length) {
    const p = parseRecordAt(buf, off);
    if (p.kind === 'short' || p.kind === 'garbage') break;
    if (p.index !== expect) break;
    if (p.kind === 'corrupt') {
      pendingBad.push({ index: p.index, offset: off, bytes: p.end - off, valid: false });
    } else {
      records.push(...pendingBad);
      pendingBad = [];
      records.push({ index: p.index, offset: off, bytes: p.end - off, valid: true });
      validEnd = p.end;
    }
    off = p.end;
    expect++;
  }
  return { records, validEnd };
}
