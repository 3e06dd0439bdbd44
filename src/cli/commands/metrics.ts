/** `xdbm metrics`: the Prometheus text of /metrics, over the admin socket (works with HTTP off). */
import type { Command } from 'commander';
import { act, addClientOptions, type ClientOpts } from './common.js';

export function register(program: Command): void {
  addClientOptions(
    program.command('metrics').description('print the metrics in Prometheus text format (the seed section 8 set, per-backend series, firing alerts)'),
  ).action((opts: ClientOpts) => act(opts, (c) => c.metrics(), (r) => r.text.trimEnd()));
}
