#!/usr/bin/env node
/**
 * xdbm: the command line. Thin: each command parses its arguments, calls the daemon over the admin
 * socket (src/client) and formats the answer; `xdbm daemon` runs the daemon itself.
 * Exit codes: 0 ok, 1 other failure, 2 bad input, 3 daemon unreachable.
 */
import { Command, CommanderError } from 'commander';
import { register as active } from './commands/active.js';
import { register as alerts } from './commands/alerts.js';
import { register as candidates } from './commands/candidates.js';
import { EXIT_BAD_INPUT } from './commands/common.js';
import { register as daemon } from './commands/daemon.js';
import { register as failover } from './commands/failover.js';
import { register as nodes } from './commands/nodes.js';
import { register as reload } from './commands/reload.js';
import { register as reselect } from './commands/reselect.js';
import { register as stats } from './commands/stats.js';
import { register as status } from './commands/status.js';
import { register as weight } from './commands/weight.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('xdbm')
    .description('xdevice backend manager: keeps the write-ahead log on the best 3 storage backends and fails over')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', '\nExit codes: 0 ok, 1 failure, 2 bad input (fix the command or file), 3 daemon unreachable (start it: `xdbm daemon --config FILE` or `npm start`).');
  for (const reg of [daemon, candidates, active, failover, reload, weight, reselect, status, stats, alerts, nodes]) reg(program);
  // Commands of other parts of the package register here too (see the optional loaders below).
  program.exitOverride();
  for (const c of program.commands) {
    c.exitOverride();
    for (const sub of c.commands) sub.exitOverride();
  }
  return program;
}

/** validate (CONFIG) and probe (PROBES) live in their own files; load them when present. */
async function registerOptional(program: Command): Promise<void> {
  for (const spec of ['./commands/validate.js', './commands/probe.js']) {
    try {
      const mod = (await import(spec)) as { register?: (p: Command) => void };
      if (typeof mod.register === 'function') {
        mod.register(program);
        const c = program.commands[program.commands.length - 1];
        c?.exitOverride();
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw e;
    }
  }
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  await registerOptional(program);
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

main(process.argv).catch((e: unknown) => {
  process.stderr.write(`xdbm: error: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exitCode = 1;
});
