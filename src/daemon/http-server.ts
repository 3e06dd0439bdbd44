/**
 * Optional HTTP listener: GET /metrics (Prometheus text, never needs a token), GET / (the dashboard
 * page: static HTML, CSS and JS with no data in them) and read-only GET /api/* JSON.
 *
 * Security choices:
 * - Loopback (127.0.0.0/8, ::1, localhost) by default; any other host is refused unless a token file
 *   is configured.
 * - With a token file, every /api/* request needs `Authorization: Bearer <token>` (constant-time
 *   compare). The page itself carries no data, so it loads without the token and asks for it
 *   (or takes it from `#token=...` in the URL fragment, which browsers never send to the server).
 * - Without a token file the API is open to local processes only (loopback). To stop a web page on
 *   another origin from reading it through DNS rebinding, the Host header must then name loopback.
 * - No mutation over HTTP: failover, reload, weight... go through the Unix socket (mode 0600).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { ErrorCode, XdbmError } from '../errors.js';
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from '../dashboard/page.js';
import { toErrorBody } from './admin-server.js';

export interface HttpServerOptions {
  host: string;
  port: number;
  tokenFile?: string;
  metrics(): Promise<{ contentType: string; text: string }>;
  /** JSON for GET /api/state (the dashboard's one poll). */
  state(): unknown;
  /** Read-only admin methods reachable as GET /api/<method>. */
  dispatch(method: string, params: Record<string, unknown>): Promise<unknown>;
}

const API_METHODS = new Set(['candidates', 'active', 'stats', 'alerts', 'status']);

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (net.isIPv6(h)) return h === '::1' || h.toLowerCase().startsWith('::ffff:127.');
  return false;
}

/** `127.0.0.1:9464`, `[::1]:9464`, `localhost:9464` -> {host, port}; throws INVALID_ARGUMENT. */
export function parseHostPort(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `bad --http value '${text}': write HOST:PORT, e.g. 127.0.0.1:9464`);
  }
  return { host: (m[1] ?? m[2])!, port };
}

function readToken(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new XdbmError(ErrorCode.CONFIG_NOT_FOUND, `cannot read the HTTP token file ${file}: ${(e as Error).message}`, {
      cause: e,
      details: { tokenFile: file, hint: `write a long random token into the token file (one line, plain text), e.g. \`openssl rand -hex 32 > ${file}\`, or give another --token-file` },
    });
  }
  if (text.length < 16) {
    throw new XdbmError(ErrorCode.CONFIG_INVALID, `the HTTP token in ${file} is shorter than 16 characters; write a long random one, e.g. \`openssl rand -hex 32 > ${file}\``);
  }
  return text;
}

function tokenMatches(header: string | undefined, token: string): boolean {
  if (!header) return false;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) return false;
  const a = crypto.createHash('sha256').update(m[1]!).digest();
  const b = crypto.createHash('sha256').update(token).digest();
  return crypto.timingSafeEqual(a, b);
}

/** Most simultaneous HTTP connections (dashboard, scrapers); more are closed at accept. */
export const HTTP_MAX_CONNECTIONS = 64;
/** The whole request head must arrive within this. */
export const HTTP_HEADERS_TIMEOUT_MS = 10_000;
export const HTTP_REQUEST_TIMEOUT_MS = 30_000;
export const HTTP_KEEP_ALIVE_TIMEOUT_MS = 5_000;
export const HTTP_IDLE_TIMEOUT_MS = 30_000;
export const HTTP_TIMEOUT_CHECK_INTERVAL_MS = 1_000;
/** Request head size (Node's default is 16 KiB; the routes need far less). */
export const HTTP_MAX_HEADER_BYTES = 8 * 1024;

export class OpsHttpServer {
  #server?: http.Server;
  #token?: string;
  #opts: HttpServerOptions;
  #port = 0;

  constructor(opts: HttpServerOptions) {
    this.#opts = opts;
    if (opts.tokenFile) this.#token = readToken(opts.tokenFile);
    if (!isLoopbackHost(opts.host) && !this.#token) {
      throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `refusing to serve HTTP on non-loopback host ${opts.host} without a token file; set admin.token_file (or use 127.0.0.1)`);
    }
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    const h = net.isIPv6(this.#opts.host) ? `[${this.#opts.host}]` : this.#opts.host;
    return `http://${h}:${this.#port}/`;
  }

  /** host:port as configured (before listen) */
  get address(): string {
    return `${this.#opts.host}:${this.#opts.port}`;
  }

  get tokenRequired(): boolean {
    return this.#token !== undefined;
  }

  async listen(): Promise<void> {
    const server = http.createServer({
      headersTimeout: HTTP_HEADERS_TIMEOUT_MS,
      requestTimeout: HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeout: HTTP_KEEP_ALIVE_TIMEOUT_MS,
      // Node checks the two timeouts above only this often (default 30 s): a half-open request
      // would otherwise hold its descriptor three times longer than the limit says
      connectionsCheckingInterval: HTTP_TIMEOUT_CHECK_INTERVAL_MS,
      maxHeaderSize: HTTP_MAX_HEADER_BYTES,
    }, (req, res) => {
      this.#handle(req, res).catch((e) => this.#json(res, 500, { error: toErrorBody(e) }));
    });
    // Connections past the cap are closed at accept: a flood of idle clients costs at most this many
    // descriptors, never the ones the probes need (descriptor exhaustion looked like failing backends).
    server.maxConnections = HTTP_MAX_CONNECTIONS;
    // An open connection with no bytes either way for this long is closed.
    server.setTimeout(HTTP_IDLE_TIMEOUT_MS, (sock) => sock.destroy());
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#opts.port, this.#opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    this.#port = typeof addr === 'object' && addr ? addr.port : this.#opts.port;
  }

  async close(): Promise<void> {
    const s = this.#server;
    if (!s) return;
    this.#server = undefined;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      this.#json(res, 405, { error: { code: ErrorCode.INVALID_ARGUMENT, message: 'only GET: changes go through the admin socket (xdbm CLI)' } });
      return;
    }
    if (!this.#token && !isLoopbackHost((req.headers.host ?? '').replace(/:\d+$/, ''))) {
      this.#json(res, 403, { error: { code: ErrorCode.UNAUTHORIZED, message: 'Host header must name a loopback address when no token file is configured' } });
      return;
    }
    const p = url.pathname;
    if (p === '/metrics') {
      const m = await this.#opts.metrics();
      res.writeHead(200, { 'Content-Type': m.contentType, 'Cache-Control': 'no-store' });
      res.end(m.text);
      return;
    }
    if (p === '/' || p === '/index.html') return this.#static(res, 'text/html; charset=utf-8', DASHBOARD_HTML);
    if (p === '/dashboard.js') return this.#static(res, 'text/javascript; charset=utf-8', DASHBOARD_JS);
    if (p === '/dashboard.css') return this.#static(res, 'text/css; charset=utf-8', DASHBOARD_CSS);
    if (p === '/favicon.ico') {
      res.writeHead(204, { 'Cache-Control': 'max-age=86400' });
      res.end();
      return;
    }
    if (p.startsWith('/api/')) {
      if (this.#token && !tokenMatches(req.headers.authorization, this.#token)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="xdbm"');
        this.#json(res, 401, { error: { code: ErrorCode.UNAUTHORIZED, message: 'missing or wrong bearer token: send `Authorization: Bearer <token from admin.token_file>`' } });
        return;
      }
      const name = p.slice('/api/'.length);
      try {
        if (name === 'state') return this.#json(res, 200, this.#opts.state());
        if (API_METHODS.has(name)) {
          const params: Record<string, unknown> = Object.fromEntries(url.searchParams);
          return this.#json(res, 200, await this.#opts.dispatch(name, params));
        }
      } catch (e) {
        const body = toErrorBody(e);
        const status = body.code === ErrorCode.UNKNOWN_ENDPOINT || body.code === ErrorCode.UNKNOWN_NODE ? 404 : body.code === ErrorCode.INVALID_ARGUMENT ? 400 : 500;
        return this.#json(res, status, { error: body });
      }
    }
    this.#json(res, 404, { error: { code: ErrorCode.INVALID_ARGUMENT, message: `no route ${p}: try /, /metrics, /api/state, /api/{${[...API_METHODS].join(',')}}` } });
  }

  #static(res: http.ServerResponse, type: string, body: string): void {
    res.writeHead(200, {
      'Content-Type': type,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
      'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    });
    res.end(body);
  }

  #json(res: http.ServerResponse, status: number, body: unknown): void {
    if (res.headersSent) {
      res.end();
      return;
    }
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
    res.end(JSON.stringify(body));
  }
}
