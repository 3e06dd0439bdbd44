/**
 * The operations side of durability: which logs in the metadata store have ranges held by fewer than
 * ackQuorum reachable, healthy copies (status, /metrics, the alert), and which configuration changes
 * would take the last counting copies away (refused unless drained or forced).
 *
 * Computed from the metadata and the manager's view of the backends alone, so the daemon can answer
 * for logs whose writer runs in another process. A log's open epoch belongs to its writer (it changes
 * the ensemble when a member fails), so only sealed epochs are judged here; an open log in this
 * process adds its own live count.
 */
import { ErrorCode, XdbmError, isXdbmError } from '../errors.js';
import { assertUsableMetadata, countEntries, epochEnd, holdersOf, underReplicated, type UnderReplicatedRange } from './ensemble-history.js';
import type { LogMetadata, MetadataStore } from './metadata/types.js';

export interface LogReplicationView {
  log: string;
  firstIndex: number;
  epochs: number;
  /** Entries of sealed epochs with fewer than ackQuorum counting copies. */
  underReplicatedEntries: number;
  ranges: UnderReplicatedRange[];
  /** Set when the metadata could not be read or interpreted. */
  error?: { code: string; message: string };
}

/** Sealed epochs only: the open epoch's end is known to its writer alone. */
function sealedView(meta: LogMetadata): { meta: LogMetadata; lastSealed: number } {
  const last = meta.epochs.at(-1);
  if (last && meta.closedAt?.epoch === last.epoch) return { meta, lastSealed: meta.closedAt.lastIndex };
  return { meta, lastSealed: last ? last.firstIndex - 1 : 0 };
}

export async function replicationStatus(store: MetadataStore, ackQuorum: number, counts: (member: string) => boolean): Promise<LogReplicationView[]> {
  const out: LogReplicationView[] = [];
  for (const log of await store.list()) {
    try {
      const v = await store.get(log);
      if (!v) continue;
      assertUsableMetadata(log, v.meta);
      const { meta, lastSealed } = sealedView(v.meta);
      const ranges = underReplicated(meta, lastSealed, ackQuorum, counts);
      out.push({ log, firstIndex: meta.firstIndex, epochs: meta.epochs.length, underReplicatedEntries: countEntries(ranges), ranges });
    } catch (e) {
      out.push({
        log, firstIndex: 0, epochs: 0, underReplicatedEntries: 0, ranges: [],
        error: { code: isXdbmError(e) ? e.code : ErrorCode.IO_ERROR, message: (e as Error)?.message ?? String(e) },
      });
    }
  }
  return out;
}

export interface RemovalRisk {
  log: string;
  epoch: number;
  fromIndex: number;
  toIndex: number;
  /** Counting holders left after the removal. */
  remaining: string[];
  /** Holders the removal takes away. */
  removed: string[];
}

/**
 * Ranges (sealed epochs, and the open one from its first index) that the removal of `leaving` would
 * leave with fewer than ackQuorum counting holders, where the removal takes at least one holder away.
 */
export function removalRisks(log: string, meta: LogMetadata, leaving: ReadonlySet<string>, ackQuorum: number, counts: (member: string) => boolean): RemovalRisk[] {
  const out: RemovalRisk[] = [];
  meta.epochs.forEach((e, k) => {
    const from = Math.max(e.firstIndex, meta.firstIndex);
    const to = k + 1 < meta.epochs.length ? epochEnd(meta, k, 0) : Number.MAX_SAFE_INTEGER;
    if (to < from) return;
    const holders = [...new Set(holdersOf(e).map((h) => h.member))];
    const removed = holders.filter((h) => leaving.has(h));
    if (removed.length === 0) return;
    const remaining = holders.filter((h) => !leaving.has(h) && counts(h));
    if (remaining.length < ackQuorum) out.push({ log, epoch: e.epoch, fromIndex: from, toIndex: to, remaining, removed });
  });
  return out;
}

export async function assertRemovalSafe(store: MetadataStore, leaving: ReadonlySet<string>, ackQuorum: number, counts: (member: string) => boolean, what: string): Promise<void> {
  if (leaving.size === 0) return;
  const risks: RemovalRisk[] = [];
  for (const log of await store.list()) {
    const v = await store.get(log);
    if (!v) continue;
    risks.push(...removalRisks(log, v.meta, leaving, ackQuorum, counts));
  }
  if (risks.length === 0) return;
  const lines = risks.slice(0, 5).map((r) =>
    `log ${r.log} entries ${r.fromIndex}-${r.toIndex === Number.MAX_SAFE_INTEGER ? 'end' : r.toIndex} (epoch ${r.epoch}) would keep ${r.remaining.length} counting ` +
    `cop${r.remaining.length === 1 ? 'y' : 'ies'} (${r.remaining.join(', ') || 'none'}) of the ${ackQuorum} needed, losing ${r.removed.join(', ')}`);
  throw new XdbmError(ErrorCode.DATA_AT_RISK,
    `${what} refused: ${lines.join('; ')}${risks.length > 5 ? `; and ${risks.length - 5} more` : ''}. ` +
    'Drain first (xdbm nodes remove --drain: re-replicates, then removes) or force it (--force) if those copies are lost anyway', {
      details: { risks: risks.slice(0, 50) },
    });
}
