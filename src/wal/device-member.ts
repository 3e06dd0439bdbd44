/**
 * Device layout (block, NVMe-oF) under the MemberLog contract (member-log.ts, M1-M4). All I/O goes
 * through RawDevice (BlockBackend.writeRaw/readRaw/flush: whole blocks at block-aligned offsets) inside
 * the device's data region. B = block size (>= 4096).
 *
 *   block 0    superblock, written once by create() on a device with no superblock:
 *              magic 'XWS2', version 3, nonce u32, B u32, name length u16, name, crc32c.
 *   block 1,2  fence slots, written only by fence() (read, merge, write slot 1 + flush, write slot 2 +
 *              flush, verify): magic 'XWF2', nonce, fenced epoch u32 ("writers of epochs <= E are
 *              fenced"), crc32c. Effective fence = max over the valid slots.
 *   block 3,4  head slots (written by truncatePrefix, alternating; the valid one with the highest
 *              generation whose head batch still carries headSeq wins): magic 'XWH2', nonce,
 *              generation u64, head offset u64, headSeq u64, crc32c.
 *   block 5,6  link slots, written by a writer jumping a fence gap (re-reading the fence before each
 *              slot write): magic 'XWL2', nonce, 0, link count u16, links { from u64, to u64, seq u64,
 *              by u32 }, crc32c. Links = union over the valid slots; links behind the head are dropped.
 *   block 7+   the ring of block-aligned batches. Header (80 bytes):
 *              magic 'XWB2', nonce, seq u64 (ring order, +1 per batch), epoch u32, by u32 (the copy),
 *              firstIndex u64, count u32, bodyBytes u32, previous batch in ring order { offset u64,
 *              epoch u32, by u32, firstIndex u64, count u32 } (offset 0: none), body crc32c,
 *              header crc32c (bytes 0..72). Body: record-format.ts records; zero padding to a block.
 *              A wrap marker block ('XWRP', nonce, seq of the next batch) sends the scan to block 7.
 *
 * Scan: from the head, a batch counts when its header checks, its seq is the expected one and its
 * previous-batch offset is the batch scanned before it. When the chain breaks at offset X:
 *   - damage (M4): a batch with seq+1 whose previous-batch offset is X lies within maxBatchBytes after
 *     X: the batch at X is damaged; the follower's header says which copy and indexes it held (they go to
 *     damaged()); the scan goes on. A batch whose header checks but whose body does not is damage when a
 *     follower exists (its intact records stay readable), a torn tail otherwise;
 *   - fence gap (M3): a link whose gap [from, to) contains X and whose seq is >= the expected one sends
 *     the scan to `to` expecting that seq. A writer whose copy's `by` exceeds every `by` on the device
 *     starts one gap (maxBatchBytes + one block, aligned) past the tail, after recording the link: a
 *     fenced writer's one in-flight write lands inside the gap (read as a batch of its own stale copy, or
 *     ignored) and never on the new writer's batches;
 *   - otherwise X is the tail.
 *
 * Contract notes: open() only reads (a zeroed region: no copies; a superblock of another log: no copies,
 * create() refuses naming it; anything else that fails its checks: XDBM_LOG_CORRUPT with the offset).
 * fence(E) means "writers of epochs <= E are fenced" (copies with by <= E report fenced); it formats a
 * blank device so the fence is recorded, and rescans after the fence is durable (the fencer sees every
 * append the fenced writer counted). append() writes + flushes, then re-reads the fence slots: XDBM_FENCED
 * if its writer was fenced meanwhile. A writer appends only to copies its own instance create()d.
 * truncatePrefix moves the head in ring order and always keeps the newest batch; collect() forgets copies
 * in memory (the head reclaims their space).
 */
import { randomInt } from 'node:crypto';
import { ErrorCode, XdbmError, fromSystemError } from '../errors.js';
import { crc32c } from './crc32c.js';
import { copyKey, type CopyInfo, type CopyRef, type MemberLog, type ReplicaRecord } from './member-log.js';
import { RECORD_HEADER_BYTES, RECORD_MAGIC, encodeRecords, parseRecordAt } from './record-format.js';

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


const SB_MAGIC = 0x32535758; // 'XWS2'
const FENCE_MAGIC = 0x32465758; // 'XWF2'
const LINK_MAGIC = 0x324c5758; // 'XWL2'
const FENCE_BLOCK = 1;
const HEAD_BLOCK = 3;
const LINK_BLOCK = 5;
const RING_BLOCK = 7;
const HEAD_MAGIC = 0x32485758; // 'XWH2'
const BATCH_MAGIC = 0x32425758; // 'XWB2'
const WRAP_MAGIC = 0x50525758; // 'XWRP'
const LAYOUT_VERSION = 3;
const HDR = 80;
const HDR_CRC_AT = 76;
const MIN_BLOCK_BYTES = 4096;
const MAX_LINKS = 128;
const LINK_BYTES = 28;
export const DEFAULT_MAX_BATCH_BYTES = 4 << 20;

interface Loc { offset: number; bytes: number }
interface Desc { offset: number; epoch: number; by: number; firstIndex: number; count: number }
interface Batch extends Desc { seq: number; total: number }
interface Link { from: number; to: number; seq: number; by: number }
interface CopyState { ref: CopyRef; locs: Map<number, Loc>; damaged: Set<number>; first: number; last: number }
type ParsedHeader = Batch & { prev: Desc; bodyBytes: number; bodyCrc: number };
interface FenceState { fenced: number; links: Link[]; valid: number }

const u64 = (b: Buffer, at: number): number => b.readUInt32LE(at) + b.readUInt32LE(at + 4) * 0x1_0000_0000;
const w64 = (b: Buffer, at: number, v: number): void => {
  b.writeUInt32LE(v % 0x1_0000_0000, at);
  b.writeUInt32LE(Math.floor(v / 0x1_0000_0000), at + 4);
};

export interface DeviceMemberOptions {
  endpointId: string;
  device: RawDevice;
  logName: string;
  /** Largest batch a writer sends (and so the largest write a fenced writer may still have in flight). */
  maxBatchBytes?: number | undefined;
}

export class DeviceMember implements MemberLog {
  readonly endpointId: string;
  readonly #dev: RawDevice;
  readonly #name: string;
  readonly #maxBatch: number;
  #block = MIN_BLOCK_BYTES;
  #start = 0;
  #ring = 0;
  #limit = 0;
  #opened = false;
  /** 'none': no superblock; 'other': another log's; 'ours'. */
  #sb: 'none' | 'other' | 'ours' = 'none';
  #otherName = '';
  #nonce = 0;
  #fence: FenceState = { fenced: 0, links: [], valid: 0 };
  #headGen = 0;
  #headSlot = 0;
  #batches: Batch[] = [];
  #copies = new Map<string, CopyState>();
  /** Copies create()d by this instance: the only ones it appends to. */
  #writable = new Set<string>();
  #end = 0;
  #lastSeq = 0;
  #tail: Desc | undefined;
  #maxBy = 0;
  #formattedHere = false;

  constructor(o: DeviceMemberOptions) {
    this.endpointId = o.endpointId;
    this.#dev = o.device;
    this.#name = o.logName;
    this.#maxBatch = o.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
  }

  #align(n: number): number {
    return Math.ceil(n / this.#block) * this.#block;
  }
  get #gap(): number {
    return this.#align(this.#maxBatch) + this.#block;
  }

  async open(): Promise<void> {
    if (this.#opened) return;
    try {
      const r = this.#dev.dataRegion();
      this.#block = Math.max(MIN_BLOCK_BYTES, r.logicalBlockBytes ?? r.blockBytes ?? MIN_BLOCK_BYTES);
      this.#start = r.offsetBytes;
      this.#ring = this.#start + RING_BLOCK * this.#block;
      this.#limit = r.offsetBytes + Math.floor(r.lengthBytes / this.#block) * this.#block;
      if (this.#ring + this.#block > this.#limit) {
        throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `device ${this.endpointId}: data region too small for a log ring`);
      }
      const sb = await this.#dev.readRaw(this.#start, this.#block);
      this.#parseSuperblock(sb);
      if (this.#sb === 'ours') {
        this.#fence = await this.#readFence();
        const f = this.#fence as FenceState & { linkValid: number };
        for (const [what, base, valid] of [['fence', FENCE_BLOCK, f.valid], ['link', LINK_BLOCK, f.linkValid]] as const) {
          if (valid > 0) continue;
          throw new XdbmError(ErrorCode.LOG_CORRUPT, `device ${this.endpointId}: both ${what} slots (offsets ${this.#start + base * this.#block}, ${this.#start + (base + 1) * this.#block}) fail their checks; not touching them`, {
            details: { endpointId: this.endpointId, offset: this.#start + base * this.#block },
          });
        }
        await this.#scan();
      }
      this.#opened = true;
    } catch (e) {
      throw fromSystemError(e, `open device log ${this.endpointId}`);
    }
  }

  copies(): CopyInfo[] {
    return [...this.#copies.values()].map((c) => ({
      epoch: c.ref.epoch, by: c.ref.by, firstIndex: c.first, lastIndex: c.last, fenced: c.ref.by <= this.#fence.fenced,
    }));
  }

  /** The superblock names this log: an epoch with no batch here is empty on this device, not lost. */
  formattedForLog(): boolean {
    return this.#sb === 'ours';
  }

  hasData(): boolean {
    return this.#sb === 'ours' && [...this.#copies.values()].some((c) => c.locs.size > 0 || c.damaged.size > 0);
  }

  has(copy: CopyRef, index: number): boolean {
    return this.#copies.get(copyKey(copy))?.locs.has(index) ?? false;
  }

  lastIndex(copy: CopyRef): number {
    return this.#copies.get(copyKey(copy))?.last ?? 0;
  }

  damaged(copy: CopyRef): number[] {
    return [...(this.#copies.get(copyKey(copy))?.damaged ?? [])].sort((a, b) => a - b);
  }

  async read(copy: CopyRef, index: number): Promise<Buffer> {
    this.#assertOpen();
    const c = this.#copies.get(copyKey(copy));
    const loc = c?.locs.get(index);
    if (!loc) {
      if (c?.damaged.has(index)) {
        throw new XdbmError(ErrorCode.CHECKSUM_MISMATCH, `record ${index} of copy ${copyKey(copy)} on device ${this.endpointId} is damaged`, {
          details: { index, endpointId: this.endpointId },
        });
      }
      throw new XdbmError(ErrorCode.ENTRY_NOT_FOUND, `index ${index} of copy ${copyKey(copy)} not on device ${this.endpointId}`, { details: { index } });
    }
    const from = Math.floor(loc.offset / this.#block) * this.#block;
    let buf: Buffer;
    try {
      buf = await this.#dev.readRaw(from, this.#align(loc.offset + loc.bytes - from));
    } catch (e) {
      throw fromSystemError(e, `read index ${index} from device ${this.endpointId}`);
    }
    const rec = Buffer.from(buf.subarray(loc.offset - from, loc.offset - from + loc.bytes));
    const p = parseRecordAt(rec, 0);
    if (p.kind !== 'ok' || p.index !== index) {
      throw new XdbmError(ErrorCode.CHECKSUM_MISMATCH, `record ${index} on device ${this.endpointId} fails its checksum`, {
        details: { index, endpointId: this.endpointId },
      });
    }
    return Buffer.from(rec.subarray(RECORD_HEADER_BYTES));
  }

  async create(copy: CopyRef): Promise<void> {
    this.#assertOpen();
    if (this.#sb === 'other') {
      throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `device ${this.endpointId} holds log '${this.#otherName}', not '${this.#name}' (one log per device)`, {
        details: { endpointId: this.endpointId, otherLog: this.#otherName },
      });
    }
    try {
      if (this.#sb === 'none') {
        // Re-check on the medium: only a device with no superblock at all is formatted.
        const sb = await this.#dev.readRaw(this.#start, this.#block);
        if (sb.every((b) => b === 0)) await this.#format();
        else if ((await this.#adopt(sb)) === 'other') return await this.create(copy); // refuses, naming it
      }
      this.#fence = await this.#readFence();
    } catch (e) {
      throw fromSystemError(e, `create copy on device ${this.endpointId}`);
    }
    if (copy.by <= this.#fence.fenced) throw this.#fenced(copy);
    const key = copyKey(copy);
    if (this.#writable.has(key)) return;
    if (this.#copies.has(key)) {
      throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `copy ${key} already exists on ${this.endpointId}: it belongs to another writer`);
    }
    this.#copyState(copy);
    this.#writable.add(key);
  }

  async append(copy: CopyRef, records: ReadonlyArray<ReplicaRecord>): Promise<void> {
    if (records.length === 0) return;
    this.#assertOpen();
    if (this.#sb !== 'ours' || !this.#writable.has(copyKey(copy))) {
      throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `copy ${copyKey(copy)} on ${this.endpointId} was not created by this writer`);
    }
    const c = this.#copyState(copy);
    for (let k = 0; k < records.length; k++) {
      const i = records[k]!.index;
      if ((k === 0 && i <= c.last) || (k > 0 && i !== records[k - 1]!.index + 1)) {
        throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `append to ${copyKey(copy)} on ${this.endpointId}: index ${i} does not follow ${k === 0 ? c.last : records[k - 1]!.index}`);
      }
    }
    if (copy.by <= this.#fence.fenced) throw this.#fenced(copy);
    const body = encodeRecords(records);
    const total = this.#align(HDR + body.length);
    if (total > this.#align(this.#maxBatch)) {
      throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `batch of ${total} bytes exceeds maxBatchBytes ${this.#maxBatch}`);
    }
    // A writer newer than everything on the device starts past a fence gap, unless this instance formatted
    // the device and nothing has been written since (no other writer can have a write in flight here).
    const jump = copy.by > this.#maxBy && !(this.#formattedHere && this.#lastSeq === 0 && this.#batches.length === 0);
    const { at, wrap } = this.#placeFor(total, jump);
    const seq = this.#lastSeq + (jump ? 2 : 1); // room for one stale batch in the gap
    const prev = this.#tail; // after a jump too: a damaged last batch before the gap is still described
    const buf = this.#batchBuf(body, records, copy, seq, prev, total);
    try {
      if (jump) {
        await this.#writeLink({ from: this.#end, to: at, seq, by: copy.by });
      } else if (wrap && this.#end + this.#block <= this.#limit) {
        await this.#dev.writeRaw(this.#end, this.#marker(seq));
      }
      await this.#dev.writeRaw(at, buf);
      await this.#dev.flush();
      // M3: the write counts only if it was durable before any fence of its writer.
      this.#fence = { ...this.#fence, fenced: this.#merge(await this.#readFenceSlots()).fenced };
    } catch (e) {
      throw fromSystemError(e, `append to device log ${this.endpointId}`);
    }
    if (copy.by <= this.#fence.fenced) throw this.#fenced(copy);
    const d: Batch = { offset: at, epoch: copy.epoch, by: copy.by, firstIndex: records[0]!.index, count: records.length, seq, total };
    this.#indexBatch(d, buf, true);
    this.#maxBy = Math.max(this.#maxBy, copy.by);
  }

  async fence(epoch: number): Promise<void> {
    this.#assertOpen();
    if (this.#sb === 'other') return; // another log's device: no writer of this log can write here
    try {
      if (this.#sb === 'none') {
        // Record the fence even on a blank device, or a stale writer could format it later and append unfenced.
        const sb = await this.#dev.readRaw(this.#start, this.#block);
        if (!sb.every((b) => b === 0)) {
          if ((await this.#adopt(sb)) === 'other') return;
        } else {
          await this.#format();
        }
      }
      for (let attempt = 0; attempt < 3; attempt++) {
        await this.#writeFenceSlots(epoch);
        const slots = await this.#readFenceSlots();
        this.#fence = { ...this.#fence, fenced: this.#merge(slots).fenced };
        if (slots.every((x) => x && x.fenced >= epoch)) break;
      }
      // M3: every append the fenced writer counted was durable before the fence: scan again so that the
      // fencer sees it (its open() scan may be older than those appends).
      await this.#rescan();
    } catch (e) {
      throw fromSystemError(e, `fence epoch ${epoch} on device ${this.endpointId}`);
    }
  }

  async truncatePrefix(beforeIndex: number): Promise<void> {
    this.#assertOpen();
    // The newest batch stays (it tells where the ring and its copy end).
    let k = 0;
    while (k < this.#batches.length - 1 && this.#batches[k]!.firstIndex + this.#batches[k]!.count <= beforeIndex) k++;
    if (k === 0) return;
    for (const b of this.#batches.slice(0, k)) {
      const c = this.#copies.get(copyKey(b));
      if (!c) continue;
      for (let i = b.firstIndex; i < b.firstIndex + b.count; i++) {
        c.locs.delete(i);
        c.damaged.delete(i);
      }
      this.#bounds(c);
    }
    this.#batches = this.#batches.slice(k);
    const next = this.#batches[0]!;
    try {
      await this.#writeHead(next.offset, next.seq);
    } catch (e) {
      throw fromSystemError(e, `truncate device log ${this.endpointId}`);
    }
  }

  async collect(keep: (c: CopyRef) => boolean, olderThanEpoch: number): Promise<void> {
    this.#assertOpen();
    for (const [k, c] of [...this.#copies]) {
      if (c.ref.by < olderThanEpoch && !keep(c.ref)) {
        this.#copies.delete(k);
        this.#writable.delete(k);
      }
    }
  }

  async close(): Promise<void> {
    this.#opened = false;
    this.#copies.clear();
    this.#writable.clear();
    this.#batches = [];
  }

  // ---- internals ----

  async #rescan(): Promise<void> {
    const mine = [...this.#writable].map((k) => this.#copies.get(k)?.ref).filter((r): r is CopyRef => r !== undefined);
    this.#fence = await this.#readFence();
    await this.#scan();
    for (const r of mine) this.#copyState(r);
  }

  /** A superblock written since open() (another process formatted the device): take it and scan. */
  async #adopt(sb: Buffer): Promise<'ours' | 'other' | 'none'> {
    this.#parseSuperblock(sb);
    if (this.#sb === 'ours') {
      this.#fence = await this.#readFence();
      await this.#scan();
    }
    return this.#sb;
  }

  #assertOpen(): void {
    if (!this.#opened) throw new XdbmError(ErrorCode.CLOSED, `device member ${this.endpointId} is not open`);
  }

  #fenced(copy: CopyRef): XdbmError {
    return new XdbmError(ErrorCode.FENCED, `copy ${copyKey(copy)} on device ${this.endpointId} is fenced (epochs <= ${this.#fence.fenced})`, {
      details: { endpointId: this.endpointId, epoch: copy.epoch, by: copy.by, fenced: this.#fence.fenced },
    });
  }

  #copyState(ref: CopyRef): CopyState {
    const k = copyKey(ref);
    let c = this.#copies.get(k);
    if (!c) {
      c = { ref: { epoch: ref.epoch, by: ref.by }, locs: new Map(), damaged: new Set(), first: 0, last: 0 };
      this.#copies.set(k, c);
    }
    return c;
  }

  #bounds(c: CopyState): void {
    let first = 0;
    let last = 0;
    for (const i of c.locs.keys()) {
      if (first === 0 || i < first) first = i;
      if (i > last) last = i;
    }
    c.first = first;
    c.last = last;
  }

  #parseSuperblock(sb: Buffer): void {
    if (sb.every((b) => b === 0)) {
      this.#sb = 'none';
      return;
    }
    const where = `device ${this.endpointId} offset ${this.#start}`;
    const magic = sb.readUInt32LE(0);
    if (magic !== SB_MAGIC || sb.readUInt32LE(4) !== LAYOUT_VERSION) {
      throw new XdbmError(ErrorCode.LOG_CORRUPT, `${where}: superblock magic/version 0x${magic.toString(16)}/${sb.readUInt32LE(4)} is not a log superblock; not touching it`, {
        details: { endpointId: this.endpointId, offset: this.#start },
      });
    }
    const nameLen = sb.readUInt16LE(16);
    if (nameLen > 255 || 18 + nameLen + 4 > sb.length || crc32c(sb.subarray(0, 18 + nameLen)) !== sb.readUInt32LE(18 + nameLen)) {
      throw new XdbmError(ErrorCode.LOG_CORRUPT, `${where}: superblock fails its checksum; not touching it`, {
        details: { endpointId: this.endpointId, offset: this.#start },
      });
    }
    const name = sb.toString('utf8', 18, 18 + nameLen);
    if (name !== this.#name) {
      this.#sb = 'other';
      this.#otherName = name;
      return;
    }
    this.#sb = 'ours';
    this.#nonce = sb.readUInt32LE(8);
    if (sb.readUInt32LE(12) !== this.#block) {
      throw new XdbmError(ErrorCode.LOG_CORRUPT, `${where}: superblock block size ${sb.readUInt32LE(12)} differs from the device's ${this.#block}`);
    }
  }

  async #format(): Promise<void> {
    this.#nonce = randomInt(1, 0xffffffff);
    const empty = Buffer.alloc(this.#block);
    // Fence and head slots first, the superblock last: a crash in between leaves a device that open() reports as unformatted.
    this.#fence = { fenced: 0, links: [], valid: 2 };
    const blank = { fenced: 0, links: [] };
    for (let k = 0; k < 2; k++) {
      await this.#dev.writeRaw(this.#start + (FENCE_BLOCK + k) * this.#block, this.#slotBuf(FENCE_MAGIC, blank));
      await this.#dev.writeRaw(this.#start + (LINK_BLOCK + k) * this.#block, this.#slotBuf(LINK_MAGIC, blank));
    }
    await this.#dev.writeRaw(this.#start + (HEAD_BLOCK + 1) * this.#block, empty);
    this.#headGen = 0;
    this.#headSlot = 1;
    this.#batches = [];
    this.#end = this.#ring;
    this.#lastSeq = 0;
    this.#tail = undefined;
    this.#maxBy = 0;
    await this.#writeHead(this.#ring, 1);
    const sb = Buffer.alloc(this.#block);
    const name = Buffer.from(this.#name, 'utf8').subarray(0, 255);
    sb.writeUInt32LE(SB_MAGIC, 0);
    sb.writeUInt32LE(LAYOUT_VERSION, 4);
    sb.writeUInt32LE(this.#nonce, 8);
    sb.writeUInt32LE(this.#block, 12);
    sb.writeUInt16LE(name.length, 16);
    name.copy(sb, 18);
    sb.writeUInt32LE(crc32c(sb.subarray(0, 18 + name.length)), 18 + name.length);
    await this.#dev.writeRaw(this.#start, sb);
    await this.#dev.flush();
    this.#sb = 'ours';
    this.#formattedHere = true;
  }

  // fence slots (blocks 1, 2: written by fence() only) and link slots (blocks 5, 6: written by a writer
  // jumping a fence gap). Same format, different magic: magic, nonce, fenced epoch, link count, links, crc.

  #slotBuf(magic: number, f: { fenced: number; links: Link[] }): Buffer {
    const b = Buffer.alloc(this.#block);
    const links = f.links.slice(-MAX_LINKS);
    b.writeUInt32LE(magic, 0);
    b.writeUInt32LE(this.#nonce, 4);
    b.writeUInt32LE(f.fenced, 8);
    b.writeUInt16LE(links.length, 12);
    let at = 16;
    for (const l of links) {
      w64(b, at, l.from);
      w64(b, at + 8, l.to);
      w64(b, at + 16, l.seq);
      b.writeUInt32LE(l.by, at + 24);
      at += LINK_BYTES;
    }
    b.writeUInt32LE(crc32c(b.subarray(0, at)), at);
    return b;
  }

  #parseSlot(magic: number, b: Buffer): { fenced: number; links: Link[] } | undefined {
    if (b.readUInt32LE(0) !== magic || b.readUInt32LE(4) !== this.#nonce) return undefined;
    const n = b.readUInt16LE(12);
    if (n > MAX_LINKS) return undefined;
    const at = 16 + n * LINK_BYTES;
    if (crc32c(b.subarray(0, at)) !== b.readUInt32LE(at)) return undefined;
    const links: Link[] = [];
    for (let k = 0; k < n; k++) {
      const o = 16 + k * LINK_BYTES;
      links.push({ from: u64(b, o), to: u64(b, o + 8), seq: u64(b, o + 16), by: b.readUInt32LE(o + 24) });
    }
    return { fenced: b.readUInt32LE(8), links };
  }

  async #readPair(base: number, magic: number): Promise<Array<{ fenced: number; links: Link[] } | undefined>> {
    const b = await this.#dev.readRaw(this.#start + base * this.#block, 2 * this.#block);
    return [this.#parseSlot(magic, b.subarray(0, this.#block)), this.#parseSlot(magic, b.subarray(this.#block))];
  }

  async #readFenceSlots(): Promise<Array<{ fenced: number; links: Link[] } | undefined>> {
    return this.#readPair(FENCE_BLOCK, FENCE_MAGIC);
  }

  #merge(slots: Array<{ fenced: number; links: Link[] } | undefined>, extra?: { fenced?: number; links?: Link[] }): FenceState {
    let fenced = extra?.fenced ?? 0;
    const links = new Map<number, Link>();
    let valid = 0;
    for (const s of slots) {
      if (!s) continue;
      valid++;
      fenced = Math.max(fenced, s.fenced);
      for (const l of s.links) links.set(l.seq, l);
    }
    for (const l of extra?.links ?? []) links.set(l.seq, l);
    return { fenced, links: [...links.values()].sort((a, b) => a.seq - b.seq), valid };
  }

  /** The effective fence (max over valid fence slots) and the links (union over valid link slots). */
  async #readFence(): Promise<FenceState & { linkValid: number }> {
    const f = this.#merge(await this.#readFenceSlots());
    const l = this.#merge(await this.#readPair(LINK_BLOCK, LINK_MAGIC));
    return { fenced: f.fenced, valid: f.valid, links: l.links, linkValid: l.valid };
  }

  /** fence(): read, merge, write fence slot 1, flush, write fence slot 2, flush. */
  async #writeFenceSlots(epoch: number): Promise<void> {
    for (let slot = 0; slot < 2; slot++) {
      const merged = this.#merge(await this.#readFenceSlots(), { fenced: epoch });
      await this.#dev.writeRaw(this.#start + (FENCE_BLOCK + slot) * this.#block, this.#slotBuf(FENCE_MAGIC, { fenced: merged.fenced, links: [] }));
      await this.#dev.flush();
      this.#fence = { ...this.#fence, fenced: merged.fenced };
    }
  }

  /**
   * A writer jumping a fence gap records its link in both link slots, one write + flush each. Before each
   * write it re-reads the fence and stops with XDBM_FENCED once its epoch is fenced: a fenced writer's late
   * link write destroys at most one link slot, and never touches a fence slot.
   */
  async #writeLink(link: Link): Promise<void> {
    for (let slot = 0; slot < 2; slot++) {
      const fenced = this.#merge(await this.#readFenceSlots()).fenced;
      this.#fence = { ...this.#fence, fenced };
      if (link.by <= fenced) throw this.#fenced({ epoch: link.by, by: link.by });
      const merged = this.#merge(await this.#readPair(LINK_BLOCK, LINK_MAGIC), { links: [link] });
      // Links behind the head are never followed again (the scan starts at the head's seq): drop them.
      const headSeq = this.#batches[0]?.seq ?? 0;
      const links = merged.links.filter((l) => l.seq >= headSeq);
      await this.#dev.writeRaw(this.#start + (LINK_BLOCK + slot) * this.#block, this.#slotBuf(LINK_MAGIC, { fenced: 0, links }));
      await this.#dev.flush();
      this.#fence = { ...this.#fence, links };
    }
  }

  // head slots

  async #writeHead(head: number, headSeq: number): Promise<void> {
    const b = Buffer.alloc(this.#block);
    this.#headGen++;
    this.#headSlot ^= 1;
    b.writeUInt32LE(HEAD_MAGIC, 0);
    b.writeUInt32LE(this.#nonce, 4);
    w64(b, 8, this.#headGen);
    w64(b, 16, head);
    w64(b, 24, headSeq);
    b.writeUInt32LE(crc32c(b.subarray(0, 32)), 32);
    await this.#dev.writeRaw(this.#start + (HEAD_BLOCK + this.#headSlot) * this.#block, b);
    await this.#dev.flush();
  }

  async #readHeads(): Promise<Array<{ slot: number; gen: number; head: number; seq: number }>> {
    const b = await this.#dev.readRaw(this.#start + HEAD_BLOCK * this.#block, 2 * this.#block);
    const out: Array<{ slot: number; gen: number; head: number; seq: number }> = [];
    for (let slot = 0; slot < 2; slot++) {
      const s = b.subarray(slot * this.#block, (slot + 1) * this.#block);
      if (s.readUInt32LE(0) !== HEAD_MAGIC || s.readUInt32LE(4) !== this.#nonce || crc32c(s.subarray(0, 32)) !== s.readUInt32LE(32)) continue;
      const head = u64(s, 16);
      if (head < this.#ring || head >= this.#limit || head % this.#block !== 0) continue;
      out.push({ slot, gen: u64(s, 8), head, seq: u64(s, 24) });
    }
    return out.sort((a, b) => b.gen - a.gen);
  }

  // batches

  #batchBuf(body: Buffer, records: ReadonlyArray<ReplicaRecord>, copy: CopyRef, seq: number, prev: Desc | undefined, total: number): Buffer {
    const b = Buffer.alloc(total);
    b.writeUInt32LE(BATCH_MAGIC, 0);
    b.writeUInt32LE(this.#nonce, 4);
    w64(b, 8, seq);
    b.writeUInt32LE(copy.epoch, 16);
    b.writeUInt32LE(copy.by, 20);
    w64(b, 24, records[0]!.index);
    b.writeUInt32LE(records.length, 32);
    b.writeUInt32LE(body.length, 36);
    w64(b, 40, prev?.offset ?? 0);
    b.writeUInt32LE(prev?.epoch ?? 0, 48);
    b.writeUInt32LE(prev?.by ?? 0, 52);
    w64(b, 56, prev?.firstIndex ?? 0);
    b.writeUInt32LE(prev?.count ?? 0, 64);
    body.copy(b, HDR);
    b.writeUInt32LE(crc32c(body), 72);
    b.writeUInt32LE(crc32c(b.subarray(0, HDR_CRC_AT)), HDR_CRC_AT);
    return b;
  }

  #parseHeader(b: Buffer, at: number): ParsedHeader | undefined {
    if (at + HDR > b.length || b.readUInt32LE(at) !== BATCH_MAGIC || b.readUInt32LE(at + 4) !== this.#nonce) return undefined;
    if (crc32c(b.subarray(at, at + HDR_CRC_AT)) !== b.readUInt32LE(at + HDR_CRC_AT)) return undefined;
    const bodyBytes = b.readUInt32LE(at + 36);
    const count = b.readUInt32LE(at + 32);
    if (count === 0) return undefined;
    return {
      offset: -1, seq: u64(b, at + 8), epoch: b.readUInt32LE(at + 16), by: b.readUInt32LE(at + 20), firstIndex: u64(b, at + 24), count,
      total: this.#align(HDR + bodyBytes), bodyBytes, bodyCrc: b.readUInt32LE(at + 72),
      prev: { offset: u64(b, at + 40), epoch: b.readUInt32LE(at + 48), by: b.readUInt32LE(at + 52), firstIndex: u64(b, at + 56), count: b.readUInt32LE(at + 64) },
    };
  }

  #marker(seq: number): Buffer {
    const b = Buffer.alloc(this.#block);
    b.writeUInt32LE(WRAP_MAGIC, 0);
    b.writeUInt32LE(this.#nonce, 4);
    w64(b, 8, seq);
    b.writeUInt32LE(crc32c(b.subarray(0, 16)), 16);
    return b;
  }

  #isMarker(b: Buffer, seq: number): boolean {
    return b.readUInt32LE(0) === WRAP_MAGIC && b.readUInt32LE(4) === this.#nonce && u64(b, 8) === seq && crc32c(b.subarray(0, 16)) === b.readUInt32LE(16);
  }

  /**
   * Where the next batch of `total` bytes goes. With `jump`, past a fence gap after the tail (and, when a
   * fenced writer's in-flight batch could have wrapped, past a gap at the ring start too).
   */
  #placeFor(total: number, jump: boolean): { at: number; wrap: boolean } {
    const from = this.#end;
    let at = from;
    let wrap = false;
    if (jump) {
      at = from + this.#gap;
      if (from + this.#align(this.#maxBatch) + this.#block > this.#limit) {
        at = this.#ring + this.#gap;
        wrap = true;
      }
    }
    if (at + total > this.#limit) {
      at = this.#ring;
      wrap = true;
    }
    const full = (): never => {
      throw new XdbmError(ErrorCode.NO_SPACE, `device log ring of ${this.endpointId} is full`, { syscallCode: 'ENOSPC' });
    };
    if (at + total > this.#limit) full();
    const head = this.#batches[0]?.offset;
    if (head !== undefined) {
      const liveWrapped = this.#end <= head;
      if (liveWrapped) {
        if (wrap || at + total > head) full();
      } else if (wrap && at + total > head) {
        full();
      }
    }
    return { at, wrap };
  }

  #indexBatch(d: Batch, buf: Buffer, intact: boolean): void {
    const c = this.#copyState(d);
    if (intact) {
      let off = HDR;
      for (let k = 0; k < d.count; k++) {
        const bytes = RECORD_HEADER_BYTES + buf.readUInt32LE(off + 12);
        c.locs.set(d.firstIndex + k, { offset: d.offset + off, bytes });
        c.damaged.delete(d.firstIndex + k);
        off += bytes;
      }
    } else {
      // Body damaged: keep the records whose own checksums hold, report the rest.
      let off = HDR;
      const body = buf.subarray(0, HDR + buf.readUInt32LE(36));
      const ok = new Set<number>();
      let expect = d.firstIndex;
      const end = d.firstIndex + d.count;
      while (expect < end && off < body.length) {
        const p = parseRecordAt(body, off);
        if (p.kind === 'ok' && p.index === expect) {
          c.locs.set(p.index, { offset: d.offset + off, bytes: p.end - off });
          ok.add(p.index);
          off = p.end;
          expect++;
        } else if (p.kind === 'corrupt' && p.index === expect) {
          off = p.end;
          expect++;
        } else {
          // Framing lost (a flipped magic, index or length): find the next intact record of this batch.
          let found = false;
          for (let q = off + 1; q + RECORD_HEADER_BYTES <= body.length; q++) {
            if (body.readUInt32LE(q) !== RECORD_MAGIC) continue;
            const r = parseRecordAt(body, q);
            if (r.kind === 'ok' && r.index > expect && r.index < end) {
              off = q;
              expect = r.index;
              found = true;
              break;
            }
          }
          if (!found) break;
        }
      }
      for (let i = d.firstIndex; i < d.firstIndex + d.count; i++) if (!ok.has(i)) this.#markDamaged(c, i);
    }
    this.#bounds(c);
    this.#batches.push(d);
    this.#tail = { offset: d.offset, epoch: d.epoch, by: d.by, firstIndex: d.firstIndex, count: d.count };
    this.#lastSeq = d.seq;
    this.#end = d.offset + d.total;
    this.#maxBy = Math.max(this.#maxBy, d.by);
  }

  #markDamaged(c: CopyState, i: number): void {
    if (!c.locs.has(i)) c.damaged.add(i);
  }

  /** A batch with `seq` whose previous-batch offset is `after`, within maxBatchBytes after it (M4). */
  async #follower(after: number, seq: number): Promise<{ at: number; h: ParsedHeader } | undefined> {
    const from = after + this.#block;
    const to = Math.min(this.#limit, after + this.#align(this.#maxBatch) + this.#block);
    if (from < to) {
      const b = await this.#dev.readRaw(from, to - from);
      for (let o = 0; o + HDR <= b.length; o += this.#block) {
        const h = this.#parseHeader(b, o);
        if (h && h.seq === seq && h.prev.offset === after) return { at: from + o, h };
      }
    }
    if (after === this.#ring) return undefined;
    const h = this.#parseHeader(await this.#dev.readRaw(this.#ring, this.#block), 0);
    return h && h.seq === seq && h.prev.offset === after ? { at: this.#ring, h } : undefined;
  }

  async #scan(): Promise<void> {
    this.#copies.clear();
    this.#batches = [];
    this.#tail = undefined;
    this.#maxBy = 0;
    for (const l of this.#fence.links) this.#maxBy = Math.max(this.#maxBy, l.by);
    const heads = await this.#readHeads();
    if (heads.length === 0) {
      throw new XdbmError(ErrorCode.LOG_CORRUPT, `device ${this.endpointId}: both head slots (offsets ${this.#start + HEAD_BLOCK * this.#block}, ${this.#start + (HEAD_BLOCK + 1) * this.#block}) fail their checks; not touching them`, {
        details: { endpointId: this.endpointId, offset: this.#start + HEAD_BLOCK * this.#block },
      });
    }
    // The newest head slot whose head batch still carries its seq; else the newest (everything was truncated).
    let start = heads[0];
    for (const h of heads) {
      const p = this.#parseHeader(await this.#dev.readRaw(h.head, this.#block), 0);
      if (p && p.seq === h.seq) { start = h; break; }
    }
    this.#headGen = start?.gen ?? 0;
    this.#headSlot = start?.slot ?? 1;
    let off = start?.head ?? this.#ring;
    let expect = start?.seq ?? 1;
    let prev: number | undefined; // offset of the batch before, undefined at the head and after a jump
    let scanned = 0;
    const ringBytes = this.#limit - this.#ring;
    while (scanned <= 2 * ringBytes) {
      if (off + this.#block > this.#limit) { off = this.#ring; continue; }
      const hb = await this.#dev.readRaw(off, this.#block);
      if (this.#isMarker(hb, expect)) { scanned += this.#limit - off; off = this.#ring; continue; }
      const h = this.#parseHeader(hb, 0);
      if (h && h.seq === expect && (prev === undefined || h.prev.offset === prev) && off + h.total <= this.#limit) {
        const buf = h.total > this.#block ? await this.#dev.readRaw(off, h.total) : hb;
        const d: Batch = { offset: off, epoch: h.epoch, by: h.by, firstIndex: h.firstIndex, count: h.count, seq: h.seq, total: h.total };
        const intact = crc32c(buf.subarray(HDR, HDR + h.bodyBytes)) === h.bodyCrc;
        if (intact || (await this.#followerAt(off + h.total, expect + 1, off))) {
          this.#indexBatch(d, buf, intact);
          prev = off;
          expect++;
          off += h.total;
          scanned += h.total;
          continue;
        }
        // Damaged body of the last batch before a fence gap: the first batch past the gap names it.
        const lf = await this.#linkFollower(off, expect);
        if (lf) {
          this.#indexBatch(d, buf, false);
          scanned += this.#ringDistance(off, lf.to);
          off = lf.to;
          expect = lf.seq;
          prev = undefined;
          continue;
        }
      } else {
        // Damaged header: the follower's header describes it (right after it, or past a fence gap).
        let f = await this.#follower(off, expect + 1);
        let jumpTo: Link | undefined;
        if (!f) {
          jumpTo = await this.#linkFollower(off, expect);
          if (jumpTo) {
            const h2 = this.#parseHeader(await this.#dev.readRaw(jumpTo.to, this.#block), 0)!;
            f = { at: jumpTo.to, h: h2 };
          }
        }
        if (f) {
          const p = f.h.prev;
          const d: Batch = { offset: off, epoch: p.epoch, by: p.by, firstIndex: p.firstIndex, count: p.count, seq: expect, total: f.at > off ? f.at - off : this.#block };
          if (jumpTo) d.total = this.#block;
          const c = this.#copyState(d);
          for (let i = p.firstIndex; i < p.firstIndex + p.count; i++) this.#markDamaged(c, i);
          this.#batches.push(d);
          this.#tail = { offset: off, epoch: p.epoch, by: p.by, firstIndex: p.firstIndex, count: p.count };
          this.#lastSeq = expect;
          this.#maxBy = Math.max(this.#maxBy, p.by);
          scanned += this.#ringDistance(off, f.at);
          if (jumpTo) {
            off = jumpTo.to;
            expect = jumpTo.seq;
            prev = undefined;
          } else {
            prev = off;
            expect++;
            off = f.at;
          }
          continue;
        }
      }
      // Chain broken at `off`: a fence gap that contains it, or the tail.
      const link = this.#fence.links
        .filter((l) => l.seq >= expect && (l.from <= l.to ? off >= l.from && off < l.to : off >= l.from || off < l.to))
        .sort((a, b) => a.seq - b.seq)[0];
      if (!link) break;
      scanned += link.to >= off ? link.to - off : this.#limit - off + link.to - this.#ring;
      off = link.to;
      expect = link.seq;
      prev = undefined;
    }
    this.#end = off;
    this.#lastSeq = expect - 1;
  }

  /** The link whose first batch (past the gap) names the batch at `off` as its previous one. */
  async #linkFollower(off: number, expect: number): Promise<Link | undefined> {
    for (const l of this.#fence.links.filter((x) => x.seq > expect).sort((a, b) => a.seq - b.seq)) {
      const h = this.#parseHeader(await this.#dev.readRaw(l.to, this.#block), 0);
      if (h && h.seq === l.seq && h.prev.offset === off) return l;
    }
    return undefined;
  }

  #ringDistance(from: number, to: number): number {
    return to > from ? to - from : this.#limit - from + (to - this.#ring);
  }

  /** A batch with `seq` following the batch at `prevOffset`: right after it, or wrapped to the ring start. */
  async #followerAt(at: number, seq: number, prevOffset: number): Promise<boolean> {
    for (const o of at + this.#block <= this.#limit ? [at, this.#ring] : [this.#ring]) {
      const h = this.#parseHeader(await this.#dev.readRaw(o, this.#block), 0);
      if (h && h.seq === seq && h.prev.offset === prevOffset) return true;
    }
    return false;
  }
}
