/**
 * A minimal ensemble driver for the log's own tests (pure selection logic, no probes): candidates are
 * real directories, the first N healthy ones are active, reportDataPathError marks one failed and
 * (after replaceDelayMs) puts the next healthy candidate in its place, emitting 'active-changed'.
 * The chaos suite uses the real BackendManager instead.
 */
import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { StorageBackend } from '../../../src/backends/backend.js';
import type { EndpointConfig } from '../../../src/config/types.js';
import type { BackendManagerApi } from '../../../src/manager-api.js';

export interface TestEnsembleOptions {
  root: string;
  candidates: number;
  target?: number;
  ackQuorum?: number;
  replaceDelayMs?: number;
  failoverTimeoutMs?: number;
  metadataDir?: string;
  /** Real backends (e.g. a BlockBackend) placed first in the candidate list, so they start active. */
  extra?: StorageBackend[];
}

export function dirBackend(id: string, path: string): StorageBackend {
  const config = {
    endpointId: id, type: 'local', connectionString: `file://${path}`, target: { kind: 'file', path },
    weight: 1, labels: {}, probeAreaBytes: 0,
  } as unknown as EndpointConfig;
  return { endpointId: id, type: 'local', config, isOpen: true } as unknown as StorageBackend;
}

export class TestEnsemble extends EventEmitter {
  readonly backends: StorageBackend[] = [];
  readonly failed = new Set<string>();
  readonly reports: { id: string; code: string; atMs: number }[] = [];
  active: string[] = [];
  readonly config: BackendManagerApi['config'];
  readonly #target: number;
  readonly #delay: number;

  constructor(readonly o: TestEnsembleOptions) {
    super();
    this.#target = o.target ?? 3;
    this.#delay = o.replaceDelayMs ?? 0;
    this.config = {
      wal: { ackQuorum: o.ackQuorum ?? 2, segmentBytes: 1 << 20, metadata: { type: 'file', path: o.metadataDir ?? join(o.root, 'meta') } },
      failover: { failoverTimeoutMs: o.failoverTimeoutMs ?? 5000, enableDataMigration: false },
    } as unknown as BackendManagerApi['config'];
  }

  static async create(o: TestEnsembleOptions): Promise<TestEnsemble> {
    const t = new TestEnsemble(o);
    t.backends.push(...(o.extra ?? []));
    for (let i = 0; i < o.candidates; i++) {
      const dir = join(o.root, `b${i}`);
      await mkdir(dir, { recursive: true });
      t.backends.push(dirBackend(`b${i}`, dir));
    }
    t.#reselect();
    return t;
  }

  dirOf(id: string): string {
    return join(this.o.root, id);
  }

  #reselect(): void {
    const keep = this.active.filter((id) => !this.failed.has(id));
    for (const b of this.backends) {
      if (keep.length >= this.#target) break;
      if (!this.failed.has(b.endpointId) && !keep.includes(b.endpointId)) keep.push(b.endpointId);
    }
    const previous = this.active;
    this.active = keep;
    if (previous.join() !== keep.join()) this.emit('active-changed', { previous, current: keep, reason: 'test' });
  }

  getActiveStorage(): StorageBackend[] {
    return this.active.map((id) => this.getBackend(id)!);
  }

  getBackend(id: string): StorageBackend | undefined {
    return this.backends.find((b) => b.endpointId === id);
  }

  reportDataPathError(id: string, err: unknown): void {
    this.reports.push({ id, code: String((err as { code?: string })?.code), atMs: Date.now() });
    if (this.failed.has(id)) return;
    this.failed.add(id);
    setTimeout(() => this.#reselect(), this.#delay);
  }

  /** A manual switch, as BackendManager.forceBackendSwitch does: no failure involved. */
  switchActive(oldId: string, newId: string): void {
    const previous = [...this.active];
    this.active = this.active.map((id) => (id === oldId ? newId : id));
    this.emit('active-changed', { previous, current: [...this.active], reason: 'manual switch' });
  }

  /** Brings a failed candidate back into the pool (it becomes active again only when a slot frees). */
  recover(id: string): void {
    this.failed.delete(id);
  }

  getCandidates(): { endpointId: string; state: string; active: boolean }[] {
    return this.backends.map((b) => ({ endpointId: b.endpointId, state: this.failed.has(b.endpointId) ? 'FAILED' : 'HEALTHY', active: this.active.includes(b.endpointId) }));
  }

  recordDataPathOp(): void { /* statistics only */ }

  asManager(): BackendManagerApi {
    return this as unknown as BackendManagerApi;
  }
}
