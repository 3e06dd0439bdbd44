/** `xdbm logs`: replication of every log in the metadata store (under-replicated ranges by epoch). */
import type { Command } from 'commander';
import type { LogReplicationView } from '../../wal/replication-status.js';
import { act, addClientOptions, type ClientOpts } from './common.js';

export function formatLogs(views: LogReplicationView[]): string {
  if (views.length === 0) return 'No logs in the metadata store.';
  const out: string[] = [];
  for (const v of views) {
    if (v.error) { out.push(`${v.log}: cannot read its metadata: ${v.error.code}: ${v.error.message}`); continue; }
    out.push(`${v.log}: first index ${v.firstIndex}, ${v.epochs} epoch(s), ${v.underReplicatedEntries === 0 ? 'fully replicated' : `${v.underReplicatedEntries} entries UNDER-REPLICATED`}`);
    for (const r of v.ranges) {
      out.push(`  entries ${r.fromIndex}-${r.toIndex} (epoch ${r.epoch}): ${r.healthy.length} healthy cop${r.healthy.length === 1 ? 'y' : 'ies'} ` +
        `(${r.healthy.join(', ') || 'none'}) of holders ${r.holders.join(', ')}`);
    }
  }
  return out.join('\n');
}

export function register(program: Command): void {
  addClientOptions(
    program.command('logs').description('show every write-ahead log and its entries with fewer than ack_quorum healthy copies'),
  ).action((opts: ClientOpts) => act(opts, (c) => c.logs(), formatLogs));
}
