/** `xdbm candidates`: every candidate backend of every node with its state (seed cli_list_candidates). */
import type { Command } from 'commander';
import { formatCandidates } from '../format.js';
import { act, addClientOptions, type ClientOpts } from './common.js';

export function register(program: Command): void {
  addClientOptions(
    program.command('candidates').description('list the candidate backends of every node with their health state'),
  ).action((opts: ClientOpts) => act(opts, (c) => c.candidates(), formatCandidates));
}
