/** `xdbm weight <id> <w>`: set a backend's weight (seed set_backend_weight). */
import type { Command } from 'commander';
import { addClientOptions, badInput, persistNote, reportError, runClient, type ClientOpts } from './common.js';

const DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)$/;

export function register(program: Command): void {
  addClientOptions(
    program
      .command('weight')
      .description('set the selection weight of a backend (0..1; it multiplies the score)')
      .argument('<id>', 'endpoint id')
      .argument('<w>', 'weight from 0 to 1, e.g. 0.5'),
  ).action(async (id: string, w: string, opts: ClientOpts) => {
    // decimal only: Number() also takes '0x1', '0b1', '1e0' and ' 1 ', which no operator means as a weight
    const weight = DECIMAL.test(w) ? Number(w) : NaN;
    if (!Number.isFinite(weight) || weight < 0 || weight > 1) {
      process.exitCode = reportError(badInput(`weight must be a number from 0 to 1, got '${w}'`), opts.json);
      return;
    }
    await runClient(opts, (c) => c.weight(id, weight), (r) => `Weight of ${r.endpointId} set to ${r.weight}${persistNote(r)}`);
  });
}
