/**
 * Thin admin client: one method per admin method, one short connection per call
 * (multipath-tools libmpathcmd style). Errors come back as XdbmError with the daemon's code.
 */
import net from 'node:net';
import { ErrorCode, XdbmError } from '../errors.js';
import {
  MAX_FRAME_BYTES,
  type AdminMethod,
  type AdminMethods,
  type AdminResponse,
} from './protocol.js';

export interface AdminClientOptions {
  socketPath: string;
  /** Deadline of one call; failover can take up to the failover timeout (default 60 s). */
  timeoutMs?: number;
}

export function unreachableHint(socketPath: string): string {
  return `is the daemon running? start it with \`xdbm daemon --config FILE\` or \`npm start\`; socket: ${socketPath}`;
}

export class AdminClient {
  readonly socketPath: string;
  readonly timeoutMs: number;
  #nextId = 1;

  constructor(opts: AdminClientOptions) {
    this.socketPath = opts.socketPath;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
  }

  /** Sends one request and waits for its response. */
  call<M extends AdminMethod>(method: M, params: AdminMethods[M]['params']): Promise<AdminMethods[M]['result']> {
    const id = this.#nextId++;
    const socketPath = this.socketPath;
    return new Promise((resolve, reject) => {
      let settled = false;
      let buf = '';
      const sock = net.createConnection({ path: socketPath });
      const done = (err: Error | null, value?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.destroy();
        if (err) reject(err);
        else resolve(value as AdminMethods[M]['result']);
      };
      const timer = setTimeout(() => {
        done(new XdbmError(ErrorCode.IO_TIMEOUT, `no answer from the daemon within ${this.timeoutMs} ms (method ${method}); socket: ${socketPath}`));
      }, this.timeoutMs);
      sock.setEncoding('utf8');
      sock.on('connect', () => {
        sock.write(JSON.stringify({ id, method, params }) + '\n');
      });
      sock.on('data', (chunk: string) => {
        buf += chunk;
        if (buf.length > MAX_FRAME_BYTES) {
          done(new XdbmError(ErrorCode.PROTOCOL_ERROR, `daemon response longer than ${MAX_FRAME_BYTES} bytes`));
          return;
        }
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        let msg: AdminResponse;
        try {
          msg = JSON.parse(buf.slice(0, nl)) as AdminResponse;
        } catch (e) {
          done(new XdbmError(ErrorCode.PROTOCOL_ERROR, `daemon sent a line that is not JSON: ${(e as Error).message}`));
          return;
        }
        if ('error' in msg && msg.error) {
          const { code, message, details } = msg.error;
          const known = typeof code === 'string' && code.startsWith('XDBM_') ? (code as ErrorCode) : ErrorCode.INTERNAL;
          done(new XdbmError(known, message, details ? { details } : {}));
        } else {
          done(null, (msg as { result: unknown }).result);
        }
      });
      sock.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'ECONNREFUSED' || e.code === 'ENOENT' || e.code === 'ENOTSOCK' || e.code === 'ECONNRESET') {
          done(new XdbmError(ErrorCode.DAEMON_UNREACHABLE, `cannot reach the xdbm daemon (${e.code}): ${unreachableHint(socketPath)}`, {
            syscallCode: e.code,
            details: { socketPath },
            cause: e,
          }));
        } else if (e.code === 'EACCES') {
          done(new XdbmError(ErrorCode.UNAUTHORIZED, `permission denied on ${socketPath}: the admin socket is mode 0600, run as the daemon's user (or root)`, {
            syscallCode: e.code,
            cause: e,
          }));
        } else {
          done(new XdbmError(ErrorCode.DAEMON_UNREACHABLE, `admin socket error (${e.code ?? e.message}): ${unreachableHint(socketPath)}`, {
            syscallCode: e.code,
            cause: e,
          }));
        }
      });
      sock.on('close', () => {
        done(new XdbmError(ErrorCode.DAEMON_UNREACHABLE, `the daemon closed the connection before answering: ${unreachableHint(socketPath)}`));
      });
    });
  }

  candidates() { return this.call('candidates', {}); }
  active() { return this.call('active', {}); }
  failover(failedId: string, replacementId?: string) {
    return this.call('failover', replacementId === undefined ? { failedId } : { failedId, replacementId });
  }
  reload(file?: string) { return this.call('reload', file === undefined ? {} : { file }); }
  weight(id: string, weight: number) { return this.call('weight', { id, weight }); }
  reselect(reason?: string) { return this.call('reselect', reason === undefined ? {} : { reason }); }
  status(id: string) { return this.call('status', { id }); }
  stats() { return this.call('stats', {}); }
  alerts() { return this.call('alerts', {}); }
  nodesAdd(yamlText: string, sourceName?: string) { return this.call('nodesAdd', { yamlText, sourceName }); }
  nodesRemove(nodeId: string, opts: { drain?: boolean; force?: boolean } = {}) { return this.call('nodesRemove', { nodeId, ...opts }); }
  logs() { return this.call('logs', {}); }
  validate(yamlText: string, sourceName?: string) { return this.call('validate', { yamlText, sourceName }); }
  metrics() { return this.call('metrics', {}); }
}
