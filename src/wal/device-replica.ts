/**
 * Device layout for block and NVMe-oF backends, written through BlockBackend.writeRaw/readRaw/flush
 * (O_DIRECT: every write is whole blocks at block-aligned offsets) inside the device's data region:
 *
 *   block 0  superblock: magic 'XWSB', version, nonce, generation, blockBytes, head offset (u64: where
 *            the oldest live batch starts), name length, name, crc32c
 *   block 1+ a ring of batches, each block-aligned:
 *            header: magic 'XWB1', nonce u32, generation u32, count u32, bodyBytes u32, crc32c u32 (of
 *            header bytes 0..20 and the body); body: `count` records in record-format.ts framing;
 *            zero padding up to the next block.
 *
 * A batch counts only if its magic, nonce (this format of this log) and checksum hold, its indexes
 * follow the previous batch, and its generation is not below the previous one: truncateSuffix raises
 * the generation in the superblock first, so batches left beyond a cut never come back. The scan stops
 * at the first batch that fails: a torn write is a tail that is simply not there.
 * The batch area is a ring: live batches run from the head (in the superblock) to the end, wrapping to
 * block 1 when the next batch does not fit (a wrap marker block says so when there is room for one).
 * truncatePrefix moves the head, which frees space; when the tail would run into the head, appends fail
 * with XDBM_NO_SPACE (the log then moves to another member).
 */
import { randomInt } from 'node:crypto';
import { ErrorCode, XdbmError, fromSystemError } from '../errors.js';
import { crc32c } from './crc32c.js';
import { RECORD_HEADER_BYTES, encodeRecords, parseRecordAt } from './record-format.js';
import type { ReplicaRecord } from './member-log.js';
/** The pre-epoch replica shape (kept for this file's own tests until the device member replaces it). */
interface LogReplica { readonly endpointId: string }

/** What the log needs from BlockBackend (src/backends/block.ts). */
export interface RawDevice {
  endpointId: string;
  dataRegion(): { offsetBytes: number; lengthBytes: number; logicalBlockBytes?: number; blockBytes?: number };
  writeRaw(offsetBytes: number, data: Uint8Array): Promise<unknown>;
  readRaw(offsetBytes: number, lengthBytes: number): Promise<Buffer>;
  flush(): Promise<void>;
}

export function isRawDevice(b: unknown): b is RawDevice {
  const o = b as Partial<RawDevice>;
  return typeof o?.dataRegion === 'function' && typeof o.writeRaw === 'function' && typeof o.readRaw === 'function' && typeof o.flush === 'function';
}

const SB_MAGIC = 0x42535758; // 'XWSB'
const BATCH_MAGIC = 0x31425758; // 'XWB1'
const WRAP_MAGIC = 0x50525758; // 'XWRP'
const LAYOUT_VERSION = 2;
const BATCH_HEADER_BYTES = 24;
const MIN_BLOCK_BYTES = 4096;

interface Loc { offset: number; bytes: number }
interface BatchLoc { offset: number; firstIndex: number; count: number; totalBytes: number }

export class DeviceReplica implements LogReplica {
  readonly endpointId: string;
  readonly #dev: RawDevice;
  readonly #name: string;
  #block = MIN_BLOCK_BYTES;
  #start = 0;
  #limit = 0;
  #nonce = 0;
  #generation = 0;
  #end = 0;
  /** Offset of the oldest live batch (ring head). */
  #head = 0;
  #locs = new Map<number, Loc>();
  #batches: BatchLoc[] = [];
  #first = 0;
  #last = 0;
  #low = 0;
  #opened = false;

  constructor(o: { endpointId: string; device: RawDevice; logName: string }) {
    this.endpointId = o.endpointId;
    this.#dev = o.device;
    this.#name = o.logName;
  }

  #align(n: number): number {
    return Math.ceil(n / this.#block) * this.#block;
  }

  async open(): Promise<void> {
    if (this.#opened) return;
    try {
      const r = this.#dev.dataRegion();
      this.#block = Math.max(MIN_BLOCK_BYTES, r.logicalBlockBytes ?? r.blockBytes ?? MIN_BLOCK_BYTES);
      this.#start = r.offsetBytes;
      this.#limit = r.offsetBytes + Math.floor(r.lengthBytes / this.#block) * this.#block;
      const sb = await this.#dev.readRaw(this.#start, this.#block);
      const parsed = this.#parseSuperblock(sb);
      if (parsed) {
        this.#nonce = parsed.nonce;
        this.#generation = parsed.generation;
        this.#head = parsed.head >= this.#start + this.#block && parsed.head < this.#limit ? parsed.head : this.#start + this.#block;
        await this.#scan();
      } else {
        await this.#format();
      }
      this.#opened = true;
    } catch (e) {
      throw fromSystemError(e, `open device log ${this.endpointId}`);
    }
  }

  lastIndex(): number { return this.#last; }
  firstIndex(): number { return this.#first === 0 ? 0 : Math.max(this.#first, this.#low); }
  has(index: number): boolean { return index >= this.#low && this.#locs.has(index); }

  async append(records: ReadonlyArray<ReplicaRecord>): Promise<void> {
    if (records.length === 0) return;
    this.#assertOpen();
    const first = records[0]!.index;
    if (this.#last !== 0 && first <= this.#last) await this.truncateSuffix(first);
    const body = encodeRecords(records);
    const total = this.#align(BATCH_HEADER_BYTES + body.length);
    const at = this.#placeFor(total);
    const buf = this.#batch(body, records.length, total);
    try {
      if (this.#batches.length === 0 && at !== this.#head) {
        this.#head = at; // an empty ring restarts where this batch goes
        await this.#writeSuperblock();
      }
      if (at !== this.#end && this.#end + this.#block <= this.#limit) {
        await this.#dev.writeRaw(this.#end, this.#marker()); // tells the scan to go on at block 1
      }
      await this.#dev.writeRaw(at, buf);
      await this.#dev.flush();
    } catch (e) {
      throw fromSystemError(e, `append to device log ${this.endpointId}`);
    }
    this.#index(at, buf, records[0]!.index, records.length);
    this.#end = at + total;
  }

  async read(index: number): Promise<Buffer> {
    this.#assertOpen();
    const loc = index >= this.#low ? this.#locs.get(index) : undefined;
    if (!loc) throw new XdbmError(ErrorCode.ENTRY_NOT_FOUND, `index ${index} not on device ${this.endpointId}`, { details: { index } });
    const from = Math.floor(loc.offset / this.#block) * this.#block;
    const len = this.#align(loc.offset + loc.bytes - from);
    let buf: Buffer;
    try {
      buf = await this.#dev.readRaw(from, len);
    } catch (e) {
      throw fromSystemError(e, `read index ${index} from device ${this.endpointId}`);
    }
    const rec = buf.subarray(loc.offset - from, loc.offset - from + loc.bytes);
    const p = parseRecordAt(Buffer.from(rec), 0);
    if (p.kind !== 'ok' || p.index !== index) {
      throw new XdbmError(ErrorCode.CHECKSUM_MISMATCH, `record ${index} on device ${this.endpointId} fails its checksum`, {
        details: { index, endpointId: this.endpointId },
      });
    }
    return Buffer.from(rec.subarray(RECORD_HEADER_BYTES));
  }

  async truncateSuffix(fromIndex: number): Promise<void> {
    this.#assertOpen();
    if (this.#last === 0 || fromIndex > this.#last) return;
    const keep: ReplicaRecord[] = [];
    const bi = this.#batches.findIndex((b) => b.firstIndex + b.count > fromIndex);
    const b = this.#batches[bi]!;
    for (let i = b.firstIndex; i < fromIndex; i++) keep.push({ index: i, payload: await this.read(i) });
    // Raise the generation first: batches beyond the cut carry a lower one and are never scanned again.
    this.#generation++;
    await this.#writeSuperblock();
    for (let i = b.firstIndex; i <= this.#last; i++) this.#locs.delete(i);
    this.#batches.length = bi;
    this.#end = b.offset;
    const prev = this.#batches.at(-1);
    this.#last = prev ? prev.firstIndex + prev.count - 1 : 0;
    if (!prev) this.#first = 0;
    if (keep.length > 0) await this.append(keep);
  }

  async truncatePrefix(beforeIndex: number): Promise<void> {
    this.#assertOpen();
    this.#low = Math.max(this.#low, beforeIndex);
    if (this.#last !== 0 && beforeIndex > this.#last) {
      // Nothing left: reformat so the whole area is free again.
      await this.#format();
      return;
    }
    let k = 0;
    while (k < this.#batches.length - 1 && this.#batches[k]!.firstIndex + this.#batches[k]!.count <= beforeIndex) k++;
    if (k === 0) return;
    for (const b of this.#batches.slice(0, k)) for (let i = b.firstIndex; i < b.firstIndex + b.count; i++) this.#locs.delete(i);
    this.#batches = this.#batches.slice(k);
    this.#head = this.#batches[0]!.offset;
    this.#first = this.#batches[0]!.firstIndex;
    await this.#writeSuperblock();
  }

  async close(): Promise<void> {
    this.#opened = false;
    this.#locs.clear();
    this.#batches = [];
  }

  #assertOpen(): void {
    if (!this.#opened) throw new XdbmError(ErrorCode.CLOSED, `device replica ${this.endpointId} is not open`);
  }

  #parseSuperblock(sb: Buffer): { nonce: number; generation: number; head: number } | undefined {
    if (sb.length < 64 || sb.readUInt32LE(0) !== SB_MAGIC || sb.readUInt32LE(4) !== LAYOUT_VERSION) return undefined;
    const nameLen = sb.readUInt16LE(28);
    if (nameLen > 255 || 30 + nameLen + 4 > sb.length) return undefined;
    const crc = sb.readUInt32LE(30 + nameLen);
    if (crc32c(sb.subarray(0, 30 + nameLen)) !== crc) return undefined;
    if (sb.toString('utf8', 30, 30 + nameLen) !== this.#name) return undefined; // another log's format: start over
    const head = sb.readUInt32LE(20) + sb.readUInt32LE(24) * 0x1_0000_0000;
    return { nonce: sb.readUInt32LE(8), generation: sb.readUInt32LE(12), head };
  }

  async #writeSuperblock(): Promise<void> {
    const sb = Buffer.alloc(this.#block);
    const name = Buffer.from(this.#name, 'utf8').subarray(0, 255);
    sb.writeUInt32LE(SB_MAGIC, 0);
    sb.writeUInt32LE(LAYOUT_VERSION, 4);
    sb.writeUInt32LE(this.#nonce, 8);
    sb.writeUInt32LE(this.#generation, 12);
    sb.writeUInt32LE(this.#block, 16);
    sb.writeUInt32LE(this.#head % 0x1_0000_0000, 20);
    sb.writeUInt32LE(Math.floor(this.#head / 0x1_0000_0000), 24);
    sb.writeUInt16LE(name.length, 28);
    name.copy(sb, 30);
    sb.writeUInt32LE(crc32c(sb.subarray(0, 30 + name.length)), 30 + name.length);
    await this.#dev.writeRaw(this.#start, sb);
    await this.#dev.flush();
  }

  async #format(): Promise<void> {
    let nonce = randomInt(1, 0xffffffff);
    if (nonce === this.#nonce) nonce ^= 1;
    this.#nonce = nonce;
    this.#generation = 0;
    this.#head = this.#start + this.#block;
    await this.#writeSuperblock();
    this.#locs.clear();
    this.#batches = [];
    this.#first = 0;
    this.#last = 0;
    this.#end = this.#start + this.#block;
  }

  #batch(body: Buffer, count: number, total: number): Buffer {
    const buf = Buffer.alloc(total);
    buf.writeUInt32LE(BATCH_MAGIC, 0);
    buf.writeUInt32LE(this.#nonce, 4);
    buf.writeUInt32LE(this.#generation, 8);
    buf.writeUInt32LE(count, 12);
    buf.writeUInt32LE(body.length, 16);
    body.copy(buf, BATCH_HEADER_BYTES);
    buf.writeUInt32LE(crc32c(body, crc32c(buf.subarray(0, 20))), 20);
    return buf;
  }

  /** Where a batch of `total` bytes goes: at the end, or wrapped to block 1; XDBM_NO_SPACE if the ring is full. */
  #placeFor(total: number): number {
    const first = this.#start + this.#block;
    const empty = this.#batches.length === 0;
    const wrapped = !empty && this.#end <= this.#head;
    if (empty) {
      if (this.#end + total <= this.#limit) return this.#end;
      if (first + total <= this.#limit) return first;
    } else if (!wrapped) {
      if (this.#end + total <= this.#limit) return this.#end;
      if (first + total <= this.#head) return first;
    } else if (this.#end + total <= this.#head) {
      return this.#end;
    }
    throw new XdbmError(ErrorCode.NO_SPACE, `device log ring of ${this.endpointId} is full`, { syscallCode: 'ENOSPC' });
  }

  #marker(): Buffer {
    const b = Buffer.alloc(this.#block);
    b.writeUInt32LE(WRAP_MAGIC, 0);
    b.writeUInt32LE(this.#nonce, 4);
    b.writeUInt32LE(this.#generation, 8);
    return b;
  }

  #index(offset: number, buf: Buffer, firstIndex: number, count: number): void {
    let off = BATCH_HEADER_BYTES;
    for (let k = 0; k < count; k++) {
      const bytes = RECORD_HEADER_BYTES + buf.readUInt32LE(off + 12);
      this.#locs.set(firstIndex + k, { offset: offset + off, bytes });
      off += bytes;
    }
    this.#batches.push({ offset, firstIndex, count, totalBytes: this.#align(off) });
    if (this.#first === 0) this.#first = firstIndex;
    this.#last = firstIndex + count - 1;
  }

  async #scan(): Promise<void> {
    this.#locs.clear();
    this.#batches = [];
    this.#first = 0;
    this.#last = 0;
    const first = this.#start + this.#block;
    let off = this.#head;
    let gen = 0;
    let wrapped = false;
    for (;;) {
      if (off + this.#block > this.#limit) {
        if (wrapped) break;
        wrapped = true;
        off = first;
        continue;
      }
      if (wrapped && off >= this.#head) break; // came round to the head: the ring is full
      const head = await this.#dev.readRaw(off, this.#block);
      if (head.readUInt32LE(4) !== this.#nonce) break;
      if (head.readUInt32LE(0) === WRAP_MAGIC && !wrapped && head.readUInt32LE(8) >= gen) {
        wrapped = true;
        off = first;
        continue;
      }
      if (head.readUInt32LE(0) !== BATCH_MAGIC) break;
      const g = head.readUInt32LE(8);
      const count = head.readUInt32LE(12);
      const bodyBytes = head.readUInt32LE(16);
      const total = this.#align(BATCH_HEADER_BYTES + bodyBytes);
      if (g < gen || g > this.#generation || count === 0 || off + total > this.#limit) break;
      if (wrapped && off + total > this.#head) break;
      const buf = total > this.#block ? await this.#dev.readRaw(off, total) : head;
      if (crc32c(buf.subarray(BATCH_HEADER_BYTES, BATCH_HEADER_BYTES + bodyBytes), crc32c(buf.subarray(0, 20))) !== buf.readUInt32LE(20)) break;
      const p = parseRecordAt(buf, BATCH_HEADER_BYTES);
      if (p.kind !== 'ok' || (this.#last !== 0 && p.index <= this.#last)) break;
      this.#index(off, buf, p.index, count);
      gen = g;
      off += total;
    }
    this.#end = off;
  }
}
