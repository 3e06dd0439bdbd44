/**
 * One member's storage of one log: the layout-independent face that the writer, recovery, the reader
 * and re-replication go through. file-member.ts (local, NFS: a directory per copy) and
 * device-replica.ts (block, NVMe-oF: one ring of epoch-tagged batches) implement it; the simulator
 * (test/sim) implements it in memory with faults.
 *
 * A member holds several COPIES of ranges of the log. A copy is named by the epoch whose range it
 * holds and by the epoch of the writer that wrote it:
 *   - { epoch: N, by: N }  written by the writer of epoch N as a member of N's ensemble;
 *   - { epoch: N, by: K }  K > N: a re-replication copy of N's range made by the writer of epoch K.
 * The metadata says which copies exist (ensemble-history.ts); a reader trusts a copy only for the
 * range the metadata gives its epoch, so records a writer put beyond that range (unacknowledged,
 * or a fenced writer's late writes) are never read.
 *
 * Contract (the log's invariants in log.ts rest on it):
 *   M1 open() only reads. It never creates, formats, truncates or repairs anything. A root that does
 *      not exist, is not mounted or cannot be read fails with that error (XDBM_NOT_FOUND,
 *      XDBM_NOT_MOUNTED, I/O codes): the member is unreachable, never empty.
 *   M2 Nothing written to a copy is ever rewritten in place. append() adds records after the ones
 *      the copy holds; a new segment/area is created exclusively (never by truncating an old one).
 *   M3 fence(N): once it resolves, an append to copy {N, N} by any process fails (XDBM_FENCED) unless
 *      that append's records were already durable, and a late write of a fenced writer can never
 *      land on records of a later epoch. Idempotent; safe to race with the fenced writer.
 *   M4 A record is trusted only if its checksum and its index hold. A damaged record followed by
 *      intact ones is reported in damaged(), not treated as the end of the copy.
 */
export interface ReplicaRecord {
  index: number;
  payload: Uint8Array;
}

export interface CopyRef {
  /** The epoch whose range this copy holds. */
  readonly epoch: number;
  /** The epoch of the writer that wrote it (== epoch for ensemble members, > epoch for re-replication). */
  readonly by: number;
}

export function sameCopy(a: CopyRef, b: CopyRef): boolean {
  return a.epoch === b.epoch && a.by === b.by;
}

export function copyKey(c: CopyRef): string {
  return c.by === c.epoch ? `e${c.epoch}` : `c${c.epoch}-${c.by}`;
}

export interface CopyInfo extends CopyRef {
  /** Lowest intact index held (0 when none). */
  readonly firstIndex: number;
  /** Highest intact index held (0 when none). */
  readonly lastIndex: number;
  /** Whether fence(epoch) has been applied to this copy (by anyone). */
  readonly fenced: boolean;
}

export interface MemberLog {
  readonly endpointId: string;
  /** Reads what is on the medium (M1). Idempotent. */
  open(): Promise<void>;
  /** Every copy found by open() or created since. */
  copies(): CopyInfo[];
  /** Whether the medium holds anything of this log (used when the metadata is missing). */
  hasData(): boolean;
  /**
   * Layouts that cannot show an empty copy (a device ring keeps batches, not copies) say here that
   * the medium is formatted for this log, so a member of an epoch that never got a record of it is
   * known to be empty rather than lost. File layouts leave it out: their copy directory shows it.
   */
  formattedForLog?(): boolean;
  has(copy: CopyRef, index: number): boolean;
  /** Highest intact index of the copy (0 when none). */
  lastIndex(copy: CopyRef): number;
  /** Indexes whose records are damaged but followed by intact ones (M4). */
  damaged(copy: CopyRef): number[];
  /** Payload of `index` in `copy`, checksum and index verified (XDBM_ENTRY_NOT_FOUND, XDBM_CHECKSUM_MISMATCH, I/O codes). */
  read(copy: CopyRef, index: number): Promise<Buffer>;
  /**
   * Makes `copy` writable by this process: creates its area exclusively, and the log's own directory
   * (never the backend root) if this is the member's first copy. XDBM_FENCED if the copy was fenced.
   */
  create(copy: CopyRef): Promise<void>;
  /**
   * Writes consecutive records after what `copy` holds (records[0].index may jump forward, never back)
   * and makes them durable (one write + one flush: group commit). XDBM_FENCED once the copy is fenced.
   */
  append(copy: CopyRef, records: ReadonlyArray<ReplicaRecord>): Promise<void>;
  /** Storage-side fence of the writer of `epoch` (M3). */
  fence(epoch: number): Promise<void>;
  /** Drops whole segments/batches holding only indexes < beforeIndex, in every copy. */
  truncatePrefix(beforeIndex: number): Promise<void>;
  /**
   * Removes copies the metadata no longer names (garbage of fenced writers, aborted recoveries,
   * truncated epochs). `keep` returns true for a copy to keep. Only copies with by < `olderThanEpoch`
   * are considered: a writer never removes what a later writer may be writing.
   */
  collect(keep: (c: CopyRef) => boolean, olderThanEpoch: number): Promise<void>;
  close(): Promise<void>;
}
