/**
 * Real-process harness for the ops tests: temp configs of local backends in temp dirs, the daemon as
 * a child process (`node dist/src/cli/main.js daemon`) on a temp socket, and the CLI as child processes.
 * Needs the compiled package: `npm test` builds it first (pretest); a missing build is built here.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const MAIN = path.join(ROOT, 'dist/src/cli/main.js');

export function ensureBuilt(): void {
  if (!fs.existsSync(MAIN)) execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
}

export function tempDir(prefix = 'xdbm-ops-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface ClusterOpts {
  nodes?: number;
  extraYaml?: string;
  healthIntervalMs?: number;
}

export function nodeYaml(dir: string, i: number, indent = '    '): string {
  const id = String(i).padStart(2, '0');
  return [
    `${indent}- node_id: node-${id}`,
    `${indent}  address: 127.0.0.${i}`,
    `${indent}  endpoints:`,
    `${indent}    - endpoint_id: local-${id}`,
    `${indent}      type: local`,
    `${indent}      connection_string: file://${dir}/be-${id}`,
    `${indent}      weight: 1.0`,
  ].join('\n');
}

/** The YAML of a cluster of local backends; also creates their root directories (a root is never created by xdbm). */
export function clusterYaml(dir: string, opts: ClusterOpts = {}): string {
  const n = opts.nodes ?? 5;
  for (let k = 1; k <= n; k++) fs.mkdirSync(path.join(dir, `be-${String(k).padStart(2, '0')}`), { recursive: true });
  const nodes = Array.from({ length: n }, (_, k) => nodeYaml(dir, k + 1)).join('\n');
  return [
    'dynamic_backend_manager:',
    '  target_active_backends: 3',
    `  health_check_interval_ms: ${opts.healthIntervalMs ?? 1000}`,
    // Generous probe limits: these tests run on busy 2-core machines, where a slow probe must not
    // look like a failing backend (failure detection has its own tests).
    '  monitoring:',
    '    probe_timeout_ms: 5000',
    '    max_acceptable_latency_us: 2000000',
    '    fail_slow: { enabled: false }',
    '  candidate_nodes:',
    nodes,
    opts.extraYaml ?? '',
  ].join('\n') + '\n';
}

export function writeCluster(dir: string, opts: ClusterOpts = {}, name = 'xdbm.yaml'): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, clusterYaml(dir, opts));
  return file;
}

export interface DaemonHandle {
  proc: ChildProcess;
  socket: string;
  url: string | undefined;
  stdout(): string;
  stderr(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startDaemon(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; maxOpenFiles?: number } = {}): Promise<DaemonHandle> {
  // with maxOpenFiles, the daemon runs under `ulimit -n` (sh gets the number and argv as arguments, no command string is built)
  const [cmd, argv] = opts.maxOpenFiles === undefined
    ? [process.execPath, [MAIN, 'daemon', ...args]]
    : ['/bin/sh', ['-c', 'ulimit -n "$0" && exec "$@"', String(opts.maxOpenFiles), process.execPath, MAIN, 'daemon', ...args]];
  const proc = spawn(cmd, argv, {
    cwd: ROOT,
    env: { ...process.env, XDBM_SOCKET: '', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  while (!/\n {2}(metrics|http): /.test(out)) {
    if (proc.exitCode !== null) throw new Error(`daemon exited ${proc.exitCode} before ready:\n${out}\n${err}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`daemon not ready in time:\n${out}\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
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

/** Polls `fn` until it returns a truthy value or the deadline passes (no speed assert: a generous limit). */
export async function until<T>(fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
