/**
 * File layout of a log on one member (local and NFS backends):
 *
 *   <root>/wal/<log>/e<N>/seg-<base, 20 digits>.wal   copy {N, N}: what the writer of epoch N wrote
 *   <root>/wal/<log>/s<N>/...                         the same copy after fence(N) renamed it
 *   <root>/wal/<log>/c<N>-<K>/...                     copy {N, K}: epoch N's range re-replicated by writer K
 *
 * Each segment is a run of framed records (record-format.ts) with consecutive indexes.
 *
 * How the member contract (member-log.ts) is kept:
 *   M1 open() reads only. The backend root must exist (else XDBM_NOT_FOUND: unreachable, not empty);
 *      the log directory and the copy directories are created by create() alone.
 *   M2 Segments are created with O_EXCL and only ever appended to by the writer that created them; a
 *      torn tail is left where it is (nothing appends after it: the next writer has its own copy).
 *   M3 fence(N) renames e<N> to s<N>. Every append of the writer of N ends with a check that its
 *      segment is still at e<N>/...: a write that passed the check before the rename is durable and
 *      visible to the fencer's scan after it; after the rename every append fails with XDBM_FENCED,
 *      and no new segment can be created (e<N> is gone). A writer's create() of e<N> racing a fence
 *      is settled by both sides making their own directory first and checking for the other's after
 *      (create: mkdir e<N>, then s<N> must not exist; fence: mkdir or rename to s<N>, then e<N> must
 *      not exist), so one of the two always sees the other.
 *      On NFS the check depends on the client revalidating the lookup (close-to-open semantics); mount
 *      with `lookupcache=positive` or stricter.
 *   M4 scanRecords keeps records after a damaged one and reports the damaged indexes.
 */
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, XdbmError, fromSystemError } from '../errors.js';
import { copyKey, type CopyInfo, type CopyRef, type MemberLog, type ReplicaRecord } from './member-log.js';
import { RECORD_HEADER_BYTES, encodeRecords, parseRecordAt, scanRecords } from './record-format.js';

const SEGMENT_RE = /^seg-(\d{20})\.wal$/;
const COPY_RE = /^(?:([es])(\d{1,15})|c(\d{1,15})-(\d{1,15}))$/;

interface Segment {
  base: number;
  path: string;
  fh?: FileHandle;
  /** Byte offset of record base+i, or -1 where the record is damaged. */
  offsets: number[];
  sizeBytes: number;
}

interface Copy {
  ref: CopyRef;
  dir: string;
  fenced: boolean;
  segments: Segment[];
  damaged: Set<number>;
  /** Created by this instance: it may append (a copy found on the medium is read-only). */
  writable: boolean;
}

export interface FileMemberOptions {
  endpointId: string;
  /** Backend root (local target.path, NFS mount point). Must exist. */
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

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException)?.code;

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try { await fh.sync(); } finally { await fh.close(); }
}

export class FileMember implements MemberLog {
  readonly endpointId: string;
  readonly root: string;
  readonly dir: string;
  readonly #segmentBytes: number;
  #copies = new Map<string, Copy>();
  #opened = false;

  constructor(o: FileMemberOptions) {
    this.endpointId = o.endpointId;
    this.root = o.rootDir;
    this.dir = logDir(o.rootDir, o.logName);
    this.#segmentBytes = o.segmentBytes;
  }

  async open(): Promise<void> {
    if (this.#opened) return;
    await this.#assertRoot();
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if (errno(e) !== 'ENOENT') throw fromSystemError(e, `open log directory ${this.dir}`);
      names = []; // this member never held a copy of the log (the root itself is there)
    }
    const copies = new Map<string, Copy>();
    for (const name of names.sort()) {
      const m = COPY_RE.exec(name);
      if (!m) continue;
      const ref: CopyRef = m[1] ? { epoch: Number(m[2]), by: Number(m[2]) } : { epoch: Number(m[3]), by: Number(m[4]) };
      const fenced = m[1] === 's';
      const key = copyKey(ref);
      // e<N> next to s<N>: a fenced writer's create() that lost the race (it never wrote there).
      if (copies.has(key) && !fenced) continue;
      copies.set(key, await this.#scanCopy(ref, join(this.dir, name), fenced));
    }
    this.#copies = copies;
    this.#opened = true;
  }

  copies(): CopyInfo[] {
    const out: CopyInfo[] = [];
    for (const c of this.#copies.values()) {
      out.push({ ...c.ref, fenced: c.fenced, firstIndex: this.#first(c), lastIndex: this.#last(c) });
    }
    return out;
  }

  hasData(): boolean {
    return [...this.#copies.values()].some((c) => this.#last(c) > 0);
  }

  has(copy: CopyRef, index: number): boolean {
    const c = this.#copies.get(copyKey(copy));
    if (!c || c.damaged.has(index)) return false;
    const hit = this.#find(c, index);
    return hit !== undefined && hit.seg.offsets[hit.pos]! >= 0;
  }

  lastIndex(copy: CopyRef): number {
    const c = this.#copies.get(copyKey(copy));
    return c ? this.#last(c) : 0;
  }

  damaged(copy: CopyRef): number[] {
    return [...(this.#copies.get(copyKey(copy))?.damaged ?? [])].sort((a, b) => a - b);
  }

  async read(copy: CopyRef, index: number): Promise<Buffer> {
    this.#assertOpen();
    const c = this.#copies.get(copyKey(copy));
    const hit = c ? this.#find(c, index) : undefined;
    if (!c || !hit || hit.seg.offsets[hit.pos]! < 0 || c.damaged.has(index)) {
      throw new XdbmError(ErrorCode.ENTRY_NOT_FOUND, `index ${index} not in ${this.dir}/${copyKey(copy)}`, { details: { index, endpointId: this.endpointId } });
    }
    const { seg, pos } = hit;
    const start = seg.offsets[pos]!;
    let end = seg.sizeBytes;
    for (let k = pos + 1; k < seg.offsets.length; k++) if (seg.offsets[k]! >= 0) { end = seg.offsets[k]!; break; }
    let buf: Buffer;
    try {
      // The segment being written keeps its handle; others are opened for the read only (bounded fds).
      const fh = seg.fh ?? await open(seg.path, 'r');
      try {
        buf = Buffer.allocUnsafe(end - start);
        const { bytesRead } = await fh.read(buf, 0, buf.length, start);
        buf = buf.subarray(0, bytesRead);
      } finally {
        if (fh !== seg.fh) await fh.close();
      }
    } catch (e) {
      if (errno(e) === 'ENOENT') {
        // Renamed by a fence since we scanned: the same file lives on under s<N>.
        const moved = this.#relocate(c, seg);
        if (moved) return this.read(copy, index);
      }
      throw fromSystemError(e, `read index ${index} from ${seg.path}`);
    }
    const p = parseRecordAt(buf, 0);
    if (p.kind !== 'ok' || p.index !== index) {
      c.damaged.add(index);
      throw new XdbmError(ErrorCode.CHECKSUM_MISMATCH, `record ${index} in ${seg.path} fails its checks (${p.kind})`, {
        details: { index, endpointId: this.endpointId },
      });
    }
    return Buffer.from(buf.subarray(p.payloadOffset, p.end));
  }

  async create(copy: CopyRef): Promise<void> {
    this.#assertOpen();
    const key = copyKey(copy);
    const existing = this.#copies.get(key);
    if (existing?.writable) return;
    if (existing?.fenced) throw this.#fencedError(copy);
    if (existing) throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `copy ${key} already exists on ${this.endpointId}: it belongs to another writer`);
    await this.#assertRoot();
    const dir = join(this.dir, key);
    try {
      // The log's directory under an existing root, level by level (never the root itself).
      for (const d of [join(this.root, 'wal'), this.dir]) {
        try { await mkdir(d); } catch (e) { if (errno(e) !== 'EEXIST') throw e; }
      }
      try {
        await mkdir(dir);
      } catch (e) {
        // An empty e<K> is a create() of a writer whose claim of K then lost its CAS (it never writes
        // before its CAS succeeds): the writer that holds K now may take it over.
        if (errno(e) !== 'EEXIST' || (await readdir(dir)).length > 0) throw e;
      }
      await fsyncDir(this.dir);
    } catch (e) {
      throw fromSystemError(e, `create ${dir}`);
    }
    if (copy.by === copy.epoch && await this.#exists(join(this.dir, `s${copy.epoch}`))) {
      throw this.#fencedError(copy);
    }
    this.#copies.set(key, { ref: { epoch: copy.epoch, by: copy.by }, dir, fenced: false, segments: [], damaged: new Set(), writable: true });
  }

  async append(copy: CopyRef, records: ReadonlyArray<ReplicaRecord>): Promise<void> {
    if (records.length === 0) return;
    this.#assertOpen();
    const c = this.#copies.get(copyKey(copy));
    if (!c || !c.writable) throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `copy ${copyKey(copy)} on ${this.endpointId} was not created by this writer`);
    const first = records[0]!.index;
    const last = this.#last(c);
    if (last > 0 && first <= last) {
      throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `append of ${first} to ${copyKey(copy)} on ${this.endpointId}, which already holds up to ${last}`);
    }
    let seg = c.segments.at(-1);
    try {
      if (!seg || seg.base + seg.offsets.length !== first || seg.sizeBytes >= this.#segmentBytes) seg = await this.#newSegment(c, first);
      const fh = await this.#fhFor(seg);
      const buf = encodeRecords(records);
      let written = 0;
      while (written < buf.length) {
        const { bytesWritten } = await fh.write(buf, written, buf.length - written, seg.sizeBytes + written);
        written += bytesWritten;
      }
      await fh.datasync();
      // M3: durable first, then still where readers look. A fence renamed e<N> away: refuse the ack.
      const [mine, there] = await Promise.all([fh.stat(), stat(seg.path).catch(() => undefined)]);
      if (mine.nlink === 0 || !there || there.ino !== mine.ino || there.dev !== mine.dev) {
        if (copy.by === copy.epoch && await this.#exists(join(this.dir, `s${copy.epoch}`))) throw this.#fencedError(copy);
        throw new XdbmError(ErrorCode.IO_ERROR, `segment ${seg.path} was removed or moved while open`, { syscallCode: 'ENOENT' });
      }
      let off = seg.sizeBytes;
      for (const r of records) { seg.offsets.push(off); off += RECORD_HEADER_BYTES + r.payload.length; }
      seg.sizeBytes = off;
    } catch (e) {
      throw fromSystemError(e, `append to ${c.dir}`);
    }
  }

  async fence(epoch: number): Promise<void> {
    this.#assertOpen();
    const e = join(this.dir, `e${epoch}`);
    const s = join(this.dir, `s${epoch}`);
    try {
      for (let round = 0; round < 4; round++) {
        try {
          await rename(e, s); // replaces an empty s<N> left by an earlier round
          await fsyncDir(this.dir);
          break;
        } catch (err) {
          const code = errno(err);
          if (code === 'ENOTEMPTY' || code === 'EEXIST') {
            // Both exist and s<N> has data: e<N> is a fenced writer's late create() that saw s<N> and
            // stopped before writing. Nothing to move.
            break;
          }
          if (code !== 'ENOENT') throw err;
        }
        // e<N> absent: leave s<N> in its place first, then look for an e<N> created meanwhile.
        try { await mkdir(s); } catch (err) { if (errno(err) !== 'EEXIST') throw err; }
        await fsyncDir(this.dir);
        if (!(await this.#exists(e))) break;
      }
    } catch (err) {
      throw fromSystemError(err, `fence epoch ${epoch} in ${this.dir}`);
    }
    // Scan again now that the fence holds: appends the old writer got acknowledged between our open()
    // and the rename are in the files, and recovery must see them (M3).
    const key = copyKey({ epoch, by: epoch });
    const old = this.#copies.get(key);
    for (const seg of old?.segments ?? []) { const fh = seg.fh; seg.fh = undefined; await fh?.close().catch(() => undefined); }
    this.#copies.set(key, await this.#scanCopy({ epoch, by: epoch }, s, true));
  }

  async truncatePrefix(beforeIndex: number): Promise<void> {
    this.#assertOpen();
    try {
      for (const c of this.#copies.values()) {
        // The last segment of a copy stays (it tells where the copy ends).
        while (c.segments.length > 1) {
          const seg = c.segments[0]!;
          if (seg.base + seg.offsets.length > beforeIndex) break;
          const fh = seg.fh;
          seg.fh = undefined;
          await fh?.close().catch(() => undefined);
          await unlink(seg.path).catch((e) => { if (errno(e) !== 'ENOENT') throw e; });
          c.segments.shift();
        }
      }
    } catch (e) {
      throw fromSystemError(e, `truncate prefix of ${this.dir}`);
    }
  }

  async collect(keep: (c: CopyRef) => boolean, olderThanEpoch: number): Promise<void> {
    this.#assertOpen();
    for (const [key, c] of [...this.#copies]) {
      if (c.ref.by >= olderThanEpoch || keep(c.ref)) continue;
      for (const seg of c.segments) { const fh = seg.fh; seg.fh = undefined; await fh?.close().catch(() => undefined); }
      try {
        await rm(c.dir, { recursive: true, force: true });
        // A lost create() race can leave an empty e<N> beside s<N>.
        if (c.fenced) await rmdir(join(this.dir, `e${c.ref.epoch}`)).catch(() => undefined);
      } catch (e) {
        throw fromSystemError(e, `remove ${c.dir}`);
      }
      this.#copies.delete(key);
    }
  }

  async close(): Promise<void> {
    for (const c of this.#copies.values()) {
      for (const s of c.segments) {
        const fh = s.fh;
        s.fh = undefined;
        await fh?.close().catch(() => undefined);
      }
    }
    this.#copies.clear();
    this.#opened = false;
  }

  // ---- internals --------------------------------------------------------------------------------

  async #assertRoot(): Promise<void> {
    let st;
    try {
      st = await stat(this.root);
    } catch (e) {
      if (errno(e) === 'ENOENT') {
        throw new XdbmError(ErrorCode.NOT_FOUND, `backend root ${this.root} of ${this.endpointId} does not exist (not mounted, or removed)`, {
          syscallCode: 'ENOENT', details: { endpointId: this.endpointId, path: this.root },
        });
      }
      throw fromSystemError(e, `stat backend root ${this.root}`);
    }
    if (!st.isDirectory()) {
      throw new XdbmError(ErrorCode.NOT_FOUND, `backend root ${this.root} of ${this.endpointId} is not a directory`, {
        syscallCode: 'ENOTDIR', details: { endpointId: this.endpointId, path: this.root },
      });
    }
  }

  async #exists(p: string): Promise<boolean> {
    try { await stat(p); return true; } catch (e) {
      if (errno(e) === 'ENOENT') return false;
      throw e;
    }
  }

  #fencedError(copy: CopyRef): XdbmError {
    return new XdbmError(ErrorCode.FENCED, `epoch ${copy.epoch} of ${this.dir} was fenced on ${this.endpointId}: a later writer took the log over`, {
      details: { endpointId: this.endpointId, epoch: copy.epoch },
    });
  }

  #assertOpen(): void {
    if (!this.#opened) throw new XdbmError(ErrorCode.CLOSED, `member log ${this.dir} is not open`);
  }

  async #scanCopy(ref: CopyRef, dir: string, fenced: boolean): Promise<Copy> {
    const c: Copy = { ref, dir, fenced, segments: [], damaged: new Set(), writable: false };
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => SEGMENT_RE.test(n)).sort();
    } catch (e) {
      throw fromSystemError(e, `list ${dir}`);
    }
    /** Segments with no intact record: their indexes are damaged up to the next segment's base. */
    const unreadable: number[] = [];
    for (const name of names) {
      const base = Number(SEGMENT_RE.exec(name)![1]);
      const path = join(dir, name);
      for (const b of unreadable.splice(0)) for (let i = b; i < base; i++) c.damaged.add(i);
      let buf: Buffer;
      try {
        buf = await readFile(path);
      } catch (e) {
        throw fromSystemError(e, `read ${path}`);
      }
      const { records, damaged } = scanRecords(buf, base);
      if (records.length === 0) {
        if (buf.length > 0) unreadable.push(base);
        continue;
      }
      const prev = c.segments.at(-1);
      const first = records[0]!.index;
      // Segments of one copy never overlap (created with O_EXCL at increasing bases); if one did, the
      // overlap is not trusted from either.
      if (prev && first <= prev.base + prev.offsets.length - 1) {
        for (let i = first; i < prev.base + prev.offsets.length; i++) c.damaged.add(i);
      }
      const last = records.at(-1)!.index;
      const offsets = new Array<number>(last - first + 1).fill(-1);
      for (const r of records) offsets[r.index - first] = r.offset;
      const tail = records.at(-1)!;
      c.segments.push({ base: first, path, offsets, sizeBytes: tail.offset + tail.bytes });
      for (const i of damaged) if (i > first && i < last) c.damaged.add(i);
      if (base < first) for (let i = base; i < first; i++) c.damaged.add(i);
    }
    return c;
  }

  /** A segment whose e<N> was renamed to s<N> since we scanned it: point it at its new home. */
  #relocate(c: Copy, seg: Segment): boolean {
    if (c.ref.by !== c.ref.epoch || c.fenced) return false;
    c.fenced = true;
    c.dir = join(this.dir, `s${c.ref.epoch}`);
    for (const s of c.segments) s.path = join(c.dir, s.path.slice(s.path.lastIndexOf('/') + 1));
    return seg.path.startsWith(c.dir);
  }

  #first(c: Copy): number {
    const s = c.segments[0];
    return s ? s.base : 0;
  }

  #last(c: Copy): number {
    const s = c.segments.at(-1);
    return s && s.offsets.length > 0 ? s.base + s.offsets.length - 1 : 0;
  }

  #find(c: Copy, index: number): { seg: Segment; pos: number } | undefined {
    const segs = c.segments;
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

  async #fhFor(seg: Segment): Promise<FileHandle> {
    if (seg.fh) return seg.fh;
    let fh: FileHandle;
    try {
      fh = await open(seg.path, 'r+');
    } catch (e) {
      const c = [...this.#copies.values()].find((x) => x.segments.includes(seg));
      if (errno(e) === 'ENOENT' && c && c.ref.by === c.ref.epoch && await this.#exists(join(this.dir, `s${c.ref.epoch}`))) throw this.#fencedError(c.ref);
      throw e;
    }
    if (!this.#opened) {
      await fh.close().catch(() => undefined);
      throw new XdbmError(ErrorCode.CLOSED, `member log ${this.dir} closed during I/O`);
    }
    seg.fh = fh;
    return fh;
  }

  async #newSegment(c: Copy, base: number): Promise<Segment> {
    const path = join(c.dir, segmentName(base));
    let fh: FileHandle;
    try {
      // O_EXCL: never open (let alone truncate) a segment someone else made.
      fh = await open(path, 'wx+');
    } catch (e) {
      if (errno(e) === 'ENOENT' && c.ref.by === c.ref.epoch && await this.#exists(join(this.dir, `s${c.ref.epoch}`))) throw this.#fencedError(c.ref);
      throw e;
    }
    if (!this.#opened) {
      await fh.close().catch(() => undefined);
      throw new XdbmError(ErrorCode.CLOSED, `member log ${this.dir} closed during I/O`);
    }
    try {
      await fsyncDir(c.dir);
    } catch (e) {
      await fh.close().catch(() => undefined);
      // e<N> renamed away between the create and the fsync: a fence, not a broken member.
      if (errno(e) === 'ENOENT' && c.ref.by === c.ref.epoch && await this.#exists(join(this.dir, `s${c.ref.epoch}`))) throw this.#fencedError(c.ref);
      throw e;
    }
    const seg: Segment = { base, path, fh, offsets: [], sizeBytes: 0 };
    const prev = c.segments.at(-1);
    c.segments.push(seg);
    // The previous segment is complete: its handle goes (reads open it when they need it).
    if (prev?.fh) {
      const old = prev.fh;
      prev.fh = undefined;
      await old.close().catch(() => undefined);
    }
    return seg;
  }
}
