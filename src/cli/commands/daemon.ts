/** `xdbm daemon`: run the manager with its admin socket, HTTP (metrics, dashboard) and alerting. */
import path from 'node:path';
import type { Command } from 'commander';
import { runDaemonProcess } from '../../daemon/run.js';
import { ErrorCode } from '../../errors.js';
import { reportError } from './common.js';

interface DaemonCliOpts {
  config?: string;
  socket?: string;
  http?: string | boolean;
  tokenFile?: string;
  watch: boolean;
}

export function register(program: Command): void {
  program
    .command('daemon')
    .description('run the backend manager daemon: admin socket (mode 0600), HTTP /metrics and dashboard on loopback, alerts, hot reload')
    .option('--config <file>', 'config file (default: config/default.yaml of the package)')
    .option('--socket <path>', 'admin socket path (default: $XDBM_SOCKET, then admin.socket_path of the config)')
    .option('--http <host:port>', 'HTTP listener for /metrics, the dashboard and /api (default: admin.http of the config, else 127.0.0.1:9464)')
    .option('--no-http', 'no HTTP listener')
    .option('--token-file <file>', 'bearer token for /api (default: admin.token_file); required for a non-loopback --http host')
    .option('--no-watch', 'do not reload when the config file changes (SIGHUP and `xdbm reload` still work)')
    .addHelpText('after', '\nLogs are JSON lines on stderr (level from XDBM_LOG_LEVEL). SIGHUP reloads the config; SIGTERM/SIGINT stop cleanly.')
    .action(async (opts: DaemonCliOpts) => {
      try {
        const code = await runDaemonProcess({
          configPath: opts.config === undefined ? undefined : path.resolve(opts.config),
          socketPath: opts.socket,
          http: opts.http === false ? false : typeof opts.http === 'string' ? opts.http : undefined,
          tokenFile: opts.tokenFile === undefined ? undefined : path.resolve(opts.tokenFile),
          watchDebounceMs: opts.watch ? 300 : 0,
        });
        process.exitCode = code;
      } catch (e) {
        process.exitCode = reportError(e, false, {
          [ErrorCode.CONFIG_INVALID]: 'fix the lines above (check with `xdbm validate FILE`) and start the daemon again',
          [ErrorCode.DAEMON_ALREADY_RUNNING]: 'stop the running daemon (SIGTERM) or give another --socket PATH',
        });
      }
    });
}
