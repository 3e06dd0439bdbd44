/**
 * Starts a real etcd (Debian etcd-server, /usr/bin/etcd) on free loopback ports with a temp data dir,
 * for tests; stop() kills it and removes the dir. No shell: argv only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';

export const ETCD_BINARY = process.env.XDBM_ETCD_BINARY ?? '/usr/bin/etcd';
export const etcdAvailable = existsSync(ETCD_BINARY);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface EtcdServer {
  clientUrl: string;
  /** SIGSTOP / SIGCONT the server: requests really hang meanwhile. */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

export async function startEtcd(): Promise<EtcdServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'xdbm-etcd-'));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const child: ChildProcess = spawn(ETCD_BINARY, [
    '--name', 'xdbm-test',
    '--data-dir', join(dataDir, 'data'),
    '--listen-client-urls', clientUrl,
    '--advertise-client-urls', clientUrl,
    '--listen-peer-urls', peerUrl,
    '--initial-advertise-peer-urls', peerUrl,
    '--initial-cluster', `xdbm-test=${peerUrl}`,
    '--log-level', 'error',
  ], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch === 'arm64' ? 'arm64' : '' } });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  let exited = false;
  child.once('exit', () => { exited = true; });
  const stop = async (): Promise<void> => {
    if (!exited) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  const probe = new Etcd3({ hosts: clientUrl, dialTimeout: 500 });
  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (exited) throw new Error(`etcd exited early: ${stderr.slice(-2000)}`);
      try { await probe.get('xdbm-ready-probe').string(); break; } catch { /* not up yet */ }
      if (Date.now() > deadline) throw new Error(`etcd did not come up: ${stderr.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    probe.close();
    await stop();
    throw e;
  }
  probe.close();
  return {
    clientUrl,
    pause: () => { child.kill('SIGSTOP'); },
    resume: () => { child.kill('SIGCONT'); },
    stop: async () => { if (!exited) child.kill('SIGCONT'); await stop(); },
  };
}
