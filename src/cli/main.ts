#!/usr/bin/env -S UV_THREADPOOL_SIZE=16 node
/**
 * xdbm: the command line. Thin: each command parses its arguments, calls the daemon over the admin
 * socket (src/client) and formats the answer; `xdbm daemon` runs the daemon itself.
 * Exit codes: 0 ok, 1 other failure, 2 bad input, 3 daemon unreachable.
 * The shebang widens libuv's thread pool (4 by default): fs, the addon's async I/O and koffi's async
 * libnvme calls share it, and one hung NVMe command or NFS call must not starve the others.
 */
import { Command, CommanderError } from 'commander';
import { register as active } from './commands/active.js';
import { register as alerts } from './commands/alerts.js';
import { register as candidates } from './commands/candidates.js';
import { EXIT_BAD_INPUT } from './commands/common.js';
import { register as daemon } from './commands/daemon.js';
import { register as failover } from './commands/failover.js';
import { register as logs } from './commands/logs.js';
import { register as metrics } from './commands/metrics.js';
import { register as nodes } from './commands/nodes.js';
import { register as nvme } from './commands/nvme.js';
import { register as probe } from './commands/probe.js';
import { register as reload } from './commands/reload.js';
import { register as reselect } from './commands/reselect.js';
import { register as stats } from './commands/stats.js';
import { register as status } from './commands/status.js';
import { register as validate } from './commands/validate.js';
import { register as weight } from './commands/weight.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('xdbm')
    .description('xdevice backend manager: keeps the write-ahead log on the best 3 storage backends and fails over')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', '\nExit codes: 0 ok, 1 failure, 2 bad input (fix the command or file), 3 daemon unreachable (start it: `xdbm daemon --config FILE` or `npm start`).');
  // validate (CONFIG) and probe (PROBES) work offline, without the daemon.
  for (const reg of [daemon, candidates, active, failover, reload, weight, reselect, status, stats, alerts, metrics, logs, nodes, validate, probe, nvme]) reg(program);
  program.exitOverride();
  for (const c of program.commands) {
    c.exitOverride();
    for (const sub of c.commands) sub.exitOverride();
  }
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version are exit 0; every usage error is bad input.
      process.exitCode = e.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
      return;
    }
    throw e;
  }
}

// `xdbm candidates | head`: a closed pipe ends the command quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

main(process.argv).catch((e: unknown) => {
  process.stderr.write(`xdbm: error: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exitCode = 1;
});
