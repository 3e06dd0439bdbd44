/** Builds the metadata store named by wal.metadata (file by default, etcd for clusters). */
import type { MetadataStoreConfig } from '../../config/types.js';
import type { MetadataStore } from './types.js';

export type { EpochRecord, LogMetadata, MetadataStore, VersionedMetadata } from './types.js';

export async function createMetadataStore(cfg: MetadataStoreConfig): Promise<MetadataStore> {
  if (cfg.type === 'etcd') {
    const { EtcdMetadataStore } = await import('./etcd-store.js');
    return new EtcdMetadataStore({ endpoints: cfg.endpoints, prefix: cfg.prefix });
  }
  const { FileMetadataStore } = await import('./file-store.js');
  return new FileMetadataStore({ path: cfg.path });
}
