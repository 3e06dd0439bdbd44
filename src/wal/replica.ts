/**
 * One member's copy of one log: the layout-independent face the managed log writes through.
 * file-replica.ts (local, NFS) and device-replica.ts (block, NVMe-oF) implement it.
 * Callers serialise mutations (append, truncate*) per replica; reads may run alongside them.
 */
export interface ReplicaRecord {
  index: number;
  payload: Uint8Array;
}

export interface LogReplica {
  readonly endpointId: string;
  /** Scan what is on the medium, cut a torn tail. Idempotent. */
  open(): Promise<void>;
  /** Highest index held (0 when empty). */
  lastIndex(): number;
  /** Lowest index held (0 when empty). */
  firstIndex(): number;
  has(index: number): boolean;
  /**
   * Writes consecutive records and makes them durable (one write + one flush: group commit).
   * If records[0].index <= lastIndex() the suffix from there is dropped first; a gap starts a new run.
   */
  append(records: ReadonlyArray<ReplicaRecord>): Promise<void>;
  /** Payload of `index`, checksum verified: XDBM_ENTRY_NOT_FOUND / XDBM_CHECKSUM_MISMATCH / I/O codes. */
  read(index: number): Promise<Buffer>;
  /** Drops indexes >= fromIndex. */
  truncateSuffix(fromIndex: number): Promise<void>;
  /** Drops indexes < beforeIndex (whole segments / ring space released as it can). */
  truncatePrefix(beforeIndex: number): Promise<void>;
  close(): Promise<void>;
}
