/**
 * What a BackendManager knows about logs: the ones open in this process, the metadata store they
 * share, and the rules that protect their copies from configuration changes (a node removal, a
 * reload, a node update that moves an endpoint). The manager asks here before it lets endpoints go.
 */
import type { ManagerConfig } from '../config/types.js';
import { ErrorCode, XdbmError, isXdbmError } from '../errors.js';
import type { CandidateStatus } from '../manager-api.js';
import type { ManagedLog } from './log-types.js';
import { createMetadataStore } from './metadata/index.js';
import type { MetadataStore } from './metadata/types.js';
import { assertRemovalSafe, replicationStatus, type LogReplicationView } from './replication-status.js';

/** Backend states whose copies count toward ackQuorum: the manager would pick such a backend. */
const COUNTING_STATES = new Set(['HEALTHY', 'DEGRADED', 'UNKNOWN']);

/** Whether a holder's copy counts: a candidate in a usable state, with weight > 0 (weight 0 = draining). */
export function countingHolders(candidates: readonly Pick<CandidateStatus, 'endpointId' | 'state' | 'weight'>[]): (member: string) => boolean {
  const by = new Map(candidates.map((c) => [c.endpointId, c] as const));
  return (member) => {
    const c = by.get(member);
    return !!c && COUNTING_STATES.has(c.state) && (c.weight ?? 1) > 0;
  };
}

export interface RemovalOptions {
  /** Re-replicate what only the leaving endpoints hold, then remove (bounded by timeoutMs). */
  drain?: boolean;
  /** Remove even if acknowledged entries keep fewer than ackQuorum copies (they are lost anyway). */
  force?: boolean;
  /** How long a drain may take. Default 10 minutes. */
  timeoutMs?: number;
}

type OpenLog = ManagedLog & { rereplicateNow?: () => void };

export class LogRegistry {
  readonly #config: () => ManagerConfig;
  readonly #candidates: () => CandidateStatus[];
  readonly #open = new Map<string, OpenLog>();
  #store?: MetadataStore;

  constructor(o: { config: () => ManagerConfig; candidates: () => CandidateStatus[] }) {
    this.#config = o.config;
    this.#candidates = o.candidates;
  }

  add(log: OpenLog): void {
    this.#open.set(log.name, log);
    const close = log.close.bind(log);
    log.close = async () => {
      if (this.#open.get(log.name) === log) this.#open.delete(log.name);
      await close();
    };
  }

  async #metadata(): Promise<MetadataStore> {
    if (!this.#store) this.#store = await createMetadataStore(this.#config().wal.metadata);
    return this.#store;
  }

  /** Every log in the metadata store; logs open here report their own live count (open epoch included). */
  async replication(): Promise<LogReplicationView[]> {
    const counts = countingHolders(this.#candidates());
    let views: LogReplicationView[];
    try {
      views = await replicationStatus(await this.#metadata(), this.#config().wal.ackQuorum, counts);
    } catch (e) {
      views = [{ log: '*', firstIndex: 0, epochs: 0, underReplicatedEntries: 0, ranges: [], error: { code: isXdbmError(e) ? e.code : ErrorCode.IO_ERROR, message: String((e as Error)?.message ?? e) } }];
    }
    for (const v of views) {
      const open = this.#open.get(v.log);
      if (open) v.underReplicatedEntries = Math.max(v.underReplicatedEntries, open.stats().underReplicatedEntries);
    }
    return views;
  }

  /** Refuses (XDBM_DATA_AT_RISK) a change that takes the last counting copies of log entries away. */
  async checkRemoval(leaving: readonly string[], what: string, opts: RemovalOptions = {}): Promise<void> {
    if (leaving.length === 0 || opts.force) return;
    const store = await this.#metadata();
    const ackQuorum = this.#config().wal.ackQuorum;
    if (!opts.drain) {
      await assertRemovalSafe(store, new Set(leaving), ackQuorum, countingHolders(this.#candidates()), what);
      return;
    }
    // Drain: the leaving endpoints' copies stop counting (the caller set their weight to 0), the logs
    // open here re-replicate, and the removal goes ahead once nothing depends on them alone.
    const deadline = Date.now() + (opts.timeoutMs ?? 600_000);
    for (;;) {
      for (const l of this.#open.values()) l.rereplicateNow?.();
      try {
        await assertRemovalSafe(store, new Set(leaving), ackQuorum, countingHolders(this.#candidates()), what);
        return;
      } catch (e) {
        if (!isXdbmError(e, ErrorCode.DATA_AT_RISK) || Date.now() > deadline) {
          if (isXdbmError(e, ErrorCode.DATA_AT_RISK)) {
            throw new XdbmError(ErrorCode.DATA_AT_RISK, `drain did not finish within ${opts.timeoutMs ?? 600_000} ms: ${e.message}`, { details: e.details });
          }
          throw e;
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async close(): Promise<void> {
    await this.#store?.close().catch(() => undefined);
    this.#store = undefined;
  }
}
