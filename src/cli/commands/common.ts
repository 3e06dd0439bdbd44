/**
 * What every client command shares: the --socket/--config/--json/--timeout-ms options, finding the
 * socket, exit codes (0 ok, 1 other failure, 2 bad input, 3 daemon unreachable) and error printing
 * with a fix hint. Commands stay thin: parse args -> client call -> format.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { AdminClient } from '../../client/client.js';
import { ErrorCode, XdbmError, isXdbmError } from '../../errors.js';
import { formatIssues } from '../format.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_BAD_INPUT = 2;
export const EXIT_UNREACHABLE = 3;

export interface ClientOpts {
  socket?: string;
  config?: string;
  json?: boolean;
  timeoutMs?: string;
}

const BAD_INPUT_CODES = new Set<string>([
  ErrorCode.CONFIG_INVALID,
  ErrorCode.CONFIG_NOT_FOUND,
  ErrorCode.BAD_CONNECTION_STRING,
  ErrorCode.UNKNOWN_ENDPOINT,
  ErrorCode.UNKNOWN_NODE,
  ErrorCode.DUPLICATE_ID,
  ErrorCode.NOT_ACTIVE,
  ErrorCode.INVALID_ARGUMENT,
  ErrorCode.EXPRESSION_INVALID,
  ErrorCode.DATA_AT_RISK,
]);

export function exitCodeFor(e: unknown): number {
  if (isXdbmError(e)) {
    if (e.code === ErrorCode.DAEMON_UNREACHABLE) return EXIT_UNREACHABLE;
    if (BAD_INPUT_CODES.has(e.code)) return EXIT_BAD_INPUT;
  }
  const c = (e as { code?: string })?.code;
  if (typeof c === 'string' && c.startsWith('commander.')) return EXIT_BAD_INPUT;
  return EXIT_FAILURE;
}

const HINTS: Partial<Record<string, string>> = {
  [ErrorCode.UNKNOWN_ENDPOINT]: 'list the backends with `xdbm candidates`',
  [ErrorCode.UNKNOWN_NODE]: 'list the nodes with `xdbm candidates`',
  [ErrorCode.NOT_ACTIVE]: 'only an active backend can be failed over; see `xdbm active`',
  [ErrorCode.NO_REPLACEMENT]: 'no healthy candidate in another failure domain; see `xdbm candidates`',
  [ErrorCode.CONFIG_INVALID]: 'fix the lines above and run the command again; the daemon keeps its running config',
  [ErrorCode.CONFIG_NOT_FOUND]: 'give the path of an existing YAML file',
  [ErrorCode.UNAUTHORIZED]: 'run as the user that started the daemon (or root)',
  [ErrorCode.DUPLICATE_ID]: 'ids must be unique across the cluster; pick another id or remove the old node first',
  [ErrorCode.DATA_AT_RISK]: 'drain first (`xdbm nodes remove --drain`), or `--force` if those copies are gone anyway; `xdbm logs` shows what is at risk',
  [ErrorCode.INTERNAL]: 'this is a bug in xdbm: look at the daemon log (stderr) around this time',
};

/** Prints the error (JSON on stdout with --json, else text on stderr) and returns the exit code. */
export function reportError(e: unknown, json = false, hints: Partial<Record<string, string>> = {}): number {
  const code = exitCodeFor(e);
  if (json) {
    const body = isXdbmError(e)
      ? { code: e.code, message: e.message, details: e.details }
      : { code: ErrorCode.INTERNAL, message: e instanceof Error ? e.message : String(e) };
    process.stdout.write(JSON.stringify({ error: body }, null, 2) + '\n');
    return code;
  }
  const msg = e instanceof Error ? e.message : String(e);
  const tag = isXdbmError(e) ? ` [${e.code}]` : '';
  const lines = [`xdbm: error: ${msg.split('\n')[0]}${tag}`];
  if (isXdbmError(e) && Array.isArray(e.details?.issues)) {
    const src = typeof e.details?.sourceName === 'string' ? e.details.sourceName : undefined;
    for (const l of formatIssues(e.details.issues as { message: string }[], src)) lines.push(`  ${l}`);
  } else if (msg.includes('\n')) {
    for (const l of msg.split('\n').slice(1)) lines.push(l);
  }
  const hint = isXdbmError(e) ? hints[e.code] ?? HINTS[e.code] : undefined;
  if (hint) lines.push(`  fix: ${hint}`);
  process.stderr.write(lines.join('\n') + '\n');
  return code;
}

export function addClientOptions(cmd: Command): Command {
  return cmd
    .option('--socket <path>', 'admin socket of the daemon (default: $XDBM_SOCKET, then admin.socket_path of --config or config/default.yaml)')
    .option('--config <file>', 'config file whose admin.socket_path names the socket')
    .option('--json', 'print the result as JSON')
    .option('--timeout-ms <ms>', 'give up waiting for the daemon after this long', '60000');
}

export async function resolveSocket(opts: ClientOpts): Promise<string> {
  if (opts.socket) return path.resolve(opts.socket);
  const env = process.env['XDBM_SOCKET'];
  if (env) return path.resolve(env);
  const { defaultConfigPath } = await import('../../daemon/config-source.js');
  const file = opts.config ?? defaultConfigPath();
  try {
    const { loadConfigFile } = await import('../../config/load.js');
    const cfg = await loadConfigFile(path.resolve(file));
    return cfg.admin.socketPath;
  } catch (e) {
    if (opts.config) throw e; // the user named a config: its errors matter
    const { defaultSocketPath } = await import('../../config/defaults.js');
    return defaultSocketPath();
  }
}

export async function clientFor(opts: ClientOpts): Promise<AdminClient> {
  const timeoutMs = opts.timeoutMs === undefined ? 60_000 : Number(opts.timeoutMs);
  if (!(timeoutMs > 0)) {
    throw badInput(`--timeout-ms must be a positive number of milliseconds, got '${opts.timeoutMs}'`);
  }
  return new AdminClient({ socketPath: await resolveSocket(opts), timeoutMs });
}

/**
 * Runs a client command: makes the client, calls `fn`, prints JSON or the human text, sets the exit
 * code. `fn` returns the result and its human rendering.
 */
export async function runClient<T>(opts: ClientOpts, fn: (c: AdminClient) => Promise<T>, human: (r: T) => string): Promise<T | undefined> {
  try {
    const client = await clientFor(opts);
    const result = await fn(client);
    process.stdout.write((opts.json ? JSON.stringify(result, null, 2) : human(result)) + '\n');
    process.exitCode = EXIT_OK;
    return result;
  } catch (e) {
    process.exitCode = reportError(e, opts.json);
    return undefined;
  }
}

export function badInput(message: string): XdbmError {
  return new XdbmError(ErrorCode.INVALID_ARGUMENT, message);
}

/** runClient for commander actions (which must return void or Promise<void>). */
export async function act<T>(opts: ClientOpts, fn: (c: AdminClient) => Promise<T>, human: (r: T) => string): Promise<void> {
  await runClient(opts, fn, human);
}
