/** Public shapes of the managed log (src/wal/managed-log.ts implements them). */
import type { StorageBackend } from '../backends/backend.js';
import type { MetadataStore } from './metadata/types.js';
import type { LogReplica } from './replica.js';

export interface ManagedLogOptions {
  /** Default: manager.config.wal.ackQuorum, else 2. */
  ackQuorum?: number;
  /** Deadline of one member write (a hang becomes XDBM_IO_TIMEOUT). Default 2000. */
  writeDeadlineMs?: number;
  /** How long an append waits for a usable ensemble. Default: config failover.failoverTimeoutMs. */
  failoverTimeoutMs?: number;
  segmentBytes?: number;
  /** Default: built from config wal.metadata (and closed with the log). */
  metadataStore?: MetadataStore;
  writerId?: string;
  /** Default: config failover.enableDataMigration. */
  enableDataMigration?: boolean;
  /** Entries per member write (group commit bound). Default 512. */
  maxBatchEntries?: number;
  /** Layout choice per backend; tests inject their own. */
  replicaFactory?: (backend: StorageBackend, logName: string) => LogReplica;
}

export interface EnsembleChange {
  epoch: number;
  firstIndex: number;
  removed: string[];
  added: string[];
  /** From the first failure seen by the log to the new ensemble recorded. */
  durationMs: number;
  /** Date.now() when the new ensemble was recorded. */
  atMs: number;
}

export interface LogStats {
  appended: number;
  acked: number;
  ensembleChanges: EnsembleChange[];
  checksumFailures: number;
  readFallbacks: number;
  /** Data-path errors this log reported to the manager (newest last, at most 100 kept). */
  dataPathErrors: { endpointId: string; code: string; atMs: number }[];
}


export interface ManagedLog {
  readonly name: string;
  append(payload: Uint8Array): Promise<{ index: number }>;
  read(index: number): Promise<Buffer>;
  truncateSuffix(fromIndex: number): Promise<void>;
  truncatePrefix(beforeIndex: number): Promise<void>;
  lastIndex(): number;
  firstIndex(): number;
  members(): string[];
  stats(): LogStats;
  close(): Promise<void>;
}
