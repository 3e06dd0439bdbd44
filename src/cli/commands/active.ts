/** `xdbm active`: the active backend pool (seed cli_list_active_backends). */
import type { Command } from 'commander';
import { formatActive } from '../format.js';
import { act, addClientOptions, type ClientOpts } from './common.js';

export function register(program: Command): void {
  addClientOptions(
    program.command('active').description('list the active backends (the write-ahead log ensemble) with latency, bandwidth and load'),
  ).action((opts: ClientOpts) => act(opts, (c) => c.active(), formatActive));
}
