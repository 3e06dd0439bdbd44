/** `xdbm reselect [reason]`: re-run active selection now (seed trigger_reselection). */
import type { Command } from 'commander';
import { act, addClientOptions, type ClientOpts } from './common.js';

export function register(program: Command): void {
  addClientOptions(
    program
      .command('reselect')
      .description('re-run the selection of active backends now (changes only what the policy says is better)')
      .argument('[reason]', 'why, for the log', 'manual reselection (xdbm reselect)'),
  ).action((reason: string, opts: ClientOpts) =>
    act(opts, (c) => c.reselect(reason), (r) => {
      const now = r.active.map((a) => `${a.endpointId}@${a.nodeId}`).join(', ');
      if (!r.change) return `Reselection done: active set unchanged (${now})`;
      return `Reselection done: ${r.change.previous.join(', ')} -> ${r.change.current.join(', ')}\nActive now: ${now}`;
    }),
  );
}
