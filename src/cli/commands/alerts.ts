/** `xdbm alerts`: alert rules and which are firing (seed section 8). */
import type { Command } from 'commander';
import { formatAlerts } from '../format.js';
import { act, addClientOptions, type ClientOpts } from './common.js';

export function register(program: Command): void {
  addClientOptions(
    program.command('alerts').description('list the alert rules, their state and the firing alerts'),
  ).action((opts: ClientOpts) => act(opts, (c) => c.alerts(), formatAlerts));
}
