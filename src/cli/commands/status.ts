/** `xdbm status <id>`: full status of one backend (seed get_backend_status). */
import type { Command } from 'commander';
import { formatStatus } from '../format.js';
import { act, addClientOptions, type ClientOpts } from './common.js';

export function register(program: Command): void {
  addClientOptions(
    program.command('status').description('show the health, metrics and anti-flap state of one backend').argument('<id>', 'endpoint id'),
  ).action((id: string, opts: ClientOpts) => act(opts, (c) => c.status(id), formatStatus));
}
