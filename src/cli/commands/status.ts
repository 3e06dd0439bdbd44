/**
 * `xdbm status <id>`: full status of one backend (the management API's get_backend_status).
 * `xdbm status`: the active set and the replication of every log (under-replicated entries).
 */
import type { Command } from 'commander';
import { formatStatus } from '../format.js';
import { act, addClientOptions, type ClientOpts } from './common.js';
import { formatLogs } from './logs.js';

export function register(program: Command): void {
  addClientOptions(
    program.command('status')
      .description('without an id: the active set and every log\'s replication; with one: the health, metrics and anti-flap state of that backend')
      .argument('[id]', 'endpoint id'),
  ).action((id: string | undefined, opts: ClientOpts) => {
    if (id !== undefined) return act(opts, (c) => c.status(id), formatStatus);
    return act(opts, async (c) => ({ active: await c.active(), logs: await c.logs() }), (r) =>
      [`Active: ${r.active.map((a) => `${a.endpointId} (${a.nodeId}, ${a.state})`).join(', ') || 'none'}`, '', formatLogs(r.logs)].join('\n'));
  });
}
