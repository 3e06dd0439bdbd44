/**
 * The writer's side of the metadata store: every change of a log's metadata by its writer goes
 * through here, one at a time (the log serialises them), and is committed.
 *
 * A CAS that times out or fails for I/O reasons may still have landed, or land later. So the same
 * change is sent again from the same expected version until one attempt says which way it went:
 * success; a conflict whose stored document is ours (an earlier attempt landed); or a conflict with
 * another writer's document (this writer is fenced). A late landing of an earlier attempt can only
 * fail once the version has moved. The caller holds acknowledgements for the whole time.
 */
import { ErrorCode, XdbmError, isXdbmError } from '../errors.js';
import { sleep, type Clock } from './clock.js';
import { withDeadline } from './io-deadline.js';
import type { LogMetadata, MetadataStore } from './metadata/types.js';

export interface MetadataWriterOptions {
  name: string;
  store: MetadataStore;
  clock: Clock;
  /** Bound of one store call. */
  deadlineMs: number;
  meta: LogMetadata;
  version: number;
  isClosed: () => boolean;
  /** Another writer holds the log: called once with the error that is then thrown. */
  onFenced: (e: XdbmError) => void;
  /** The store has not settled a change for waitedMs (the log fails appends that cannot wait longer). */
  onSlow: (waitedMs: number, cause: unknown) => void;
}

export class MetadataWriter {
  readonly #o: MetadataWriterOptions;
  #meta: LogMetadata;
  #version: number;

  constructor(o: MetadataWriterOptions) {
    this.#o = o;
    this.#meta = o.meta;
    this.#version = o.version;
  }

  get meta(): LogMetadata { return this.#meta; }
  get version(): number { return this.#version; }

  #fenced(message: string, details: Record<string, unknown>, cause?: unknown): XdbmError {
    const f = new XdbmError(ErrorCode.FENCED, message, { details, ...(cause ? { cause } : {}) });
    this.#o.onFenced(f);
    return f;
  }

  /** Reads the document (bounded): throws if the store does not answer, fences if another writer moved it. */
  async probe(): Promise<void> {
    const o = this.#o;
    const cur = await withDeadline(o.clock, o.store.get(o.name), o.deadlineMs, `metadata read of ${o.name}`);
    if (!cur || cur.version !== this.#version) {
      throw this.#fenced(`log ${o.name}: another writer (${cur?.meta.writerId ?? 'none'}) holds it now; this writer is fenced`,
        { logName: o.name, expectedVersion: this.#version, actualVersion: cur?.version ?? 0 });
    }
  }

  /** Commits `meta`: resolves once it is the stored document; throws XDBM_FENCED or XDBM_CLOSED. */
  async record(meta: LogMetadata): Promise<void> {
    const o = this.#o;
    const startedMs = o.clock.nowMs();
    /** An attempt failed without saying whether it landed: a later fence leaves the outcome unknown. */
    let uncertain = false;
    for (let attempt = 0; ; attempt++) {
      if (o.isClosed()) throw new XdbmError(ErrorCode.CLOSED, `log ${o.name} closed while recording its metadata`);
      try {
        this.#version = await withDeadline(o.clock, o.store.compareAndSet(o.name, meta, this.#version), o.deadlineMs, `metadata update of ${o.name}`);
        this.#meta = meta;
        return;
      } catch (e) {
        if (isXdbmError(e, ErrorCode.CAS_CONFLICT)) {
          const cur = await withDeadline(o.clock, o.store.get(o.name), o.deadlineMs, `metadata read of ${o.name}`).catch(() => null);
          if (cur === null) { await sleep(o.clock, 50); continue; } // cannot tell yet: ask again
          if (cur && JSON.stringify(cur.meta) === JSON.stringify(meta)) {
            this.#version = cur.version;
            this.#meta = meta;
            return;
          }
          throw this.#fenced(`log ${o.name}: another writer (${cur?.meta.writerId ?? 'none'}) changed its metadata; this writer is fenced` +
            (uncertain ? ' (the change being recorded may or may not have landed before that)' : ''),
            { logName: o.name, expectedVersion: this.#version, actualVersion: cur?.version ?? 0, outcome: uncertain ? 'unknown' : 'not-applied' }, e);
        }
        uncertain = true;
        o.onSlow(o.clock.nowMs() - startedMs, e);
        await sleep(o.clock, Math.min(1000, 25 * 2 ** Math.min(attempt, 5)));
      }
    }
  }

  /** One bounded attempt, for information only (a late landing fails once the version moved). */
  async note(meta: LogMetadata): Promise<void> {
    const o = this.#o;
    this.#version = await withDeadline(o.clock, o.store.compareAndSet(o.name, meta, this.#version), o.deadlineMs, `metadata note of ${o.name}`);
    this.#meta = meta;
  }
}
