/**
 * Simulated BackendManager, the parts the log uses: N candidates, a target of 3 actives, health per
 * endpoint from the simulated disks, and a replacement (after a PRNG delay, 'active-changed') for a
 * member the log reports. One per writer process: its events are that process's events.
 */
import type { StorageBackend } from '../../src/backends/backend.js';
import type { ManagerConfig } from '../../src/config/types.js';
import type { BackendManagerApi, CandidateStatus } from '../../src/manager-api.js';
import type { HealthState } from '../../src/types.js';
import type { SimDisk } from './member.js';
import type { Rng } from './prng.js';
import type { Proc, World } from './world.js';

export function simBackend(id: string): StorageBackend {
  const no = (): Promise<never> => Promise.reject(new Error(`sim: direct backend I/O on ${id}`));
  return {
    endpointId: id,
    type: 'local',
    config: { endpointId: id, type: 'local', target: { kind: 'file', path: `/sim/${id}` } } as unknown as StorageBackend['config'],
    init: async () => undefined,
    write: no, read: no, delete: no, sync: no,
    close: async () => undefined,
    probeTarget: () => ({ kind: 'dir', endpointId: id, type: 'local', dir: `/sim/${id}/.xdbm-probe`, direct: false }),
    healthInfo: async () => ({}),
    isOpen: true,
  };
}

type Listener = (e: { previous: string[]; current: string[]; reason: string }) => void;

export class SimManager {
  readonly config: ManagerConfig;
  actives: string[];
  readonly #backends: Map<string, StorageBackend>;
  readonly #listeners = new Set<Listener>();
  /** endpoint -> virtual time until which probes keep it UNHEALTHY after a data-path error. */
  readonly #suspect = new Map<string, number>();
  readonly #replacing = new Set<string>();

  constructor(
    readonly world: World, readonly proc: Proc, readonly rng: Rng, readonly disks: Map<string, SimDisk>,
    backends: Map<string, StorageBackend>, actives: string[], ackQuorum: number, failoverTimeoutMs: number,
  ) {
    this.#backends = backends;
    this.actives = [...actives];
    this.config = {
      targetActiveBackends: actives.length,
      wal: { ackQuorum, segmentBytes: 1 << 20, metadata: { type: 'file', path: '/sim/meta' } },
      failover: { failoverTimeoutMs },
    } as unknown as ManagerConfig;
  }

  #state(id: string): HealthState {
    const d = this.disks.get(id)!;
    if (!d.present) return 'FAILED';
    if ((this.#suspect.get(id) ?? 0) > this.world.now) return 'UNHEALTHY';
    if (d.fault === 'eio' || d.fault === 'hang' || d.fault === 'enospc') return 'DEGRADED';
    return 'HEALTHY';
  }

  getActiveStorage(): StorageBackend[] { return this.actives.map((id) => this.#backends.get(id)!); }
  getBackend(id: string): StorageBackend | undefined { return this.#backends.get(id); }
  getCandidates(): CandidateStatus[] {
    return [...this.#backends.keys()].map((id) => ({
      endpointId: id, nodeId: id, nodeAddress: id, type: 'local', connectionString: `/sim/${id}`, state: this.#state(id),
      active: this.actives.includes(id), weight: 1, domain: id, score: 1,
    }));
  }
  recordDataPathOp(): void { /* statistics only */ }

  reportDataPathError(id: string, e: unknown): void {
    this.#suspect.set(id, this.world.now + this.rng.int(200, 1500));
    const code = (e as { code?: string })?.code ?? String(e);
    this.world.log(`${this.proc.name} reports ${id}: ${code}`);
    if (!this.actives.includes(id) || this.#replacing.has(id)) return;
    this.#replacing.add(id);
    this.world.at(this.rng.int(5, 400), () => {
      this.#replacing.delete(id);
      if (!this.actives.includes(id)) return;
      // The manager picks from what its probes call healthy (it may be wrong about a lying member).
      const pool = [...this.#backends.keys()].filter((c) => !this.actives.includes(c) && this.#state(c) === 'HEALTHY');
      if (pool.length === 0) return;
      this.replace(id, this.rng.pick(pool), `data-path error on ${id}`);
    }, this.proc);
  }

  /** Swaps one active (a failover, or a reselection of the manager's own). */
  replace(out: string, inn: string, reason: string): void {
    const previous = [...this.actives];
    this.actives = this.actives.map((a) => (a === out ? inn : a));
    this.#suspect.delete(inn);
    this.world.log(`${this.proc.name} manager: ${out} -> ${inn} (${reason})`);
    const ev = { previous, current: [...this.actives], reason };
    for (const f of [...this.#listeners]) f(ev);
  }

  /** The manager's health loop: an active that probes call FAILED or UNHEALTHY is replaced when a healthy candidate exists. */
  start(): void {
    const tick = (): void => {
      for (const id of [...this.actives]) {
        const st = this.#state(id);
        if (st !== 'FAILED' && st !== 'UNHEALTHY') continue;
        const pool = [...this.#backends.keys()].filter((c) => !this.actives.includes(c) && this.#state(c) === 'HEALTHY');
        if (pool.length > 0) this.replace(id, this.rng.pick(pool), `health check: ${id} ${st}`);
      }
      this.world.at(this.rng.int(300, 800), tick, this.proc);
    };
    this.world.at(this.rng.int(300, 800), tick, this.proc);
  }

  /** Probes found a member fine again (faults healed). */
  clearSuspects(): void { this.#suspect.clear(); }

  on(_event: string, fn: Listener): this { if (_event === 'active-changed') this.#listeners.add(fn); return this; }
  off(_event: string, fn: Listener): this { this.#listeners.delete(fn); return this; }

  asApi(): BackendManagerApi { return this as unknown as BackendManagerApi; }
}
