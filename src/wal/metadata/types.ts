/**
 * Ensemble history of one log (BookKeeper's `firstEntryId -> ensemble`), kept in a metadata store and
 * changed only by compare-and-swap on its version.
 */
export interface EpochRecord {
  /** Grows by one with every change of the active set or writer. */
  epoch: number;
  /** First index written under this ensemble; the previous epoch ends at firstIndex - 1. */
  firstIndex: number;
  /** Endpoint ids holding indexes [firstIndex, next epoch's firstIndex). */
  members: string[];
}

export interface LogMetadata {
  /** Sorted by epoch (and firstIndex, non-decreasing). */
  epochs: EpochRecord[];
  /** Lowest index still kept (raised by truncatePrefix). */
  firstIndex: number;
  /** Identity of the writer that recorded the latest epoch; another writer fences it. */
  writerId: string;
}

export interface VersionedMetadata {
  meta: LogMetadata;
  /** Opaque to callers, compared by the store: file = counter, etcd = mod revision. */
  version: number;
}

export interface MetadataStore {
  readonly kind: 'file' | 'etcd';
  get(logName: string): Promise<VersionedMetadata | undefined>;
  /**
   * Stores `meta` if the stored version still equals `expectedVersion` (0: the log must not exist yet).
   * Resolves the new version; rejects with XDBM_CAS_CONFLICT when someone else changed it.
   */
  compareAndSet(logName: string, meta: LogMetadata, expectedVersion: number): Promise<number>;
  close(): Promise<void>;
}
