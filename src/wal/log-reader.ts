/**
 * Read path of the managed log: the ensemble history says which members hold an index; healthy current
 * members are tried first (rotating by index to spread reads), then the rest of that epoch's members,
 * each copy checked by CRC32C; a failing copy falls back to the next one.
 */
import type { StorageBackend } from '../backends/backend.js';
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
  /** Replicas opened for reading on members that left the ensemble. */
  readonly #others = new Map<string, LogReplica>();

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
    throw new XdbmError(corrupt ? ErrorCode.LOG_CORRUPT : ErrorCode.ENTRY_NOT_FOUND,
      `no intact copy of ${d.name}[${index}] on ${holders.join(', ') || 'any member'}`, {
        details: { index, holders, errors: errors.map((e) => (isXdbmError(e) ? e.code : String(e))) },
      });
  }

  async close(): Promise<void> {
    const all = [...this.#others.values()];
    this.#others.clear();
    await Promise.all(all.map((r) => withDeadline(r.close(), this.#d.deadlineMs, 'close').catch(() => undefined)));
  }

  async #replica(id: string): Promise<LogReplica> {
    const live = this.#d.members().find((m) => m.id === id && !m.failed);
    if (live) return live.replica;
    let r = this.#others.get(id);
    if (r) return r;
    const b = this.#d.manager.getBackend(id);
    if (!b) throw new XdbmError(ErrorCode.UNKNOWN_ENDPOINT, `endpoint ${id} is gone from the candidate pool`);
    r = this.#d.factory(b, this.#d.name);
    try {
      await withDeadline(r.open(), this.#d.deadlineMs, `open ${id}`);
    } catch (e) {
      void r.close().catch(() => undefined);
      throw e;
    }
    this.#others.set(id, r);
    return r;
  }

  #drop(id: string): void {
    const stale = this.#others.get(id);
    this.#others.delete(id);
    if (stale) void withDeadline(stale.close(), this.#d.deadlineMs, 'close').catch(() => undefined);
  }
}
