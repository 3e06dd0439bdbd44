/**
 * Simulated metadata store: one shared database of versioned documents (SimMetaDb), and the client a
 * writer process uses (SimMetadataStore implements MetadataStore). Every call reaches the database after
 * a PRNG delay and answers after another; while the database is unavailable calls fail (after a
 * delay) or wait and apply once it is back (a late CAS, as an etcd client that retries); while it is
 * slow they take up to several seconds. A crashed process's calls that had not reached it never do.
 */
import { ErrorCode, XdbmError } from '../../src/errors.js';
import type { LogMetadata, MetadataStore, VersionedMetadata } from '../../src/wal/metadata/types.js';
import type { Rng } from './prng.js';
import type { Proc, World } from './world.js';

export class SimMetaDb {
  readonly docs = new Map<string, { json: string; version: number }>();
  #version = 0;
  down = false;
  /** CASes applied after waiting for an outage to end (their caller may have given up on them). */
  lateCas = 0;
  /** Whether a CAS may apply after its caller's deadline (an etcd request that outlived its client's timeout). */
  lateCas_allowed = true;
  /** CASes that took the document backwards (a claim or firstIndex going down, a sealed epoch coming back). */
  readonly regressions: string[] = [];
  slow = false;
  /** Calls waiting for the database to come back. */
  readonly #waiting: (() => void)[] = [];

  nextVersion(): number { return ++this.#version; }
  setDown(down: boolean): void {
    this.down = down;
    if (!down) for (const f of this.#waiting.splice(0)) f();
  }
  waitUp(f: () => void): void { this.#waiting.push(f); }
  snapshot(name: string): LogMetadata | undefined {
    const d = this.docs.get(name);
    return d ? JSON.parse(d.json) as LogMetadata : undefined;
  }
}

export class SimMetadataStore implements MetadataStore {
  readonly kind = 'memory' as const;
  /** `deadlineMs`: the caller's deadline for one call (a CAS applied but answered later is a late CAS). */
  constructor(readonly world: World, readonly db: SimMetaDb, readonly proc: Proc, readonly rng: Rng, readonly note: (m: string) => void, readonly deadlineMs = Number.POSITIVE_INFINITY) {}

  #call<T>(what: string, apply: () => T): Promise<T> {
    const { world, rng, db } = this;
    let late = false;
    const t0 = world.now;
    return new Promise<T>((resolve, reject) => {
      const reach = (): void => {
        if (db.down) {
          if (!db.lateCas_allowed || rng.chance(0.5)) {
            world.at(rng.int(1, 300), () => reject(new XdbmError(ErrorCode.IO_ERROR, `metadata store unavailable (${what})`)), this.proc);
          } else {
            late = true;
            db.waitUp(() => world.at(rng.int(0, 50), reach, this.proc, true));
          }
          return;
        }
        if (!db.lateCas_allowed && world.now - t0 >= this.deadlineMs - 1) {
          // Without late CASes, a call that reaches the store after its caller gave up is not applied.
          world.at(0, () => reject(new XdbmError(ErrorCode.IO_ERROR, `metadata store too slow (${what})`)), this.proc);
          return;
        }
        let r: { ok: true; v: T } | { ok: false; e: unknown };
        try { r = { ok: true, v: apply() }; } catch (e) { r = { ok: false, e }; }
        let back = db.slow ? rng.int(0, 2500) : rng.int(0, 3);
        if (!db.lateCas_allowed && world.now + back - t0 >= this.deadlineMs) {
          back = Math.max(0, this.deadlineMs - 1 - (world.now - t0));
        }
        if (what.startsWith('cas') && r.ok && (late || world.now + back - t0 >= this.deadlineMs)) {
          db.lateCas++;
          this.note(`META (the CAS above ${late ? 'waited for the outage to end' : 'answers after the caller\'s deadline'})`);
        }
        world.at(back, () => { if (r.ok) resolve(r.v); else reject(r.e); }, this.proc);
      };
      world.at(db.slow ? rng.int(0, 2500) : rng.int(0, 3), reach, this.proc, true);
    });
  }

  get(name: string): Promise<VersionedMetadata | undefined> {
    return this.#call(`get ${name}`, () => {
      const d = this.db.docs.get(name);
      return d ? { meta: JSON.parse(d.json) as LogMetadata, version: d.version } : undefined;
    });
  }

  compareAndSet(name: string, meta: LogMetadata, expectedVersion: number): Promise<number> {
    const json = JSON.stringify(meta);
    return this.#call(`cas ${name}`, () => {
      const d = this.db.docs.get(name);
      const actual = d?.version ?? 0;
      if (actual !== expectedVersion) {
        throw new XdbmError(ErrorCode.CAS_CONFLICT, `metadata of ${name}: version ${actual}, expected ${expectedVersion}`, { details: { actualVersion: actual, expectedVersion } });
      }
      if (d) {
        const prev = JSON.parse(d.json) as LogMetadata;
        const pc = Math.max(prev.claimedEpoch ?? 0, ...prev.epochs.map((e) => e.epoch));
        const nc = Math.max(meta.claimedEpoch ?? 0, ...meta.epochs.map((e) => e.epoch));
        if (nc < pc || meta.firstIndex < prev.firstIndex) {
          this.db.regressions.push(`${this.proc.name} CAS v${actual}->: ${summarize(prev)}  ==>  ${summarize(meta)}`);
        }
      }
      const version = this.db.nextVersion();
      this.db.docs.set(name, { json, version });
      this.note(`META ${this.proc.name} v${version} ${summarize(meta)}`);
      return version;
    });
  }

  list(): Promise<string[]> {
    return this.#call('list', () => [...this.db.docs.keys()]);
  }

  async close(): Promise<void> { /* shared database */ }
}

export function summarize(m: LogMetadata): string {
  const eps = m.epochs.map((e) => `e${e.epoch}@${e.firstIndex}[${e.members.join(',')}${(e.copies ?? []).map((c) => ` +${c.member}/${c.by}`).join('')}]`).join(' ');
  return `first=${m.firstIndex} claim=${m.claimedEpoch ?? '-'} ${eps}`;
}
