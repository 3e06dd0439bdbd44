/**
 * `xdbm probe <connection-string>`: runs one probe against one backend, here and now, without the
 * daemon: connection string -> EndpointConfig (CONFIG's parser, src/config/connection-string.ts) ->
 * createBackend -> init -> one probe through a ProbePool -> figures (or the ProbeResult as JSON).
 * Exit codes: 0 the probe passed, 1 it failed (or the backend would not open), 2 bad input.
 */
import type { Command } from 'commander';
import type { StorageBackend } from '../../backends/backend.js';
import { createBackend } from '../../backends/index.js';
import { parseConnectionString, SCHEME_TYPES } from '../../config/connection-string.js';
import { DEFAULTS } from '../../config/defaults.js';
import type { EndpointConfig } from '../../config/types.js';
import { ErrorCode, XdbmError, isXdbmError } from '../../errors.js';
import { ProbePool } from '../../probes/pool.js';
import type { ProbeResult } from '../../probes/types.js';
import { PROBE_KINDS, type ProbeKind } from '../../types.js';

export const PROBE_EXIT_OK = 0;
export const PROBE_EXIT_FAILED = 1;
export const PROBE_EXIT_BAD_INPUT = 2;

export interface ProbeCommandArgs {
  connectionString: string;
  type?: string;
  json?: boolean;
  probeAreaMb?: string | number;
  timeoutMs?: string | number;
  queueDepth?: string | number;
  durationMs?: string | number;
  /** NFS: where the export is mounted. */
  mountPoint?: string;
}

export interface ProbeCommandOutput {
  exitCode: number;
  stdout: string;
  stderr: string;
  result?: ProbeResult;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const ENDPOINT_ID = 'cli-probe';
/** Input errors: the user must change the command. */
const BAD_INPUT = new Set<string>([ErrorCode.BAD_CONNECTION_STRING, ErrorCode.INVALID_ARGUMENT, ErrorCode.CONFIG_INVALID]);

function positive(name: string, v: string | number | undefined, dflt: number, integer = true): number {
  if (v === undefined) return dflt;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `${name} must be a positive ${integer ? 'integer' : 'number'}, got '${String(v)}'`);
  }
  return n;
}

/** EndpointConfig for a connection string given on the command line. */
export function endpointFromArgs(args: ProbeCommandArgs): EndpointConfig {
  const parsed = parseConnectionString(args.connectionString, args.mountPoint ? { mountPoint: args.mountPoint } : {});
  if (!parsed.ok) throw new XdbmError(ErrorCode.BAD_CONNECTION_STRING, parsed.message);
  const scheme = args.connectionString.slice(0, args.connectionString.indexOf(':')).toLowerCase();
  const type = SCHEME_TYPES[scheme]!;
  const probeAreaMb = positive('--probe-area-mb', args.probeAreaMb, DEFAULTS.endpoint.probeAreaMb, false);
  const cfg: EndpointConfig = {
    endpointId: ENDPOINT_ID,
    type,
    connectionString: parsed.canonical,
    target: parsed.target,
    weight: 1,
    labels: {},
    probeAreaBytes: Math.round(probeAreaMb * 1024 * 1024),
  };
  if (type === 'nvmeof') cfg.nvme = { ...DEFAULTS.nvme };
  return cfg;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** Human rendering of a result and the backend's health facts. */
export function formatProbe(cfg: EndpointConfig, r: ProbeResult, health: Record<string, unknown>): string {
  const lines = [
    `${r.kind} probe of ${cfg.connectionString} (${cfg.type}): ${r.ok ? 'OK' : 'FAILED'} in ${fmt(r.durationMs, 1)} ms`,
    `  latency    avg ${fmt(r.avgLatencyUs)} us   p50 ${fmt(r.p50LatencyUs)} us   p99 ${fmt(r.p99LatencyUs)} us`,
    `  bandwidth  ${fmt(r.bandwidthMBps, 1)} MB/s   IOPS ${fmt(r.iops)}`,
    `  ops        ${r.ops}   errors ${r.errors} (${fmt(r.errorRate * 100, 1)} %)`,
  ];
  if (r.error) lines.push(`  error      ${r.error.code}: ${r.error.message}`);
  const facts: string[] = [];
  if (health.controllerState !== undefined) facts.push(`controller ${String(health.controllerState)}`);
  if (health.ctrlName !== undefined) facts.push(`(${String(health.ctrlName)})`);
  if (health.anaState !== undefined) facts.push(`ANA ${String(health.anaState ?? 'n/a')}`);
  const smart = health.smart as Record<string, unknown> | null | undefined;
  if (smart && typeof smart === 'object') {
    const parts = Object.entries(smart).filter(([, v]) => typeof v === 'number' || typeof v === 'string')
      .map(([k, v]) => `${k}=${String(v)}`);
    facts.push(`SMART ${parts.join(' ')}`);
  }
  if (facts.length) lines.push(`  health     ${facts.join('   ')}`);
  const stress = r.health?.stressEngine;
  if (typeof stress === 'string') lines.push(`  stress     ${stress}, queue depth ${String(r.health?.queueDepth)}`);
  return lines.join('\n') + '\n';
}

function errorOutput(e: unknown, json: boolean): ProbeCommandOutput {
  const code = isXdbmError(e) ? e.code : 'XDBM_INTERNAL';
  const message = e instanceof Error ? e.message : String(e);
  const exitCode = isXdbmError(e) && BAD_INPUT.has(e.code) ? PROBE_EXIT_BAD_INPUT : PROBE_EXIT_FAILED;
  return json
    ? { exitCode, stdout: JSON.stringify({ error: { code, message } }, null, 2) + '\n', stderr: '' }
    : { exitCode, stdout: '', stderr: `xdbm probe: ${message} [${code}]\n` };
}

/** The whole command, returning what to print and the exit code (used by tests and by register). */
export async function runProbeCommand(args: ProbeCommandArgs): Promise<ProbeCommandOutput> {
  const json = args.json === true;
  let cfg: EndpointConfig;
  let kind: ProbeKind;
  let timeoutMs: number;
  let queueDepth: number | undefined;
  let durationMs: number | undefined;
  try {
    const t = args.type ?? 'basic';
    if (!(PROBE_KINDS as readonly string[]).includes(t)) {
      throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `--type must be one of ${PROBE_KINDS.join(', ')}, got '${t}'`);
    }
    kind = t as ProbeKind;
    timeoutMs = positive('--timeout-ms', args.timeoutMs, DEFAULT_TIMEOUT_MS);
    queueDepth = args.queueDepth === undefined ? undefined : positive('--queue-depth', args.queueDepth, 1);
    durationMs = args.durationMs === undefined ? undefined : positive('--duration-ms', args.durationMs, 1);
    cfg = endpointFromArgs(args);
  } catch (e) {
    return errorOutput(e, json);
  }
  let backend: StorageBackend | undefined;
  let pool: ProbePool | undefined;
  try {
    backend = await createBackend(cfg);
    await backend.init();
    const health = await backend.healthInfo().catch(() => ({}));
    pool = new ProbePool({ maxThreads: 1, minThreads: 1 });
    const result = await pool.run(backend.probeTarget(), kind, {
      timeoutMs,
      ...(queueDepth !== undefined ? { queueDepth } : {}),
      ...(durationMs !== undefined ? { durationMs } : {}),
      ...(kind === 'full' ? { health } : {}),
    });
    return {
      exitCode: result.ok ? PROBE_EXIT_OK : PROBE_EXIT_FAILED,
      stdout: json ? JSON.stringify(result, null, 2) + '\n' : formatProbe(cfg, result, health),
      stderr: '',
      result,
    };
  } catch (e) {
    return errorOutput(e, json);
  } finally {
    await pool?.close();
    await backend?.close().catch(() => undefined);
  }
}

export function register(program: Command): void {
  program
    .command('probe')
    .description('run one health probe against a backend now (no daemon needed) and print latency, bandwidth, IOPS and errors')
    .argument('<connection-string>', 'file:///dir, nfs://host:/export (with --mount-point), block:///dev/X or nvme://host:port/nqn[/nsid]')
    .option('--type <kind>', `probe kind: ${PROBE_KINDS.join('|')}`, 'basic')
    .option('--json', 'print the ProbeResult as JSON')
    .option('--probe-area-mb <n>', 'block/NVMe: size of the probe area at the end of the device', String(DEFAULTS.endpoint.probeAreaMb))
    .option('--timeout-ms <n>', 'deadline of the probe', String(DEFAULT_TIMEOUT_MS))
    .option('--queue-depth <n>', 'stress probe: operations in flight')
    .option('--duration-ms <n>', 'stress probe: how long to keep the load')
    .option('--mount-point <dir>', 'nfs://: where the export is mounted')
    .addHelpText('after', '\nExit codes: 0 probe passed, 1 probe failed, 2 bad input.\nExample: xdbm probe block:///dev/loop0 --type performance --json')
    .action(async (connectionString: string, o: Omit<ProbeCommandArgs, 'connectionString'>) => {
      const out = await runProbeCommand({ connectionString, ...o });
      if (out.stdout) process.stdout.write(out.stdout);
      if (out.stderr) process.stderr.write(out.stderr);
      process.exitCode = out.exitCode;
    });
}
