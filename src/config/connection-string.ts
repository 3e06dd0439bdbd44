/**
 * Connection strings of endpoints:
 *   nvme://host[:port]/subsysnqn[/nsid]   NVMe/TCP (port default 4420, nsid default 1)
 *   nfs://host:/export                    NFS export, used through the endpoint's mount point
 *   file:///absolute/path  or  file:relative/path (resolved against the config directory)
 *   block:///dev/...                      raw block device
 * Nothing here is percent-decoded: paths are taken literally.
 */
import net from 'node:net';
import { ErrorCode, XdbmError } from '../errors.js';
import type { BackendType } from '../types.js';
import { DEFAULTS } from './defaults.js';
import { checkPath } from './paths.js';
import type { ConnectionTarget } from './types.js';

export const SCHEME_TYPES: Readonly<Record<string, BackendType>> = {
  nvme: 'nvmeof',
  nfs: 'nfs',
  file: 'local',
  block: 'block',
};

export const TYPE_EXAMPLES: Readonly<Record<BackendType, string>> = {
  nvmeof: 'nvme://host:4420/subsysnqn[/nsid]',
  nfs: 'nfs://host:/export',
  local: 'file:///absolute/path',
  block: 'block:///dev/sdX',
};

export interface ConnectionOptions {
  /** Declared endpoint type: the scheme must match it. */
  type?: BackendType;
  /** Directory that relative file: paths resolve against (default: working directory). */
  baseDir?: string;
  /** NFS mount point to put in the target (default /mnt/xdbm/nfs). */
  mountPoint?: string;
}

export type ConnectionParse =
  | { ok: true; target: ConnectionTarget; canonical: string }
  | { ok: false; message: string };

const MAX_NQN_BYTES = 223;
const MAX_NSID = 0xfffffffe;
const HOSTNAME = /^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*$/;

/** True for a host name, an IPv4 address or an IPv6 address (without brackets). */
export function isValidHost(host: string): boolean {
  return net.isIP(host) !== 0 || (host.length <= 253 && HOSTNAME.test(host));
}

/** Parses a connection string; never throws. */
export function parseConnectionString(raw: string, opts: ConnectionOptions = {}): ConnectionParse {
  if (raw.trim() !== raw) return fail('connection string has leading or trailing spaces: remove them');
  if (raw.includes('\0')) return fail('connection string contains a NUL byte');
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(raw);
  if (!m) return fail(`'${raw}' has no scheme: use one of ${Object.values(TYPE_EXAMPLES).join(', ')}`);
  const scheme = m[1]!.toLowerCase();
  const schemeType = SCHEME_TYPES[scheme];
  if (schemeType === undefined) {
    return fail(`unknown connection scheme '${scheme}:': use nvme://, nfs://, file: or block://`);
  }
  if (opts.type !== undefined && opts.type !== schemeType) {
    return fail(`connection scheme '${scheme}:' does not match type '${opts.type}': type ${opts.type} takes ${TYPE_EXAMPLES[opts.type]}` +
      ` (or set type: ${schemeType})`);
  }
  const rest = raw.slice(m[0].length);
  switch (scheme) {
    case 'nvme': return parseNvme(raw, rest);
    case 'nfs': return parseNfs(raw, rest, opts);
    case 'file': return parseFile(raw, rest, opts);
    default: return parseBlock(raw, rest);
  }
}

/** Like parseConnectionString, but throws XDBM_BAD_CONNECTION_STRING. */
export function connectionTarget(raw: string, opts: ConnectionOptions = {}): ConnectionTarget {
  const r = parseConnectionString(raw, opts);
  if (!r.ok) throw new XdbmError(ErrorCode.BAD_CONNECTION_STRING, r.message, { details: { connectionString: raw } });
  return r.target;
}

function fail(message: string): ConnectionParse {
  return { ok: false, message };
}

/** Splits `host[:port]` or `[v6][:port]`. */
function splitHostPort(authority: string): { host: string; port?: string } | { error: string } {
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) return { error: `unclosed '[' in host '${authority}'` };
    const host = authority.slice(1, close);
    const after = authority.slice(close + 1);
    if (net.isIPv6(host) === false) return { error: `'${host}' in brackets is not an IPv6 address` };
    if (after === '') return { host };
    if (!after.startsWith(':')) return { error: `unexpected '${after}' after ']'` };
    return { host, port: after.slice(1) };
  }
  const colon = authority.lastIndexOf(':');
  if (colon < 0) return { host: authority };
  if (authority.indexOf(':') !== colon) return { error: `IPv6 address '${authority}' must be written in brackets: [addr]:port` };
  return { host: authority.slice(0, colon), port: authority.slice(colon + 1) };
}

function parseNvme(raw: string, rest: string): ConnectionParse {
  const form = `write nvme://host:port/subsysnqn[/nsid]`;
  if (!rest.startsWith('//')) return fail(`'${raw}': ${form}`);
  const body = rest.slice(2);
  const slash = body.indexOf('/');
  if (slash < 0) return fail(`'${raw}' has no subsystem NQN: ${form}`);
  const hp = splitHostPort(body.slice(0, slash));
  if ('error' in hp) return fail(`'${raw}': ${hp.error}`);
  if (hp.host === '') return fail(`'${raw}' has no host: ${form}`);
  if (!isValidHost(hp.host)) return fail(`'${raw}': '${hp.host}' is not a valid host name or IP address`);
  let port: number = DEFAULTS.nvmePort;
  if (hp.port !== undefined) {
    if (!/^\d{1,5}$/.test(hp.port) || Number(hp.port) < 1 || Number(hp.port) > 65535) {
      return fail(`'${raw}': port '${hp.port}' must be an integer from 1 to 65535 (NVMe/TCP uses 4420)`);
    }
    port = Number(hp.port);
  }
  const segs = body.slice(slash + 1).split('/');
  const subsysnqn = segs[0]!;
  if (subsysnqn === '') return fail(`'${raw}' has an empty subsystem NQN: ${form}`);
  if (/\s/.test(subsysnqn)) return fail(`'${raw}': subsystem NQN must not contain spaces`);
  if (Buffer.byteLength(subsysnqn) > MAX_NQN_BYTES) return fail(`'${raw}': subsystem NQN is longer than ${MAX_NQN_BYTES} bytes`);
  if (segs.length > 2) return fail(`'${raw}': the subsystem NQN must not contain '/': ${form}`);
  let nsid: number = DEFAULTS.nvmeNsid;
  if (segs.length === 2) {
    const s = segs[1]!;
    if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > MAX_NSID) {
      return fail(`'${raw}': namespace id '${s}' must be a positive integer (1 to ${MAX_NSID}), or leave it out for 1`);
    }
    nsid = Number(s);
  }
  return { ok: true, target: { kind: 'nvme', host: hp.host, port, subsysnqn, nsid }, canonical: raw };
}

function parseNfs(raw: string, rest: string, opts: ConnectionOptions): ConnectionParse {
  const form = 'write nfs://host:/export';
  if (!rest.startsWith('//')) return fail(`'${raw}': ${form}`);
  const body = rest.slice(2);
  let host: string;
  let after: string;
  if (body.startsWith('[')) {
    const close = body.indexOf(']');
    if (close < 0) return fail(`'${raw}': unclosed '[' in host`);
    host = body.slice(1, close);
    if (!net.isIPv6(host)) return fail(`'${raw}': '${host}' in brackets is not an IPv6 address`);
    after = body.slice(close + 1);
  } else {
    const colon = body.indexOf(':');
    const slash = body.indexOf('/');
    if (colon < 0 || (slash >= 0 && slash < colon)) return fail(`'${raw}' has no ':' between host and export: ${form}`);
    host = body.slice(0, colon);
    after = body.slice(colon);
  }
  if (host === '') return fail(`'${raw}' has no host: ${form}`);
  if (!isValidHost(host)) return fail(`'${raw}': '${host}' is not a valid host name or IP address`);
  if (!after.startsWith(':')) return fail(`'${raw}' has no ':' between host and export: ${form}`);
  const exportRaw = after.slice(1);
  if (/^\d+\//.test(exportRaw)) return fail(`'${raw}': a port is not supported here: ${form}`);
  if (!exportRaw.startsWith('/')) return fail(`'${raw}': export '${exportRaw}' must be an absolute path: ${form}`);
  const exp = checkPath(exportRaw);
  if (!exp.ok) return fail(`'${raw}': export ${exp.message}`);
  const mountPoint = opts.mountPoint ?? `${DEFAULTS.endpoint.mountRoot}/nfs`;
  return { ok: true, target: { kind: 'nfs', host, exportPath: exp.path, mountPoint }, canonical: raw };
}

function parseFile(raw: string, rest: string, opts: ConnectionOptions): ConnectionParse {
  let p: string;
  if (rest.startsWith('//')) {
    const body = rest.slice(2);
    const slash = body.indexOf('/');
    const host = slash < 0 ? body : body.slice(0, slash);
    if (host !== '' && host !== 'localhost') {
      return fail(`'${raw}': a file URL names no host: write file:///absolute/path (three slashes) or file:relative/path`);
    }
    p = slash < 0 ? '' : body.slice(slash);
    if (p === '') return fail(`'${raw}' has no path: write file:///absolute/path`);
  } else {
    p = rest;
    if (p === '') return fail(`'${raw}' has no path: write file:///absolute/path or file:relative/path`);
  }
  const r = checkPath(p, { allowRelative: true, baseDir: opts.baseDir });
  if (!r.ok) return fail(`'${raw}': ${r.message}`);
  const sys = systemDirectory(r.path);
  if (sys !== undefined) {
    return fail(`'${raw}' resolves to ${r.path}, ${sys}: a backend root there would put log and probe files among the system's own; use a directory of its own`);
  }
  return { ok: true, target: { kind: 'file', path: r.path }, canonical: `file://${r.path}` };
}

/** Trees that belong to the operating system: no backend root may be one of them or lie inside one. */
const SYSTEM_TREES = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/proc', '/sbin', '/sys', '/usr'];
/** Directories that hold other people's files: refused themselves, their subdirectories are fine (/tmp, /mnt and /srv stay allowed: disks are mounted there). */
const SYSTEM_DIRS = ['/', '/home', '/root', '/run', '/var', '/var/lib'];

/** Why `p` (absolute, normalised) is a system directory, or undefined when it is not one. */
export function systemDirectory(p: string): string | undefined {
  for (const t of SYSTEM_TREES) if (p === t || p.startsWith(`${t}/`)) return `inside the system tree ${t}`;
  if (SYSTEM_DIRS.includes(p)) return 'a shared system directory';
  return undefined;
}

function parseBlock(raw: string, rest: string): ConnectionParse {
  const form = 'write block:///dev/NAME';
  if (!rest.startsWith('///')) return fail(`'${raw}': ${form} (three slashes, then a path under /dev/)`);
  const r = checkPath(rest.slice(2), { under: '/dev' });
  if (!r.ok) return fail(`'${raw}': ${r.message}: ${form}`);
  return { ok: true, target: { kind: 'block', devicePath: r.path }, canonical: `block://${r.path}` };
}
