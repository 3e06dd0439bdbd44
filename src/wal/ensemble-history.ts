/**
 * Pure functions over a log's metadata (no I/O): which copies hold an index, how epochs change, what
 * recovery may conclude, what is under-replicated. Every rule the writer, recovery, the reader and the
 * operations side apply to the metadata lives here once.
 */
import { ErrorCode, XdbmError } from '../errors.js';
import type { CopyRef } from './member-log.js';
import type { EpochRecord, LogMetadata } from './metadata/types.js';

export const METADATA_FORMAT = 2;

/** A holder of an epoch's range: a member and the copy on it. */
export interface Holder {
  member: string;
  copy: CopyRef;
}

/** Refuses documents this code cannot interpret safely (an older layout, or a hand-edited one). */
export function assertUsableMetadata(name: string, meta: LogMetadata): void {
  const bad = (why: string): never => {
    throw new XdbmError(ErrorCode.LOG_CORRUPT, `metadata of log ${name} ${why}; refusing to open it (see README "The log": repair)`, {
      details: { logName: name, format: meta.format },
    });
  };
  if (meta.format !== METADATA_FORMAT) bad(`has format ${String(meta.format)}, this version reads format ${METADATA_FORMAT}`);
  if (!Array.isArray(meta.epochs) || meta.epochs.length === 0) bad('names no epoch');
  let prev: EpochRecord | undefined;
  for (const e of meta.epochs) {
    if (!Number.isSafeInteger(e.epoch) || !Number.isSafeInteger(e.firstIndex) || e.firstIndex < 1 || !Array.isArray(e.members)) bad(`has a malformed epoch record ${JSON.stringify(e)}`);
    if (prev && (e.epoch <= prev.epoch || e.firstIndex < prev.firstIndex)) bad('has epochs out of order');
    prev = e;
  }
  if (!Number.isSafeInteger(meta.firstIndex) || meta.firstIndex < 1) bad('has a malformed firstIndex');
}

/** Highest epoch number handed out so far. */
export function claimedEpoch(meta: LogMetadata): number {
  return Math.max(meta.claimedEpoch ?? 0, ...meta.epochs.map((e) => e.epoch));
}

/** The epoch whose range holds `index` (the last epoch with firstIndex <= index). */
export function epochFor(meta: LogMetadata, index: number): EpochRecord | undefined {
  let hit: EpochRecord | undefined;
  for (const e of meta.epochs) {
    if (e.firstIndex <= index) hit = e;
    else break;
  }
  return hit;
}

export function lastEpoch(meta: LogMetadata): EpochRecord {
  const e = meta.epochs.at(-1);
  if (!e) throw new XdbmError(ErrorCode.LOG_CORRUPT, 'log metadata has no epoch');
  return e;
}

/** Last index of epoch k's range: the next epoch's firstIndex - 1, or `lastIndex` for the last epoch. */
export function epochEnd(meta: LogMetadata, k: number, lastIndex: number): number {
  const next = meta.epochs[k + 1];
  return next ? next.firstIndex - 1 : lastIndex;
}

/** Every copy the metadata trusts for an epoch: its ensemble's own copies, then re-replicated ones. */
export function holdersOf(e: EpochRecord): Holder[] {
  const out: Holder[] = e.members.map((member) => ({ member, copy: { epoch: e.epoch, by: e.epoch } }));
  for (const c of e.copies ?? []) out.push({ member: c.member, copy: { epoch: e.epoch, by: c.by } });
  return out;
}

/**
 * History with a new epoch from `firstIndex` on. Epochs starting at or after firstIndex are dropped:
 * nothing acknowledged lives there (an ensemble change starts at lastAcked+1, recovery at the first
 * index it copied, a suffix truncation at the cut).
 */
export function withNewEpoch(meta: LogMetadata, firstIndex: number, members: string[], epoch: number, writerId: string): LogMetadata {
  if (meta.epochs.some((e) => e.epoch >= epoch)) {
    throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `epoch ${epoch} is not above every recorded epoch`);
  }
  const kept = meta.epochs.filter((e) => e.firstIndex < firstIndex);
  return {
    ...meta,
    format: METADATA_FORMAT,
    epochs: [...kept, { epoch, firstIndex, members: [...members] }],
    claimedEpoch: Math.max(epoch, meta.claimedEpoch ?? 0),
    writerId,
  };
}

/** A claim: the writer takes the next epoch number (fencing every earlier writer's metadata changes). */
export function withClaim(meta: LogMetadata, writerId: string): { meta: LogMetadata; epoch: number } {
  const epoch = claimedEpoch(meta) + 1;
  const { closedAt: _closed, ...rest } = meta;
  return { meta: { ...rest, format: METADATA_FORMAT, claimedEpoch: epoch, writerId }, epoch };
}

/** History after truncatePrefix(beforeIndex): epochs wholly below it are dropped. */
export function withPrefixTruncated(meta: LogMetadata, beforeIndex: number): LogMetadata {
  const keepFrom = Math.max(0, meta.epochs.findLastIndex((e) => e.firstIndex <= beforeIndex));
  return { ...meta, firstIndex: Math.max(meta.firstIndex, beforeIndex), epochs: meta.epochs.slice(keepFrom) };
}

/** History with one more re-replicated copy of epoch `epoch`'s range. */
export function withCopy(meta: LogMetadata, epoch: number, member: string, by: number): LogMetadata {
  return {
    ...meta,
    epochs: meta.epochs.map((e) => (e.epoch !== epoch ? e : { ...e, copies: [...(e.copies ?? []).filter((c) => c.member !== member), { member, by }] })),
  };
}

/**
 * Highest index recovered from the last epoch. With W members of which `unreachable` could not be
 * read, an acknowledged entry is on at least ackQuorum - unreachable of the reachable ones, and each
 * member of an epoch writes its range in order, so the (ackQuorum - unreachable)-th highest lastIndex
 * among the reachable members is at or above every acknowledged index. Entries above it cannot have
 * been acknowledged. Callers refuse when unreachable >= ackQuorum (the end cannot be known).
 */
export function recoveredLastIndex(firstIndex: number, lastIndexes: number[], ackQuorum: number, unreachable: number): number {
  const need = Math.max(1, ackQuorum - unreachable);
  const sorted = [...lastIndexes].sort((a, b) => b - a);
  const v = sorted[need - 1];
  return v === undefined ? firstIndex - 1 : Math.max(firstIndex - 1, v);
}

export interface UnderReplicatedRange {
  epoch: number;
  fromIndex: number;
  toIndex: number;
  /** Holders that count (reachable and healthy). */
  healthy: string[];
  /** Every holder the metadata names. */
  holders: string[];
}

/**
 * Ranges (one per epoch, within [meta.firstIndex, lastIndex]) held by fewer than ackQuorum holders
 * that `counts` accepts (reachable, healthy, not leaving). The open epoch is included: its members
 * are the writer's current ensemble, which the writer itself keeps whole by changing it.
 */
export function underReplicated(meta: LogMetadata, lastIndex: number, ackQuorum: number, counts: (member: string) => boolean): UnderReplicatedRange[] {
  const out: UnderReplicatedRange[] = [];
  meta.epochs.forEach((e, k) => {
    const from = Math.max(e.firstIndex, meta.firstIndex);
    const to = epochEnd(meta, k, lastIndex);
    if (to < from) return;
    const holders = [...new Set(holdersOf(e).map((h) => h.member))];
    const healthy = holders.filter(counts);
    if (healthy.length < ackQuorum) out.push({ epoch: e.epoch, fromIndex: from, toIndex: to, healthy, holders });
  });
  return out;
}

export function countEntries(ranges: UnderReplicatedRange[]): number {
  return ranges.reduce((n, r) => n + (r.toIndex - r.fromIndex + 1), 0);
}
