/** Public shapes of the managed log (src/wal/log.ts implements them). */
import type { StorageBackend } from '../backends/backend.js';
import type { Clock } from './clock.js';
import type { MemberLog } from './member-log.js';
import type { MetadataStore } from './metadata/types.js';

export interface ManagedLogOptions {
  /** Default: manager.config.wal.ackQuorum, else 2. */
  ackQuorum?: number;
  /** Deadline of one member operation (a hang becomes XDBM_IO_TIMEOUT). Default 2000. */
  writeDeadlineMs?: number;
  /** How long an append waits for a usable ensemble. Default: config failover.failoverTimeoutMs. */
  failoverTimeoutMs?: number;
  segmentBytes?: number;
  /** Default: built from config wal.metadata (and closed with the log). */
  metadataStore?: MetadataStore;
  writerId?: string;
  /** Entries per member write (group commit bound). Default 512. */
  maxBatchEntries?: number;
  /** Bytes per member write (group commit bound; device layouts size their fence gap by it). Default 4 MiB. */
  maxBatchBytes?: number;
  /** How often re-replication looks for under-replicated ranges. Default 1000 ms; 0 turns it off. */
  rereplicateIntervalMs?: number;
  /** Entries copied per re-replication step (throttle: one step at a time, appends go first). Default 256. */
  rereplicateChunkEntries?: number;
  /** Layout choice per backend; tests and the simulator inject their own. */
  memberFactory?: (backend: StorageBackend, logName: string) => MemberLog;
  /** Time source for every deadline and timer of the log (the simulator injects virtual time). */
  clock?: Clock;
  /** Appends a history record per operation (Jepsen/Elle-style JSON lines); see history.ts. */
  history?: import('./history.js').HistorySink;
}

export interface EnsembleChange {
  epoch: number;
  firstIndex: number;
  removed: string[];
  added: string[];
  /** From the first failure seen by the log to the new ensemble recorded. */
  durationMs: number;
  /** clock.nowMs() when the new ensemble was recorded. */
  atMs: number;
}

/** Named phases of the writer (log.ts has the transitions). */
export type LogPhase = 'opening' | 'writing' | 'changing' | 'stalled' | 'fenced' | 'closed';

export interface LogStats {
  phase: LogPhase;
  epoch: number;
  appended: number;
  acked: number;
  ensembleChanges: EnsembleChange[];
  checksumFailures: number;
  readFallbacks: number;
  /** Data-path errors this log reported to the manager (newest last, at most 100 kept). */
  dataPathErrors: { endpointId: string; code: string; atMs: number }[];
  /** Acknowledged entries with fewer than ackQuorum copies on reachable, healthy members. */
  underReplicatedEntries: number;
  /** Entries copied by re-replication since open. */
  rereplicatedEntries: number;
  /** Damaged records found (read or scan) and served from another copy instead. */
  damagedRecords: number;
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
