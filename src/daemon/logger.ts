/**
 * Structured logs (pino, JSON lines) on stderr, so stdout stays free for what the daemon prints for
 * humans (where its socket and dashboard are). Level from XDBM_LOG_LEVEL (default info).
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(opts: { level?: string; destinationFd?: number } = {}): Logger {
  const level = opts.level ?? process.env['XDBM_LOG_LEVEL'] ?? 'info';
  return pino(
    { name: 'xdbm', level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: opts.destinationFd ?? 2, sync: true }),
  );
}
