/**
 * Runs the daemon as the process's main job: signals (SIGTERM/SIGINT stop, SIGHUP reloads), fatal
 * errors logged and the socket removed before exit. Returns the exit code when the daemon has stopped.
 */
import { isXdbmError } from '../errors.js';
import { XdbmDaemon, type DaemonOptions } from './daemon.js';
import { createLogger } from './logger.js';

const STOP_DEADLINE_MS = 20_000;

export async function runDaemonProcess(opts: DaemonOptions): Promise<number> {
  const log = opts.logger ?? createLogger();
  let daemon: XdbmDaemon;
  try {
    daemon = await XdbmDaemon.start({ ...opts, logger: log });
  } catch (e) {
    // A config or usage error is not a crash: log its code and details, keep stacks for real faults.
    if (isXdbmError(e)) log.fatal({ code: e.code, error: e.message, details: e.details }, 'daemon failed to start');
    else log.fatal({ err: e }, 'daemon failed to start');
    throw e;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string, code: number): void => {
      if (stopping) {
        log.warn({ why }, 'second stop request: exiting now');
        process.exit(code || 1);
      }
      stopping = true;
      // A manager that cannot stop (hung I/O on a dead target) must not keep the process forever.
      setTimeout(() => {
        log.error({ why, afterMs: STOP_DEADLINE_MS }, 'stop did not finish in time: exiting');
        process.exit(1);
      }, STOP_DEADLINE_MS).unref();
      daemon.stop(why).then(
        () => resolve(code),
        () => resolve(1),
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM', 0));
    process.on('SIGINT', () => stop('SIGINT', 0));
    process.on('SIGHUP', () => {
      log.info('SIGHUP: reloading config');
      daemon.reloadFromSignal();
    });
    process.on('uncaughtException', (e) => {
      log.fatal({ err: e }, 'uncaught exception: stopping');
      stop('uncaughtException', 1);
    });
    process.on('unhandledRejection', (e) => {
      log.error({ err: e }, 'unhandled promise rejection (bug): the daemon keeps running');
    });
  });
}
