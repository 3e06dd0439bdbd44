/** Pure functions over the ensemble history (no I/O): which members hold an index, how epochs change. */
import { ErrorCode, XdbmError } from '../errors.js';
import type { EpochRecord, LogMetadata } from './metadata/types.js';

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

/**
 * History with a new ensemble from `firstIndex` on. Epochs starting at or after firstIndex are dropped:
 * nothing acknowledged lives there (ensemble change from lastAcked+1) or it was truncated away.
 */
export function withNewEpoch(meta: LogMetadata, firstIndex: number, members: string[], writerId: string): LogMetadata {
  const prevEpoch = meta.epochs.reduce((m, e) => Math.max(m, e.epoch), 0);
  const kept = meta.epochs.filter((e) => e.firstIndex < firstIndex);
  return {
    ...meta,
    epochs: [...kept, { epoch: prevEpoch + 1, firstIndex, members: [...members] }],
    writerId,
  };
}

/** History after truncatePrefix(beforeIndex): epochs wholly below it are dropped. */
export function withPrefixTruncated(meta: LogMetadata, beforeIndex: number): LogMetadata {
  const keepFrom = Math.max(0, meta.epochs.findLastIndex((e) => e.firstIndex <= beforeIndex));
  return { ...meta, firstIndex: Math.max(meta.firstIndex, beforeIndex), epochs: meta.epochs.slice(keepFrom) };
}

/**
 * Highest index recovered from the last epoch: with W members of which `unreachable` did not answer,
 * an acknowledged entry is on at least ackQuorum - unreachable of the reachable ones. `contiguousLast`
 * holds, per reachable member, the highest index it holds with no hole from the epoch's firstIndex.
 */
export function recoveredLastIndex(firstIndex: number, contiguousLast: number[], ackQuorum: number, unreachable: number): number {
  const need = Math.max(1, ackQuorum - unreachable);
  const sorted = [...contiguousLast].sort((a, b) => b - a);
  const v = sorted[need - 1];
  return v === undefined ? firstIndex - 1 : Math.max(firstIndex - 1, v);
}
