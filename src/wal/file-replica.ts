/**
 * File layout for local and NFS backends: `<root>/wal/<log>/seg-<firstIndex, 20 digits>.wal`, each a run
 * of framed records (record-format.ts) with consecutive indexes. Appends go at the end of the last
 * segment with one write + fdatasync per batch; a new segment starts when the last one passes
 * segmentBytes, the indexes jump (a member re-joining later) or the replica was just opened (so a fenced
 * writer's late write to the old last segment can never overwrite ours). Creating a segment fsyncs the
 * directory.
 * open() scans every segment and cuts a torn tail (short, garbage or failing record with nothing valid
 * after it); a bad record followed by good ones is kept in place and reported as a checksum mismatch.
 */
import { mkdir, open, readdir, readFile, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, XdbmError, fromSystemError } from '../errors.js';
import { RECORD_HEADER_BYTES, encodeRecords, parseRecordAt, scanRecords } from './record-format.js';
import type { LogReplica, ReplicaRecord } from './replica.js';

const SEGMENT_RE = /^seg-(\d{20})\.wal$/;

interface Segment {
  base: number;
  path: string;
  fh?: FileHandle;
  /** Byte offset of record base+i. */
  offsets: number[];
  sizeBytes: number;
}

export interface FileReplicaOptions {
  endpointId: string;
  /** Backend root (local target.path, NFS mount point). */
  rootDir: string;
  logName: string;
  segmentBytes: number;
}

export function segmentName(base: number): string {
  return `seg-${String(base).padStart(20, '0')}.wal`;
}

export function logDir(rootDir: string, logName: string): string {
  return join(rootDir, 'wal', logName);
}

export class FileReplica implements LogReplica {
  readonly endpointId: string;
  readonly dir: string;
  readonly #segmentBytes: number;
  #segments: Segment[] = [];
  #opened = false;
  #low = 0;
  /**
   * After open() the first append starts a new segment: a writer fenced meanwhile may still have a late
   * write in flight to the old last segment, and it must never land on top of ours.
   */
  #rollOnAppend = true;

  constructor(o: FileReplicaOptions) {
    this.endpointId = o.endpointId;
    this.dir = logDir(o.rootDir, o.logName);
    this.#segmentBytes = o.segmentBytes;
  }

  async open(): Promise<void> {
    if (this.#opened) return;
    try {
      await mkdir(this.dir, { recursive: true });
      const names = (await readdir(this.dir)).filter((n) => SEGMENT_RE.test(n)).sort();
      for (const name of names) {
        const base = Number(SEGMENT_RE.exec(name)![1]);
        const path = join(this.dir, name);
        const buf = await readFile(path);
        const { records, validEnd } = scanRecords(buf, base);
        if (validEnd < buf.length) {
          const fh = await open(path, 'r+');
          try { await fh.truncate(validEnd); await fh.datasync(); } finally { await fh.close(); }
        }
        if (records.length === 0) { await unlink(path); continue; }
        const prev = this.#segments.at(-1);
        if (prev && base <= prev.base + prev.offsets.length - 1) {
          // Overlap left by a crash during truncateSuffix: the later segment wins from its base on.
          await this.#cutSegment(prev, base);
        }
        this.#segments.push({ base, path, offsets: records.map((r) => r.offset), sizeBytes: validEnd });
      }
      this.#opened = true;
      this.#rollOnAppend = true;
    } catch (e) {
      throw fromSystemError(e, `open log replica ${this.dir}`);
    }
  }

  lastIndex(): number {
    const s = this.#segments.at(-1);
    return s ? s.base + s.offsets.length - 1 : 0;
  }

  firstIndex(): number {
    const s = this.#segments[0];
    if (!s) return 0;
    return Math.max(s.base, this.#low);
  }

  has(index: number): boolean {
    return index >= this.#low && this.#find(index) !== undefined;
  }

  async append(records: ReadonlyArray<ReplicaRecord>): Promise<void> {
    if (records.length === 0) return;
    this.#assertOpen();
    const first = records[0]!.index;
    try {
      if (first <= this.lastIndex()) await this.truncateSuffix(first);
      let seg = this.#segments.at(-1);
      if (!seg || this.#rollOnAppend || seg.base + seg.offsets.length !== first || seg.sizeBytes >= this.#segmentBytes) {
        seg = await this.#newSegment(first);
        this.#rollOnAppend = false;
      }
      const fh = await this.#fhFor(seg);
      const buf = encodeRecords(records);
      let written = 0;
      while (written < buf.length) {
        const { bytesWritten } = await fh.write(buf, written, buf.length - written, seg.sizeBytes + written);
        written += bytesWritten;
      }
      await fh.datasync();
      // A segment removed or moved under us (directory gone) is no longer where a reader finds it.
      const [mine, there] = await Promise.all([fh.stat(), stat(seg.path).catch(() => undefined)]);
      if (mine.nlink === 0 || !there || there.ino !== mine.ino || there.dev !== mine.dev) {
        throw new XdbmError(ErrorCode.IO_ERROR, `segment ${seg.path} was removed or moved while open`, { syscallCode: 'ENOENT' });
      }
      let off = seg.sizeBytes;
      for (const r of records) { seg.offsets.push(off); off += RECORD_HEADER_BYTES + r.payload.length; }
      seg.sizeBytes = off;
    } catch (e) {
      throw fromSystemError(e, `append to ${this.dir}`);
    }
  }

  async read(index: number): Promise<Buffer> {
    this.#assertOpen();
    const hit = index >= this.#low ? this.#find(index) : undefined;
    if (!hit) throw new XdbmError(ErrorCode.ENTRY_NOT_FOUND, `index ${index} not in ${this.dir}`, { details: { index } });
    const { seg, pos } = hit;
    const start = seg.offsets[pos]!;
    const end = pos + 1 < seg.offsets.length ? seg.offsets[pos + 1]! : seg.sizeBytes;
    let buf: Buffer;
    try {
      // The open segment keeps its handle; a sealed one is opened for the read only (bounded fds).
      const sealed = seg !== this.#segments.at(-1);
      const fh = sealed ? await open(seg.path, 'r') : await this.#fhFor(seg);
      try {
        buf = Buffer.allocUnsafe(end - start);
        const { bytesRead } = await fh.read(buf, 0, buf.length, start);
        buf = buf.subarray(0, bytesRead);
      } finally {
        if (sealed) await fh.close();
      }
    } catch (e) {
      throw fromSystemError(e, `read index ${index} from ${this.dir}`);
    }
    const p = parseRecordAt(buf, 0);
    if (p.kind !== 'ok' || p.index !== index || p.end !== buf.length) {
      throw new XdbmError(ErrorCode.CHECKSUM_MISMATCH, `record ${index} in ${seg.path} fails its checksum (${p.kind})`, {
        details: { index, endpointId: this.endpointId },
      });
    }
    return Buffer.from(buf.subarray(p.payloadOffset, p.end));
  }

  async truncateSuffix(fromIndex: number): Promise<void> {
    this.#assertOpen();
    try {
      while (this.#segments.length > 0) {
        const seg = this.#segments.at(-1)!;
        if (seg.base >= fromIndex) {
          await seg.fh?.close().catch(() => undefined);
          await unlink(seg.path);
          this.#segments.pop();
          continue;
        }
        if (seg.base + seg.offsets.length > fromIndex) await this.#cutSegment(seg, fromIndex);
        break;
      }
    } catch (e) {
      throw fromSystemError(e, `truncate suffix of ${this.dir}`);
    }
  }

  async truncatePrefix(beforeIndex: number): Promise<void> {
    this.#assertOpen();
    this.#low = Math.max(this.#low, beforeIndex);
    try {
      while (this.#segments.length > 1) {
        const seg = this.#segments[0]!;
        if (seg.base + seg.offsets.length > beforeIndex) break;
        await seg.fh?.close().catch(() => undefined);
        await unlink(seg.path);
        this.#segments.shift();
      }
    } catch (e) {
      throw fromSystemError(e, `truncate prefix of ${this.dir}`);
    }
  }

  async close(): Promise<void> {
    for (const s of this.#segments) {
      const fh = s.fh;
      s.fh = undefined;
      await fh?.close().catch(() => undefined);
    }
    this.#segments = [];
    this.#opened = false;
  }

  #assertOpen(): void {
    if (!this.#opened) throw new XdbmError(ErrorCode.CLOSED, `replica ${this.dir} is not open`);
  }

  #find(index: number): { seg: Segment; pos: number } | undefined {
    const segs = this.#segments;
    let lo = 0;
    let hi = segs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = segs[mid]!;
      if (index < s.base) hi = mid - 1;
      else if (index >= s.base + s.offsets.length) lo = mid + 1;
      else return { seg: s, pos: index - s.base };
    }
    return undefined;
  }

  /** The segment's handle, opened on first use; never left behind by a replica closed meanwhile. */
  async #fhFor(seg: Segment): Promise<FileHandle> {
    if (seg.fh) return seg.fh;
    const fh = await open(seg.path, 'r+');
    if (!this.#opened || !this.#segments.includes(seg)) {
      await fh.close().catch(() => undefined);
      throw new XdbmError(ErrorCode.CLOSED, `replica ${this.dir} closed during I/O`);
    }
    seg.fh = fh;
    return fh;
  }

  async #cutSegment(seg: Segment, fromIndex: number): Promise<void> {
    const pos = fromIndex - seg.base;
    const cutAt = seg.offsets[pos]!;
    const fh = await this.#fhFor(seg);
    await fh.truncate(cutAt);
    await fh.datasync();
    seg.offsets.length = pos;
    seg.sizeBytes = cutAt;
  }

  async #newSegment(base: number): Promise<Segment> {
    const path = join(this.dir, segmentName(base));
    const fh = await open(path, 'w+');
    if (!this.#opened) {
      await fh.close().catch(() => undefined);
      throw new XdbmError(ErrorCode.CLOSED, `replica ${this.dir} closed during I/O`);
    }
    try {
      const dirFh = await open(this.dir, 'r');
      try { await dirFh.sync(); } finally { await dirFh.close(); }
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw e;
    }
    const seg: Segment = { base, path, fh, offsets: [], sizeBytes: 0 };
    const prev = this.#segments.at(-1);
    this.#segments.push(seg);
    // The previous segment is sealed now: its handle goes (reads open it when they need it).
    if (prev?.fh) {
      const old = prev.fh;
      prev.fh = undefined;
      await old.close().catch(() => undefined);
    }
    return seg;
  }
}
