/**
 * The admin protocol on a real Unix socket: framing, ordering, error codes, and the client's mapping
 * of connection failures. The dispatch here is a small table; the daemon's is exercised end to end in
 * daemon-cli.test.ts.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/client/client.js';
import { AdminServer } from '../../src/daemon/admin-server.js';
import { ErrorCode, XdbmError, isXdbmError } from '../../src/errors.js';
import { tempDir } from './helpers/harness.js';
import { sleep } from '../support/until.js';

function rawExchange(socketPath: string, payload: string, lines: number): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(socketPath);
    let buf = '';
    s.setEncoding('utf8');
    s.on('connect', () => s.write(payload));
    s.on('data', (d: string) => {
      buf += d;
      const parts = buf.split('\n').filter(Boolean);
      if (parts.length >= lines) {
        s.destroy();
        resolve(parts.map((p) => JSON.parse(p)));
      }
    });
    s.on('error', reject);
  });
}

describe('admin protocol over a Unix socket', () => {
  let dir: string;
  let server: AdminServer;
  let socketPath: string;

  beforeAll(async () => {
    dir = tempDir('xdbm-proto-');
    socketPath = path.join(dir, 'sub', 'p.sock');
    server = new AdminServer({
      socketPath,
      dispatch: async (method, params) => {
        if (method === 'echo') return params;
        if (method === 'slow') {
          await sleep(50); // on purpose: a method that takes a while
          return 'slow';
        }
        if (method === 'status') throw new XdbmError(ErrorCode.UNKNOWN_ENDPOINT, `no backend '${String(params.id)}'`, { details: { id: params.id } });
        if (method === 'boom') throw new Error('kaput');
        throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `unknown admin method '${method}'`);
      },
    });
    await server.listen();
  });

  afterAll(async () => {
    await server.close();
    expect(fs.existsSync(socketPath)).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates the socket mode 0600 (its directory too when missing)', () => {
    expect(fs.statSync(socketPath).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(socketPath)).mode & 0o777).toBe(0o700);
  });

  it('answers {id, result} and carries error code, message and details', async () => {
    const c = new AdminClient({ socketPath });
    expect(await c.call('validate', { yamlText: 'x' } as never).catch((e: unknown) => e)).toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    const err = await c.status('ghost').catch((e: unknown) => e);
    expect(isXdbmError(err, ErrorCode.UNKNOWN_ENDPOINT)).toBe(true);
    expect((err as XdbmError).details).toEqual({ id: 'ghost' });
    const boom = await (c.call as (m: string, p: object) => Promise<unknown>)('boom', {}).catch((e: unknown) => e);
    expect(boom).toMatchObject({ code: ErrorCode.INTERNAL, message: 'internal error: kaput' });
  });

  it('answers pipelined requests on one connection in order, and bad frames with PROTOCOL_ERROR', async () => {
    const replies = (await rawExchange(
      socketPath,
      '{"id":1,"method":"slow"}\n{"id":2,"method":"echo","params":{"a":1}}\nnot json\n{"id":4}\n',
      4,
    )) as { id: unknown; result?: unknown; error?: { code: string } }[];
    expect(replies[0]).toEqual({ id: 1, result: 'slow' });
    expect(replies[1]).toEqual({ id: 2, result: { a: 1 } });
    expect(replies[2]).toMatchObject({ id: null, error: { code: ErrorCode.PROTOCOL_ERROR } });
    expect(replies[3]).toMatchObject({ id: 4, error: { code: ErrorCode.PROTOCOL_ERROR } });
  });

  it('the client maps a missing socket and a refused connection to DAEMON_UNREACHABLE with a hint', async () => {
    const missing = path.join(dir, 'none.sock');
    const e1 = await new AdminClient({ socketPath: missing }).active().catch((e: unknown) => e);
    expect(isXdbmError(e1, ErrorCode.DAEMON_UNREACHABLE)).toBe(true);
    expect((e1 as Error).message).toContain('is the daemon running? start it with `xdbm daemon --config FILE` or `npm start`; socket: ' + missing);

    const file = path.join(dir, 'plain-file');
    fs.writeFileSync(file, '');
    const e2 = await new AdminClient({ socketPath: file }).active().catch((e: unknown) => e);
    expect(isXdbmError(e2, ErrorCode.DAEMON_UNREACHABLE)).toBe(true);
  });

  it('the client times out with IO_TIMEOUT on a daemon that never answers', async () => {
    const silent = net.createServer(() => undefined);
    const p = path.join(dir, 'silent.sock');
    await new Promise<void>((r) => silent.listen(p, r));
    try {
      const e = await new AdminClient({ socketPath: p, timeoutMs: 200 }).stats().catch((x: unknown) => x);
      expect(isXdbmError(e, ErrorCode.IO_TIMEOUT)).toBe(true);
    } finally {
      silent.close();
    }
  });

  it('refuses to take over a socket another server answers on', async () => {
    const other = new AdminServer({ socketPath, dispatch: async () => null });
    const e = await other.listen().catch((x: unknown) => x);
    expect(isXdbmError(e, ErrorCode.DAEMON_ALREADY_RUNNING)).toBe(true);
  });
});
