/**
 * Read path of the log: the metadata says which copies hold an index (the epoch's ensemble, then
 * re-replicated copies); current healthy members are tried first (rotating by index to spread reads),
 * then the rest. Each copy is checked (CRC32C and index); a damaged or missing copy falls back to the
 * next. Acknowledged entries still held in memory (being re-sent after an ensemble change) are served
 * from there first: they are the acknowledged bytes.
 *
 * When no copy could be read for I/O reasons the error is XDBM_IO_ERROR, never XDBM_ENTRY_NOT_FOUND:
 * an acknowledged entry that cannot be reached now is not a missing one.
 */
import { ErrorCode, XdbmError, isXdbmError } from '../errors.js';
import type { Clock } from './clock.js';
import { epochFor, holdersOf, type Holder } from './ensemble-history.js';
import { withMemberDeadline } from './io-deadline.js';
import type { LogStats } from './log-types.js';
import type { Member, MemberPool } from './members.js';
import type { LogMetadata } from './metadata/types.js';

export interface LogReaderDeps {
  name: string;
  clock: Clock;
  deadlineMs: number;
  pool: MemberPool;
  stats: LogStats;
  meta: () => LogMetadata;
  members: () => Member[];
  lastIndex: () => number;
  /** Acknowledged payload still held in memory, if any. */
  inMemory: (index: number) => Uint8Array | undefined;
}

export class LogReader {
  readonly #d: LogReaderDeps;

  constructor(deps: LogReaderDeps) {
    this.#d = deps;
  }

  /** The holders of `index` in the order they are tried. */
  holders(index: number): Holder[] {
    const d = this.#d;
    const ep = epochFor(d.meta(), index);
    if (!ep) return [];
    const all = holdersOf(ep);
    const live = new Set(d.members().filter((m) => !m.failed).map((m) => m.id));
    const first = all.filter((h) => live.has(h.member));
    const rest = all.filter((h) => !live.has(h.member));
    const k = first.length > 0 ? index % first.length : 0;
    return [...first.slice(k), ...first.slice(0, k), ...rest];
  }

  async read(index: number): Promise<Buffer> {
    const d = this.#d;
    const mem = d.inMemory(index);
    if (mem) return Buffer.from(mem);
    const holders = this.holders(index);
    const errors: unknown[] = [];
    for (const h of holders) {
      try {
        const log = await d.pool.get(h.member);
        if (!log.has(h.copy, index)) {
          // Damaged at scan time, or a copy this instance scanned before it was complete: look again
          // once (cheap for files: one directory and segment scan of this member).
          if (log.damaged(h.copy).includes(index)) d.stats.damagedRecords++;
          throw new XdbmError(ErrorCode.ENTRY_NOT_FOUND, `${h.member} has no intact ${d.name}[${index}]`, { details: { index } });
        }
        const buf = await withMemberDeadline(d.clock, log, () => log.read(h.copy, index), d.deadlineMs, `read ${index} from ${h.member}`);
        if (errors.length > 0) d.stats.readFallbacks++;
        return buf;
      } catch (e) {
        if (isXdbmError(e, ErrorCode.CHECKSUM_MISMATCH)) { d.stats.checksumFailures++; d.stats.damagedRecords++; }
        // A member that failed for I/O reasons is opened afresh next time (the manager may have
        // reopened its device; a file system may be back).
        if (!isXdbmError(e, ErrorCode.ENTRY_NOT_FOUND) && !isXdbmError(e, ErrorCode.CHECKSUM_MISMATCH) && !isXdbmError(e, ErrorCode.IO_TIMEOUT) &&
          !d.members().some((m) => m.id === h.member)) d.pool.drop(h.member);
        errors.push(e);
      }
    }
    const again = d.inMemory(index);
    if (again) return Buffer.from(again);
    // Only acknowledged indexes are read: none intact on any reachable holder is corruption, unless
    // some holder could not be reached at all (then it may be back later: an I/O error).
    const unreachable = errors.some((e) => !isXdbmError(e, ErrorCode.ENTRY_NOT_FOUND) && !isXdbmError(e, ErrorCode.CHECKSUM_MISMATCH));
    throw new XdbmError(unreachable ? ErrorCode.IO_ERROR : ErrorCode.LOG_CORRUPT,
      `no intact copy of ${d.name}[${index}] on ${holders.map((h) => h.member).join(', ') || 'any member'}`, {
        details: { index, holders: holders.map((h) => h.member), errors: errors.map((e) => (isXdbmError(e) ? `${e.code}: ${e.message}` : String(e))) },
      });
  }
}
