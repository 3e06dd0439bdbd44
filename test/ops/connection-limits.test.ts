/**
 * The daemon's own limits are never blamed on backends: a flood of half-open HTTP requests against a
 * daemon with few descriptors leaves every backend's state unchanged; the admin socket caps
 * connections and applies backpressure to a client that pipelines without reading.
 */
import fs from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_MAX_CONNECTIONS } from '../../src/daemon/admin-server.js';
import { HTTP_MAX_CONNECTIONS } from '../../src/daemon/http-server.js';
import { cli, ensureBuilt, startDaemon, tempDir, until, writeCluster, type DaemonHandle } from './helpers/harness.js';

function openSockets(n: number, connect: () => net.Socket, payload: string): Promise<net.Socket[]> {
  return Promise.all(Array.from({ length: n }, () => new Promise<net.Socket>((resolve) => {
    const s = connect();
    s.on('error', () => undefined);
    s.on('connect', () => {
      s.write(payload);
      resolve(s);
    });
    s.on('close', () => resolve(s));
  })));
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

function getStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.setTimeout(3000, () => {
      req.destroy();
      resolve(0);
    });
  });
}

describe('a daemon short of descriptors under a flood of half-open HTTP requests', () => {
  let dir: string;
  let d: DaemonHandle;
  const states = async (): Promise<Record<string, string>> => {
    const r = await cli(['candidates', '--json', '--socket', d.socket]);
    return Object.fromEntries((JSON.parse(r.stdout) as { endpointId: string; state: string }[]).map((c) => [c.endpointId, c.state]));
  };

  beforeAll(async () => {
    ensureBuilt();
    dir = tempDir();
    const cfg = writeCluster(dir, { nodes: 4, healthIntervalMs: 300 });
    d = await startDaemon(['--config', cfg, '--socket', path.join(dir, 'f.sock'), '--http', '127.0.0.1:0', '--no-watch'], { maxOpenFiles: 160 });
  });

  afterAll(async () => {
    await d?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('400 half-open requests change no backend state and raise no backend alert', async () => {
    await until(async () => Object.values(await states()).every((s) => s === 'HEALTHY'), 'all backends HEALTHY');
    const before = await states();
    const port = Number(new URL(d.url!).port);
    const socks = await openSockets(400, () => {
      const s = net.createConnection({ host: '127.0.0.1', port });
      s.on('end', () => s.destroy());
      return s;
    }, 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    try {
      // the daemon closes the connections past its cap at accept
      await until(() => socks.filter((s) => !s.destroyed && s.readyState === 'open').length <= HTTP_MAX_CONNECTIONS, 'connections past the cap closed');
      // several probe rounds (300 ms apart) run while the flood holds its connections
      const checksAt = (await cli(['stats', '--json', '--socket', d.socket])).stdout;
      const checks0 = (JSON.parse(checksAt) as { stats: { totalChecks: number } }).stats.totalChecks;
      await until(async () => {
        const s = JSON.parse((await cli(['stats', '--json', '--socket', d.socket])).stdout) as { stats: { totalChecks: number } };
        return s.stats.totalChecks >= checks0 + 12;
      }, 'three more probe rounds during the flood', 30_000);
      expect(await states()).toEqual(before);
      expect(d.stderr()).not.toMatch(/"backend state changed"/);
      expect(d.stderr()).not.toMatch(/EMFILE.*backend state changed/);
    } finally {
      for (const s of socks) s.destroy();
    }
    // and HTTP serves again once the flood is gone
    await until(async () => (await getStatus(d.url + 'metrics')) === 200, '/metrics after the flood');
  });
});

describe('admin socket limits', () => {
  let dir: string;
  let d: DaemonHandle;

  beforeAll(async () => {
    ensureBuilt();
    dir = tempDir();
    const cfg = writeCluster(dir, { nodes: 3 });
    d = await startDaemon(['--config', cfg, '--socket', path.join(dir, 'g.sock'), '--no-http', '--no-watch']);
  });

  afterAll(async () => {
    await d?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`connections past ${ADMIN_MAX_CONNECTIONS} are closed at accept; the cap frees up when they go`, async () => {
    const socks = await openSockets(ADMIN_MAX_CONNECTIONS + 20, () => net.createConnection(d.socket), '');
    try {
      await until(() => socks.filter((s) => s.destroyed || s.readyState === 'closed').length >= 20, 'the extra connections closed');
      expect(socks.filter((s) => !s.destroyed && s.readyState === 'open').length).toBeLessThanOrEqual(ADMIN_MAX_CONNECTIONS);
    } finally {
      for (const s of socks) s.destroy();
    }
    await until(async () => (await cli(['active', '--socket', d.socket])).code === 0, 'the CLI answered after the flood');
  });

  it('5,000 pipelined requests from a client that never reads cost bounded memory; others are served', async () => {
    const rss0 = rssKb(d.proc.pid!);
    const flood = net.createConnection(d.socket);
    await new Promise<void>((resolve) => flood.on('connect', () => resolve()));
    flood.pause(); // never reads
    const line = JSON.stringify({ id: 1, method: 'stats', params: {} }) + '\n';
    let written = 0;
    for (let i = 0; i < 5000; i++) {
      if (!flood.write(line)) break; // the daemon stopped reading: backpressure reached this client
      written++;
    }
    try {
      expect(written).toBeLessThan(5000 + 1);
      const r = await cli(['stats', '--json', '--socket', d.socket]);
      expect(r.code).toBe(0);
      expect(rssKb(d.proc.pid!) - rss0).toBeLessThan(150 * 1024);
    } finally {
      flood.destroy();
    }
  });
});
