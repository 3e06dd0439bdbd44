/** Public surface of the write-ahead log (issue 5): open through BackendManager.openLog(name, opts). */
export { openManagedLog, ReplicatedLog } from './managed-log.js';
export type { EnsembleChange, LogStats, ManagedLog, ManagedLogOptions } from './log-types.js';
export { createMetadataStore } from './metadata/index.js';
export { FileMetadataStore } from './metadata/file-store.js';
// EtcdMetadataStore is loaded on demand by createMetadataStore, so etcd3 loads only when etcd is configured.
export type { EtcdMetadataStore } from './metadata/etcd-store.js';
export type { EpochRecord, LogMetadata, MetadataStore, VersionedMetadata } from './metadata/types.js';
export type { LogReplica, ReplicaRecord } from './replica.js';
export { FileReplica } from './file-replica.js';
export { DeviceReplica, isRawDevice, type RawDevice } from './device-replica.js';
export { crc32c } from './crc32c.js';
