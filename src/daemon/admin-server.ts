/**
 * The daemon side of the admin protocol (src/client/protocol.ts) on a Unix socket created mode 0600.
 * A socket file left by a dead daemon is removed only when nothing answers on it; any other file at
 * that path is left alone and reported.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ErrorCode, XdbmError, isXdbmError } from '../errors.js';
import { MAX_FRAME_BYTES, type AdminErrorBody, type AdminRequest } from '../client/protocol.js';

export type AdminDispatch = (method: string, params: Record<string, unknown>) => Promise<unknown>;

export interface AdminServerOptions {
  socketPath: string;
  dispatch: AdminDispatch;
  /** Called for each failed request (for the log). */
  onError?: (method: string, err: AdminErrorBody) => void;
}

export function toErrorBody(e: unknown): AdminErrorBody {
  if (isXdbmError(e)) {
    const body: AdminErrorBody = { code: e.code, message: e.message };
    if (e.details) body.details = e.details;
    return body;
  }
  const msg = e instanceof Error ? e.message : String(e);
  return { code: ErrorCode.INTERNAL, message: `internal error: ${msg}` };
}

/** Resolves true when something accepts a connection on socketPath. */
function answers(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection({ path: socketPath });
    const t = setTimeout(() => {
      s.destroy();
      resolve(true); // connected-but-silent or slow: treat as alive, never delete it
    }, timeoutMs);
    s.on('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve(true);
    });
    s.on('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}

async function clearStaleSocket(socketPath: string): Promise<void> {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(socketPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (!st.isSocket()) {
    throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `${socketPath} exists and is not a socket; refusing to replace it. Choose another path with --socket or admin.socket_path`, {
      details: { socketPath },
    });
  }
  if (await answers(socketPath)) {
    throw new XdbmError(ErrorCode.DAEMON_ALREADY_RUNNING, `another xdbm daemon answers on ${socketPath}; stop it first or use --socket PATH`, {
      details: { socketPath },
    });
  }
  fs.unlinkSync(socketPath);
}

/** Most simultaneous admin connections; more are closed at accept (the CLI opens one per command). */
export const ADMIN_MAX_CONNECTIONS = 32;
/**
 * Requests read from one connection but not yet answered. Past it the daemon stops reading that
 * connection (backpressure) until answers drain: a client that pipelines and never reads costs
 * bounded memory, not 5,000 queued requests.
 */
export const ADMIN_MAX_PENDING_PER_CONNECTION = 16;
/** Answers waiting in one connection's send buffer past which reading pauses too. */
export const ADMIN_MAX_UNSENT_BYTES = 1024 * 1024;
/** A connection with nothing in flight and no bytes for this long is closed. */
export const ADMIN_IDLE_TIMEOUT_MS = 60_000;

/** Longest Unix socket path (sun_path is 108 bytes, NUL included). */
export const MAX_SOCKET_PATH_BYTES = 107;

export class AdminServer {
  readonly socketPath: string;
  #server?: net.Server;
  #sockets = new Set<net.Socket>();
  #opts: AdminServerOptions;

  constructor(opts: AdminServerOptions) {
    this.#opts = opts;
    this.socketPath = path.resolve(opts.socketPath);
  }

  async listen(): Promise<void> {
    // sun_path holds 108 bytes with the NUL: a longer path would bind a truncated name (a stray file
    // elsewhere, and a socket the CLI never finds). Refuse it before creating anything.
    if (Buffer.byteLength(this.socketPath) > MAX_SOCKET_PATH_BYTES) {
      throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `socket path ${this.socketPath} is ${Buffer.byteLength(this.socketPath)} bytes, more than the ${MAX_SOCKET_PATH_BYTES} a Unix socket allows: choose a shorter --socket path`, {
        details: { socketPath: this.socketPath },
      });
    }
    const dir = path.dirname(this.socketPath);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    await clearStaleSocket(this.socketPath);
    const server = net.createServer((sock) => this.#onConnection(sock));
    server.maxConnections = ADMIN_MAX_CONNECTIONS;
    this.#server = server;
    // The umask makes the socket 0600 from its creation; the chmod makes sure of it afterwards.
    const oldMask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(oldMask);
    }
    fs.chmodSync(this.socketPath, 0o600);
  }

  /** Stops accepting, closes open connections and removes the socket file (only if it is ours). */
  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      if (fs.lstatSync(this.socketPath).isSocket()) fs.unlinkSync(this.socketPath);
    } catch {
      /* already gone */
    }
  }

  #onConnection(sock: net.Socket): void {
    this.#sockets.add(sock);
    sock.setEncoding('utf8');
    let buf = '';
    let chain = Promise.resolve();
    let pending = 0;
    // Takes complete lines off the buffer while fewer than the limit are unanswered; the rest wait
    // in the buffer (at most one read chunk past the limit) and reading pauses until answers drain.
    const takeLines = (): void => {
      let nl: number;
      while (pending < ADMIN_MAX_PENDING_PER_CONNECTION && (nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim() === '') continue;
        // Requests on one connection are answered in order.
        pending++;
        chain = chain.then(() => this.#handleLine(sock, line)).finally(() => {
          pending--;
          takeLines();
        });
      }
      const over = pending >= ADMIN_MAX_PENDING_PER_CONNECTION || sock.writableLength > ADMIN_MAX_UNSENT_BYTES;
      if (over && !sock.isPaused()) sock.pause();
      else if (!over && sock.isPaused() && !sock.destroyed) sock.resume();
    };
    sock.setTimeout(ADMIN_IDLE_TIMEOUT_MS, () => {
      if (pending === 0) sock.destroy();
    });
    sock.on('drain', takeLines);
    sock.on('close', () => this.#sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    sock.on('data', (chunk: string) => {
      buf += chunk;
      takeLines();
      // the unfinished last line is what may not exceed the frame limit (complete ones wait their turn)
      if (buf.length - (buf.lastIndexOf('\n') + 1) > MAX_FRAME_BYTES) {
        this.#send(sock, { id: null, error: { code: ErrorCode.PROTOCOL_ERROR, message: `request line longer than ${MAX_FRAME_BYTES} bytes` } });
        sock.end();
        buf = '';
      }
    });
  }

  async #handleLine(sock: net.Socket, line: string): Promise<void> {
    let req: AdminRequest;
    try {
      req = JSON.parse(line) as AdminRequest;
    } catch (e) {
      this.#send(sock, { id: null, error: { code: ErrorCode.PROTOCOL_ERROR, message: `request is not JSON: ${(e as Error).message}` } });
      return;
    }
    const id = typeof req?.id === 'number' || typeof req?.id === 'string' ? req.id : null;
    if (typeof req?.method !== 'string') {
      this.#send(sock, { id, error: { code: ErrorCode.PROTOCOL_ERROR, message: 'request needs a string "method"' } });
      return;
    }
    const params = req.params && typeof req.params === 'object' && !Array.isArray(req.params) ? req.params : {};
    try {
      const result = await this.#opts.dispatch(req.method, params);
      this.#send(sock, { id, result: result === undefined ? null : result });
    } catch (e) {
      const body = toErrorBody(e);
      this.#opts.onError?.(req.method, body);
      this.#send(sock, { id, error: body });
    }
  }

  #send(sock: net.Socket, msg: unknown): void {
    if (sock.destroyed) return;
    sock.write(JSON.stringify(msg) + '\n');
  }
}
