/**
 * `xdbm nvme ...`: NVMe-oF tools that work here and now, without the daemon (libnvme via koffi):
 *   xdbm nvme hostnqn                       this host's NQN
 *   xdbm nvme list                          controllers and namespaces (libnvme topology scan)
 *   xdbm nvme discover <host[:port]>        subsystems a discovery controller offers
 *   xdbm nvme connect <nvme://host:port/nqn[/nsid]> [--ctrl-loss-tmo-s N ...]
 *   xdbm nvme disconnect <nvmeX>
 *   xdbm nvme health <nvmeX> [nsid]         controller state, ANA state, SMART summary
 * Exit codes: 0 ok, 1 failure, 2 bad input.
 */
import type { Command } from 'commander';
import { parseConnectionString } from '../../config/connection-string.js';
import { DEFAULTS } from '../../config/defaults.js';
import { ErrorCode, XdbmError, isXdbmError } from '../../errors.js';
import { connect, disconnect, discover } from '../../nvme/fabrics.js';
import { readHealth } from '../../nvme/health.js';
import { findNamespaceDevice } from '../../nvme/sysfs.js';
import { hostNqn, scanControllers } from '../../nvme/topology.js';

export interface NvmeCommandOutput {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface NvmeCommandOpts {
  json?: boolean;
  ctrlLossTmoS?: string;
  reconnectDelayS?: string;
  fastIoFailTmoS?: string;
  hostnqn?: string;
}

const BAD_INPUT = new Set<string>([ErrorCode.INVALID_ARGUMENT, ErrorCode.BAD_CONNECTION_STRING]);

function intOpt(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `${name} must be an integer, got '${v}'`);
  return n;
}

function hostPort(arg: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(arg) ?? /^([^:]+)(?::(\d+))?$/.exec(arg);
  if (!m) throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `expected host[:port], got '${arg}'`);
  return { host: m[1]!, port: m[2] ? Number(m[2]) : DEFAULTS.nvmePort };
}

type Sub = 'hostnqn' | 'list' | 'discover' | 'connect' | 'disconnect' | 'health';

/** Runs one `xdbm nvme` subcommand and returns what to print (testable without a process). */
export async function runNvmeCommand(sub: Sub, args: string[], opts: NvmeCommandOpts = {}): Promise<NvmeCommandOutput> {
  try {
    const result = await dispatch(sub, args, opts);
    const text = opts.json ? JSON.stringify(result.data, null, 2) : result.human;
    return { exitCode: 0, stdout: `${text}\n`, stderr: '' };
  } catch (e) {
    const code = isXdbmError(e) ? e.code : ErrorCode.INTERNAL;
    const message = e instanceof Error ? e.message : String(e);
    const exitCode = BAD_INPUT.has(code) ? 2 : 1;
    if (opts.json) {
      const details = isXdbmError(e) ? e.details : undefined;
      return { exitCode, stdout: `${JSON.stringify({ error: { code, message, details } }, null, 2)}\n`, stderr: '' };
    }
    return { exitCode, stdout: '', stderr: `xdbm: error: ${message} [${code}]\n` };
  }
}

async function dispatch(sub: Sub, args: string[], opts: NvmeCommandOpts): Promise<{ data: unknown; human: string }> {
  switch (sub) {
    case 'hostnqn': {
      const nqn = hostNqn();
      return { data: { hostnqn: nqn }, human: nqn };
    }
    case 'list': {
      const ctrls = await scanControllers();
      const lines = ctrls.map((c) =>
        `${c.name}  ${c.state}  ${c.transport} ${c.traddr}:${c.trsvcid}  ${c.subsysnqn}` +
        c.namespaces.map((n) => `\n  nsid ${n.nsid}  ${n.blockDevice}`).join(''));
      return { data: ctrls, human: lines.length ? lines.join('\n') : 'no NVMe controllers' };
    }
    case 'discover': {
      const entries = await discover({ ...hostPort(args[0] ?? ''), ...(opts.hostnqn ? { hostnqn: opts.hostnqn } : {}) });
      return {
        data: entries,
        human: entries.map((e) => `${e.subtype.padEnd(18)} ${e.trtype} ${e.traddr}:${e.trsvcid}  ${e.subnqn}`).join('\n') || 'no entries',
      };
    }
    case 'connect': {
      const parsed = parseConnectionString(args[0] ?? '', { type: 'nvmeof' });
      if (!parsed.ok) throw new XdbmError(ErrorCode.BAD_CONNECTION_STRING, parsed.message);
      if (parsed.target.kind !== 'nvme') throw new XdbmError(ErrorCode.BAD_CONNECTION_STRING, 'expected nvme://host:port/nqn[/nsid]');
      const t = parsed.target;
      const r = await connect({
        host: t.host, port: t.port, subsysnqn: t.subsysnqn,
        ctrlLossTmoS: intOpt('--ctrl-loss-tmo-s', opts.ctrlLossTmoS, DEFAULTS.nvme.ctrlLossTmoS),
        reconnectDelayS: intOpt('--reconnect-delay-s', opts.reconnectDelayS, DEFAULTS.nvme.reconnectDelayS),
        fastIoFailTmoS: intOpt('--fast-io-fail-tmo-s', opts.fastIoFailTmoS, DEFAULTS.nvme.fastIoFailTmoS),
        ...(opts.hostnqn ? { hostnqn: opts.hostnqn } : {}),
      });
      const blockDevice = await findNamespaceDevice(r.ctrlName, t.nsid);
      return {
        data: { ...r, nsid: t.nsid, blockDevice },
        human: `${r.ctrlName} ${r.created ? 'connected' : 'already connected'}; nsid ${t.nsid} is ${blockDevice}`,
      };
    }
    case 'disconnect': {
      await disconnect(args[0] ?? '');
      return { data: { disconnected: args[0] }, human: `${args[0]} disconnected` };
    }
    case 'health': {
      const nsid = intOpt('nsid', args[1], 1);
      const h = await readHealth(args[0] ?? '', nsid);
      const smart = h.smart
        ? `critical warning ${h.smart.criticalWarning}, media errors ${h.smart.mediaErrors}, used ${h.smart.percentageUsed} %, ` +
          `spare ${h.smart.availableSpare} %, ${h.smart.temperatureK} K`
        : `none${h.smartError ? ` (${h.smartError.message})` : ''}`;
      return { data: h, human: `controller ${h.controllerState}; ANA ${h.anaState ?? 'n/a'}; SMART ${smart}` };
    }
  }
}

export function register(program: Command): void {
  const nvme = program.command('nvme').description('NVMe-oF tools through libnvme, without the daemon');
  const add = (name: Sub, describe: string, argsSpec: string[], extra?: (c: Command) => Command): void => {
    let c = nvme.command(name).description(describe).option('--json', 'print the result as JSON');
    for (const a of argsSpec) c = c.argument(a);
    if (extra) c = extra(c);
    c.action(async (...all: unknown[]) => {
      const positional = all.slice(0, argsSpec.length).filter((v): v is string => typeof v === 'string');
      const opts = all[argsSpec.length] as NvmeCommandOpts;
      const out = await runNvmeCommand(name, positional, opts);
      if (out.stdout) process.stdout.write(out.stdout);
      if (out.stderr) process.stderr.write(out.stderr);
      process.exitCode = out.exitCode;
    });
  };
  add('hostnqn', "print this host's NVMe host NQN", []);
  add('list', 'list NVMe controllers and their namespaces', []);
  add('discover', 'list the subsystems a discovery controller offers', ['<host[:port]>'], (c) => c.option('--hostnqn <nqn>', 'host NQN to use'));
  add('connect', 'connect (or reuse) a controller and print the namespace block device', ['<nvme://host:port/nqn[/nsid]>'], (c) => c
    .option('--ctrl-loss-tmo-s <s>', 'seconds of reconnecting before I/O fails for good (-1 forever)')
    .option('--reconnect-delay-s <s>', 'seconds between reconnect attempts')
    .option('--fast-io-fail-tmo-s <s>', 'seconds after a connection loss before queued I/O fails')
    .option('--hostnqn <nqn>', 'host NQN to connect as'));
  add('disconnect', 'delete a controller', ['<nvmeX>']);
  add('health', 'controller state, ANA state and SMART summary of a namespace', ['<nvmeX>', '[nsid]']);
}
