/** Public surface of the write-ahead log: open it through BackendManager.openLog(name, opts). */
export { openManagedLog, ReplicatedLog } from './log.js';
export type { EnsembleChange, LogPhase, LogStats, ManagedLog, ManagedLogOptions } from './log-types.js';
export { createMetadataStore } from './metadata/index.js';
export { FileMetadataStore } from './metadata/file-store.js';
// EtcdMetadataStore is loaded on demand by createMetadataStore, so etcd3 loads only when etcd is configured.
export type { EtcdMetadataStore } from './metadata/etcd-store.js';
export type { CopyRecord, EpochRecord, LogMetadata, MetadataStore, VersionedMetadata } from './metadata/types.js';
export type { CopyInfo, CopyRef, MemberLog, ReplicaRecord } from './member-log.js';
export { FileMember } from './file-member.js';
export { DeviceMember, isRawDevice, type RawDevice } from './device-member.js';
export { underReplicated, countEntries, type UnderReplicatedRange } from './ensemble-history.js';
export { JsonLinesHistory, MemoryHistory, type HistoryEvent, type HistorySink } from './history.js';
export { realClock, type Clock } from './clock.js';
export { crc32c } from './crc32c.js';
