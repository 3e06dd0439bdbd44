/**
 * Ensemble history of one log (BookKeeper's `firstEntryId -> ensemble`), kept in a metadata store and
 * changed only by compare-and-swap on its version. Pure data; ensemble-history.ts has the functions.
 */
export interface CopyRecord {
  /** Endpoint holding the copy. */
  member: string;
  /** Epoch of the writer that made the copy (re-replication); the copy holds the whole epoch range. */
  by: number;
}

export interface EpochRecord {
  /** Unique and increasing along the list; numbers may be skipped (claims that never recorded an epoch). */
  epoch: number;
  /**
   * First index of this epoch's range. The range ends at the next epoch's firstIndex - 1 (sealed);
   * the last epoch's range is open and ends at the writer's last acknowledged index.
   */
  firstIndex: number;
  /** Endpoints that wrote this epoch's range as its ensemble (copy { epoch, by: epoch }). */
  members: string[];
  /** Copies of the range made later by re-replication (copy { epoch, by }). */
  copies?: CopyRecord[];
}

export interface LogMetadata {
  /** 2: epochs name their copies, storage-side fencing. A document without it is refused. */
  format?: number;
  /** Sorted by epoch, firstIndex non-decreasing. */
  epochs: EpochRecord[];
  /** Lowest index still kept (raised by truncatePrefix). */
  firstIndex: number;
  /** Identity of the writer that holds the log (the last to claim it). */
  writerId: string;
  /**
   * Highest epoch number handed out. A writer claims the log by raising it (one CAS), and that number
   * is its own epoch: every file or batch it writes carries it, and storage-side fences name it.
   */
  claimedEpoch?: number;
  /**
   * Written by a clean close(): the last epoch ended at lastIndex. Only the operations view reads it
   * (recovery finds the end on the members as always); the next claim removes it.
   */
  closedAt?: { epoch: number; lastIndex: number };
}

export interface VersionedMetadata {
  meta: LogMetadata;
  /** Opaque to callers, compared by the store: file = counter, etcd = mod revision. */
  version: number;
}

export interface MetadataStore {
  readonly kind: 'file' | 'etcd' | 'memory';
  get(logName: string): Promise<VersionedMetadata | undefined>;
  /**
   * Stores `meta` if the stored version still equals `expectedVersion` (0: the log must not exist yet).
   * Resolves the new version; rejects with XDBM_CAS_CONFLICT when someone else changed it.
   */
  compareAndSet(logName: string, meta: LogMetadata, expectedVersion: number): Promise<number>;
  /** Names of every log the store holds (operations: status, under-replication, refusals). */
  list(): Promise<string[]>;
  close(): Promise<void>;
}
