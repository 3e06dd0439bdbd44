/** Backend registry: one file per type, each exporting `create`. */
import type { EndpointConfig } from '../config/types.js';
import type { BackendType } from '../types.js';
import type { BackendFactory, StorageBackend } from './backend.js';

const factories: Partial<Record<BackendType, () => Promise<BackendFactory>>> = {
  local: async () => (await import('./local.js')).create,
  nfs: async () => (await import('./nfs.js')).create,
  block: async () => (await import('./block.js')).create,
  nvmeof: async () => (await import('./nvmeof.js')).create,
};

export async function createBackend(config: EndpointConfig): Promise<StorageBackend> {
  const load = factories[config.type];
  if (!load) throw new Error(`no backend implementation for type ${config.type}`);
  return (await load())(config);
}
