/** `xdbm failover <failed-id> [replacement-id]`: force a backend switch (seed cli_force_failover). */
import type { Command } from 'commander';
import { formatFailover } from '../format.js';
import { addClientOptions, EXIT_FAILURE, runClient, type ClientOpts } from './common.js';

export function register(program: Command): void {
  addClientOptions(
    program
      .command('failover')
      .description('replace an active backend now, by the given one or the best healthy candidate in another failure domain')
      .argument('<failed-id>', 'endpoint id of the active backend to take out')
      .argument('[replacement-id]', 'endpoint id to put in its place (default: auto-select); it must pass the selection rules')
      .option('--force', 'accept a replacement that breaks a selection rule (not eligible, or sharing a failure domain); logged in the audit trail'),
  ).action(async (failedId: string, replacementId: string | undefined, opts: ClientOpts & { force?: boolean }) => {
    const r = await runClient(opts, (c) => c.failover(failedId, replacementId, opts.force === true), formatFailover);
    // The daemon ran the failover but it did not complete: a failure of this command.
    if (r && !r.ok) process.exitCode = EXIT_FAILURE;
  });
}
