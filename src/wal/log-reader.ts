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
import { withReplicaDeadline } from './stuck-io.js';
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

/** A replica on a member that is not (or no longer) in the ensemble, with the log's own backend if it needed one. */
export interface DetachedReplica {
  replica: LogReplica;
  own?: StorageBackend;
}

/**
 * Opens the log's replica on `b` for a member outside the ensemble. A device goes through an instance of
 * its own (same endpoint config; an NVMe-oF controller is shared by reference): the manager closes its
 * instance of a replaced backend (failover) and closes and reopens a FAILED one (monitor) as it sees fit.
 */
export async function openDetachedReplica(
  b: StorageBackend, logName: string, factory: (b: StorageBackend, logName: string) => LogReplica, deadlineMs: number,
): Promise<DetachedReplica> {
  let own: StorageBackend | undefined;
  let r: LogReplica | undefined;
  try {
    if (isRawDevice(b)) {
      own = await createBackend(b.config);
      const o = own;
      await withReplicaDeadline(b, () => o.init(), deadlineMs, `open ${b.endpointId} for the log`);
    }
    r = factory(own ?? b, logName);
    const opening = r;
    await withReplicaDeadline(b, () => opening.open(), deadlineMs, `open log ${logName} on ${b.endpointId}`);
  } catch (e) {
    void closeDetachedReplica({ replica: r ?? ({ close: async () => undefined } as unknown as LogReplica), ...(own ? { own } : {}) }, deadlineMs);
    throw e;
  }
  return { replica: r, ...(own ? { own } : {}) };
}

export async function closeDetachedReplica(o: DetachedReplica, deadlineMs: number): Promise<void> {
  await withDeadline(o.replica.close(), deadlineMs, 'close').catch(() => undefined);
  if (o.own) await withDeadline(o.own.close(), deadlineMs, 'close').catch(() => undefined);
}

export class LogReader {
  readonly #d: LogReaderDeps;
  /** Replicas opened for reading on members that left the ensemble (with the reader's own backend, if any). */
  readonly #others = new Map<string, DetachedReplica>();

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
        const buf = await withReplicaDeadline(r, () => r.read(index), d.deadlineMs, `read ${index} from ${id}`);
        if (errors.length > 0) d.stats.readFallbacks++;
        return buf;
      } catch (e) {
        if (isXdbmError(e, ErrorCode.CHECKSUM_MISMATCH)) d.stats.checksumFailures++;
        // A replica still hung past a deadline is kept (refusing at once) until its operation returns.
        if (!isXdbmError(e, ErrorCode.ENTRY_NOT_FOUND) && !isXdbmError(e, ErrorCode.CHECKSUM_MISMATCH) && !isXdbmError(e, ErrorCode.IO_TIMEOUT)) this.#drop(id);
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

  async #closeOther(o: DetachedReplica): Promise<void> {
    await closeDetachedReplica(o, this.#d.deadlineMs);
  }

  async #replica(id: string): Promise<LogReplica> {
    const live = this.#d.members().find((m) => m.id === id && !m.failed);
    if (live) return live.replica;
    const cached = this.#others.get(id);
    if (cached) return cached.replica;
    const b = this.#d.manager.getBackend(id);
    if (!b) throw new XdbmError(ErrorCode.UNKNOWN_ENDPOINT, `endpoint ${id} is gone from the candidate pool`);
    const o = await openDetachedReplica(b, this.#d.name, this.#d.factory, this.#d.deadlineMs);
    this.#others.set(id, o);
    return o.replica;
  }

  #drop(id: string): void {
    const stale = this.#others.get(id);
    this.#others.delete(id);
    if (stale) void this.#closeOther(stale);
  }
}
