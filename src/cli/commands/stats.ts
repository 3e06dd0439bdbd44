/** `xdbm stats`: manager statistics and the seed section 8 monitoring metrics (seed get_manager_stats). */
import type { Command } from 'commander';
import { formatStats } from '../format.js';
import { act, addClientOptions, type ClientOpts } from './common.js';

export function register(program: Command): void {
  addClientOptions(
    program.command('stats').description('show manager statistics: availability, operations, latency, failovers'),
  ).action((opts: ClientOpts) => act(opts, (c) => c.stats(), formatStats));
}
