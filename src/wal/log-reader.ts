/**
 * Read path of the managed log: the ensemble history says which members hold an index; healthy current
 * members are tried first (rotating by index to spread reads), then the rest of that epoch's members,
 * each copy checked by CRC32C; a failing copy falls back to the next one.
 *
 * Members of earlier epochs are usually no longer active: the manager closed their backend at the
 * failover (graceful shutdown) and its monitor closes and reopens FAILED ones now and then. The reader
 * therefore never reads a device through the manager's instance of a backend that is not a current
 * member: it opens its own instance of that endpoint (same config; an NVMe-oF controller is shared by
 * reference), used for reads only and closed with the reader. File layouts need no open backend.
 * When no copy could be read for I/O reasons (not "not there") the error is XDBM_IO_ERROR, never
 * XDBM_ENTRY_NOT_FOUND: an acknowledged entry that cannot be reached now is not a missing one.
 */
import type { StorageBackend } from '../backends/backend.js';
import { createBackend } from '../backends/index.js';
import { isRawDevice } from './device-replica.js';
import { ErrorCode, XdbmError, isXdbmError } from '../errors.js';
import type { BackendManagerApi } from '../manager-api.js';
import { withDeadline } from './deadline.js';
import type { Member } from './ensemble-wait.js';
import { epochFor } from './ensemble-history.js';
import type { LogStats } from './log-types.js';
import type { LogMetadata } from './metadata/types.js';
import type { LogReplica } from './replica.js';

export interface LogReaderDeps {
  name: string;
  manager: BackendManagerApi;
  deadlineMs: number;
  factory: (b: StorageBackend, logName: string) => LogReplica;
  members: () => Member[];
  meta: () => LogMetadata;
  /** Acknowledged payload still held in memory for re-sending, if any. */
  inFlight: (index: number) => Uint8Array | undefined;
  stats: LogStats;
}

export class LogReader {
  readonly #d: LogReaderDeps;
  /** Replicas opened for reading on members that left the ensemble (with the reader's own backend, if any). */
  readonly #others = new Map<string, { replica: LogReplica; own?: StorageBackend }>();

  constructor(deps: LogReaderDeps) {
    this.#d = deps;
  }

  async read(index: number): Promise<Buffer> {
    const d = this.#d;
    const ep = epochFor(d.meta(), index);
    const all = ep ? [...ep.members] : [];
    const members = d.members();
    const live = all.filter((id) => members.some((m) => m.id === id && !m.failed));
    const rest = all.filter((id) => !live.includes(id));
    // A member that rejoined is read through its live replica; a copy opened while it was away is stale.
    for (const id of live) if (this.#others.has(id)) this.#drop(id);
    const k = live.length > 0 ? index % live.length : 0;
    const holders = [...live.slice(k), ...live.slice(0, k), ...rest];
    const errors: unknown[] = [];
    for (const id of holders) {
      try {
        const r = await this.#replica(id);
        const buf = await withDeadline(r.read(index), d.deadlineMs, `read ${index} from ${id}`, { endpointId: id });
        if (errors.length > 0) d.stats.readFallbacks++;
        return buf;
      } catch (e) {
        if (isXdbmError(e, ErrorCode.CHECKSUM_MISMATCH)) d.stats.checksumFailures++;
        if (!isXdbmError(e, ErrorCode.ENTRY_NOT_FOUND) && !isXdbmError(e, ErrorCode.CHECKSUM_MISMATCH)) this.#drop(id);
        errors.push(e);
      }
    }
    // Still in flight to its members (a re-send after recovery or a change): the acknowledged bytes are here.
    const mem = d.inFlight(index);
    if (mem) return Buffer.from(mem);
    const corrupt = errors.some((e) => isXdbmError(e, ErrorCode.CHECKSUM_MISMATCH));
    const absent = errors.length > 0 && errors.every((e) => isXdbmError(e, ErrorCode.ENTRY_NOT_FOUND));
    throw new XdbmError(corrupt ? ErrorCode.LOG_CORRUPT : absent || holders.length === 0 ? ErrorCode.ENTRY_NOT_FOUND : ErrorCode.IO_ERROR,
      `no intact copy of ${d.name}[${index}] on ${holders.join(', ') || 'any member'}`, {
        details: { index, holders, errors: errors.map((e) => (isXdbmError(e) ? e.code : String(e))) },
      });
  }

  async close(): Promise<void> {
    const all = [...this.#others.values()];
    this.#others.clear();
    await Promise.all(all.map((o) => this.#closeOther(o)));
  }

  async #closeOther(o: { replica: LogReplica; own?: StorageBackend }): Promise<void> {
    await withDeadline(o.replica.close(), this.#d.deadlineMs, 'close').catch(() => undefined);
    if (o.own) await withDeadline(o.own.close(), this.#d.deadlineMs, 'close').catch(() => undefined);
  }

  async #replica(id: string): Promise<LogReplica> {
    const live = this.#d.members().find((m) => m.id === id && !m.failed);
    if (live) return live.replica;
    const cached = this.#others.get(id);
    if (cached) return cached.replica;
    const b = this.#d.manager.getBackend(id);
    if (!b) throw new XdbmError(ErrorCode.UNKNOWN_ENDPOINT, `endpoint ${id} is gone from the candidate pool`);
    // A device is read through the reader's own instance: the manager closes (failover) and reopens
    // (monitor) its instance of a member that left the ensemble whenever it sees fit.
    let own: StorageBackend | undefined;
    let r: LogReplica | undefined;
    try {
      if (isRawDevice(b)) {
        own = await createBackend(b.config);
        await withDeadline(own.init(), this.#d.deadlineMs, `open ${id} for reading`, { endpointId: id });
      }
      r = this.#d.factory(own ?? b, this.#d.name);
      await withDeadline(r.open(), this.#d.deadlineMs, `open ${id}`, { endpointId: id });
    } catch (e) {
      void this.#closeOther({ replica: r ?? { close: async () => undefined } as LogReplica, ...(own ? { own } : {}) });
      throw e;
    }
    this.#others.set(id, { replica: r, ...(own ? { own } : {}) });
    return r;
  }

  #drop(id: string): void {
    const stale = this.#others.get(id);
    this.#others.delete(id);
    if (stale) void this.#closeOther(stale);
  }
}
