/**
 * Real-process harness for the ops tests: temp configs of local backends in temp dirs, the daemon as
 * a child process (`node dist/src/cli/main.js daemon`) on a temp socket, and the CLI as child processes.
 * Needs the compiled package: `npm test` builds it first (pretest); a missing build is built here.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir } from '../../support/temp-dir.js';
import { until } from '../../support/until.js';

export { until };

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const MAIN = path.join(ROOT, 'dist/src/cli/main.js');

export function ensureBuilt(): void {
  if (!fs.existsSync(MAIN)) execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
}

export function tempDir(prefix = 'xdbm-ops-'): string {
  return makeTempDir(prefix);
}

// Cluster YAML builders live in test/support/cluster.ts (shared with the dashboard and other suites).
export { clusterYaml, nodeYaml, writeCluster, type ClusterYamlOpts as ClusterOpts } from '../../support/cluster.js';

export interface DaemonHandle {
  proc: ChildProcess;
  socket: string;
  url: string | undefined;
  stdout(): string;
  stderr(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startDaemon(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<DaemonHandle> {
  const proc = spawn(process.execPath, [MAIN, 'daemon', ...args], {
    cwd: ROOT,
    env: { ...process.env, XDBM_SOCKET: '', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  try {
    await until(() => {
      if (proc.exitCode !== null) throw new Error(`daemon exited ${proc.exitCode} before ready:\n${out}\n${err}`);
      return /\n {2}(metrics|http): /.test(out);
    }, 'the daemon to print its addresses', { timeoutMs: opts.timeoutMs ?? 20_000, intervalMs: 50 });
  } catch (e) {
    proc.kill('SIGKILL');
    throw new Error(`daemon not ready: ${(e as Error).message}\n${out}\n${err}`);
  }
  const socket = /socket: +(\S+)/.exec(out)![1]!;
  const url = /dashboard: +(\S+)/.exec(out)?.[1];
  return {
    proc,
    socket,
    url,
    stdout: () => out,
    stderr: () => err,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (proc.exitCode === null) proc.kill(signal);
      return exited;
    },
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { cwd: ROOT, env: { ...process.env, XDBM_SOCKET: '', ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

