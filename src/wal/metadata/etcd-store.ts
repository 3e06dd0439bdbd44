/**
 * EtcdMetadataStore: one key per log, `<prefix>logs/<log>` = JSON LogMetadata. The version is the key's
 * mod revision (0 when absent), and compare-and-swap is one etcd transaction
 * `if mod(key) == expected then put else get`, so it is atomic across every manager of the cluster.
 */
import { Etcd3 } from 'etcd3';
import { ErrorCode, XdbmError } from '../../errors.js';
import type { LogMetadata, MetadataStore, VersionedMetadata } from './types.js';

export interface EtcdMetadataStoreOptions {
  endpoints: string[];
  /** Key prefix, e.g. '/xdbm/'. */
  prefix: string;
  dialTimeoutMs?: number;
}

function unavailable(what: string, e: unknown): XdbmError {
  return new XdbmError(ErrorCode.IO_ERROR, `etcd ${what}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}

export class EtcdMetadataStore implements MetadataStore {
  readonly kind = 'etcd' as const;
  readonly #client: Etcd3;
  readonly #prefix: string;

  constructor(o: EtcdMetadataStoreOptions) {
    this.#client = new Etcd3({ hosts: o.endpoints, dialTimeout: o.dialTimeoutMs ?? 3000 });
    this.#prefix = o.prefix.endsWith('/') ? o.prefix : `${o.prefix}/`;
  }

  #key(logName: string): string {
    return `${this.#prefix}logs/${logName}`;
  }

  async get(logName: string): Promise<VersionedMetadata | undefined> {
    let res;
    try {
      res = await this.#client.get(this.#key(logName)).exec();
    } catch (e) {
      throw unavailable(`get ${logName}`, e);
    }
    const kv = res.kvs[0];
    if (!kv) return undefined;
    try {
      return { meta: JSON.parse(kv.value.toString('utf8')) as LogMetadata, version: Number(kv.mod_revision) };
    } catch (e) {
      throw new XdbmError(ErrorCode.LOG_CORRUPT, `etcd key ${this.#key(logName)} is not a valid document`, { cause: e });
    }
  }

  async compareAndSet(logName: string, meta: LogMetadata, expectedVersion: number): Promise<number> {
    const key = this.#key(logName);
    let res;
    try {
      res = await this.#client
        .if(key, 'Mod', '==', expectedVersion)
        .then(this.#client.put(key).value(JSON.stringify(meta)))
        .else(this.#client.get(key))
        .commit();
    } catch (e) {
      throw unavailable(`compare-and-set ${logName}`, e);
    }
    if (!res.succeeded) {
      const kv = res.responses[0]?.response_range?.kvs?.[0];
      const actual = kv ? Number(kv.mod_revision) : 0;
      throw new XdbmError(ErrorCode.CAS_CONFLICT, `metadata of ${logName} is at revision ${actual}, expected ${expectedVersion}`, {
        details: { logName, expectedVersion, actualVersion: actual },
      });
    }
    return Number(res.header.revision);
  }

  async list(): Promise<string[]> {
    const prefix = `${this.#prefix}logs/`;
    try {
      const keys = await this.#client.getAll().prefix(prefix).keys();
      return keys.map((k) => k.slice(prefix.length)).sort();
    } catch (e) {
      throw unavailable('list logs', e);
    }
  }

  async close(): Promise<void> {
    this.#client.close();
  }
}
