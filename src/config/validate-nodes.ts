/**
 * Validation of candidate nodes and their endpoints (seed 6.1 `candidate_nodes`), including ids that
 * must be unique across the whole pool and connection strings that must match the endpoint type.
 */
import fs from 'node:fs';
import { ErrorCode } from '../errors.js';
import { BACKEND_TYPES, type BackendType } from '../types.js';
import { parseConnectionString, TYPE_EXAMPLES, isValidHost } from './connection-string.js';
import { DEFAULTS } from './defaults.js';
import { joinPath } from './issues.js';
import { checkPath } from './paths.js';
import { Reader, typeName, type Obj } from './reader.js';
import type { EndpointConfig, NodeConfig, NvmeFabricsOptions } from './types.js';

export const NODE_KEYS = ['node_id', 'address', 'labels', 'endpoints'] as const;
export const ENDPOINT_KEYS = [
  'endpoint_id', 'type', 'connection_string', 'weight', 'labels', 'mount_point', 'probe_area_mb', 'nvme', 'io_timeout_ms', 'expect_mount',
] as const;
export const NVME_KEYS = ['ctrl_loss_tmo_s', 'reconnect_delay_s', 'fast_io_fail_tmo_s', 'hostnqn'] as const;

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ID_RULE = 'ids are 1-64 characters: letters, digits, \'.\', \'_\', \'-\', starting with a letter or digit';
const MIB = 1024 * 1024;

export interface NodeContext {
  /** Directory that relative paths resolve against. */
  baseDir?: string;
  /** Ids and targets seen so far across the pool: id -> path where first seen. */
  nodeIds: Map<string, string>;
  endpointIds: Map<string, string>;
  targets: Map<string, string>;
  /** Config path -> the connection string written there, to name both endpoints of a clash. */
  targetStrings: Map<string, string>;
  /** `machine NUL root` of the file roots seen so far -> config path, for the nesting check. */
  fileRoots: Map<string, string>;
  /** Where each accepted endpoint came from, for cross-section issues. */
  endpointPaths: Map<EndpointConfig, string>;
}

export function newNodeContext(baseDir?: string): NodeContext {
  return { baseDir, nodeIds: new Map(), endpointIds: new Map(), targets: new Map(), targetStrings: new Map(), fileRoots: new Map(), endpointPaths: new Map() };
}

/** Validates the `candidate_nodes` list. */
export function readNodes(r: Reader, parent: string, m: Obj, ctx: NodeContext): NodeConfig[] {
  if (!r.require(m, parent, 'candidate_nodes', 'list the storage nodes, each with node_id, address and endpoints')) return [];
  const path = joinPath(parent, 'candidate_nodes');
  const list = r.list(path, m['candidate_nodes'], "'candidate_nodes'");
  if (!list) return [];
  const out: NodeConfig[] = [];
  list.forEach((item, i) => {
    const n = readNode(r, joinPath(path, i), item, ctx);
    if (n) out.push(n);
  });
  return out;
}

/** Validates one candidate-node mapping at `path`. */
export function readNode(r: Reader, path: string, value: unknown, ctx: NodeContext): NodeConfig | undefined {
  const m = r.map(path, value, NODE_KEYS, 'a candidate node');
  if (!m) return undefined;
  if (value === null) {
    r.issues.add(path, 'empty candidate node: give node_id, address and endpoints');
    return undefined;
  }
  const nodeId = readId(r, m, path, 'node_id', ctx.nodeIds, 'node');
  let address = '';
  if (r.require(m, path, 'address', 'the host name or IP address of the node')) {
    const a = m['address'];
    if (typeof a !== 'string' || !isValidHost(a.startsWith('[') && a.endsWith(']') ? a.slice(1, -1) : a)) {
      r.issues.add(joinPath(path, 'address'), `'address' must be a host name or IP address, got ${typeName(a)}`);
    } else {
      address = a;
    }
  }
  const labels = r.labels(m, path, 'labels');
  const endpoints: EndpointConfig[] = [];
  if (r.require(m, path, 'endpoints', 'list the storage endpoints this node offers')) {
    const epPath = joinPath(path, 'endpoints');
    const list = r.list(epPath, m['endpoints'], "'endpoints'");
    if (list && list.length === 0) r.issues.add(epPath, 'a node needs at least one endpoint: add one or remove the node');
    list?.forEach((item, i) => {
      // the machine an endpoint's local paths live on: its node's address (the node id when none)
      const ep = readEndpoint(r, joinPath(epPath, i), item, address === '' ? nodeId : address.toLowerCase(), labels, ctx);
      if (ep) endpoints.push(ep);
    });
  }
  return { nodeId, address, labels, endpoints };
}

function readId(r: Reader, m: Obj, parent: string, key: string, seen: Map<string, string>, what: string): string {
  if (!r.require(m, parent, key, `a unique ${what} id such as '${what}-01'`)) return '';
  const path = joinPath(parent, key);
  const v = m[key];
  if (typeof v !== 'string' || !ID_PATTERN.test(v)) {
    r.issues.add(path, `'${key}' must be a string id, got ${typeName(v)}: ${ID_RULE}`);
    return '';
  }
  const first = seen.get(v);
  if (first !== undefined) {
    const scope = what === 'endpoint' ? ' (endpoint ids must be unique across all nodes)' : '';
    r.issues.add(path, `duplicate ${key} '${v}': already used at ${r.issues.describe(first)}${scope}; rename one of them`, { code: ErrorCode.DUPLICATE_ID });
  } else {
    seen.set(v, path);
  }
  return v;
}

function readEndpoint(r: Reader, path: string, value: unknown, machine: string, nodeLabels: Record<string, string>, ctx: NodeContext): EndpointConfig | undefined {
  const m = r.map(path, value, ENDPOINT_KEYS, 'an endpoint');
  if (!m) return undefined;
  const endpointId = readId(r, m, path, 'endpoint_id', ctx.endpointIds, 'endpoint');
  let type: BackendType | undefined;
  if (r.require(m, path, 'type', `one of ${BACKEND_TYPES.join(', ')}`)) {
    const before = r.issues.length;
    type = r.oneOf(m, path, 'type', BACKEND_TYPES, 'local');
    if (r.issues.length > before) type = undefined;
  }
  const weight = r.num(m, path, 'weight', DEFAULTS.endpoint.weight, { min: 0, max: 1, hint: 'endpoint weight scales its score: 1 keeps it, 0 never picks it' });
  const labels = { ...nodeLabels, ...r.labels(m, path, 'labels') };
  const probeAreaMb = r.int(m, path, 'probe_area_mb', DEFAULTS.endpoint.probeAreaMb, { min: 1, max: 1024 });
  const ioTimeoutMs = m['io_timeout_ms'] === undefined ? undefined : r.int(m, path, 'io_timeout_ms', 0, { min: 1 });
  const expectMount = m['expect_mount'] === undefined ? undefined : r.bool(m, path, 'expect_mount', false);
  if (expectMount !== undefined && type !== undefined && type !== 'local') {
    r.issues.add(joinPath(path, 'expect_mount'), `'expect_mount' applies to local endpoints only (nfs always checks its mount); remove it (type is ${type})`);
  }

  // mount point (nfs only)
  let mountPoint = `${DEFAULTS.endpoint.mountRoot}/${endpointId || 'endpoint'}`;
  if (m['mount_point'] !== undefined) {
    const mpPath = joinPath(path, 'mount_point');
    const mp = m['mount_point'];
    if (type !== undefined && type !== 'nfs') {
      r.issues.add(mpPath, `'mount_point' applies to nfs endpoints only; remove it (type is ${type})`);
    } else if (typeof mp !== 'string') {
      r.issues.add(mpPath, `'mount_point' must be an absolute path, got ${typeName(mp)}`);
    } else {
      const c = checkPath(mp);
      if (c.ok) mountPoint = c.path;
      else r.issues.add(mpPath, `'mount_point': ${c.message}`);
    }
  }

  // NVMe fabrics options (nvmeof only)
  let nvme: NvmeFabricsOptions | undefined;
  if (m['nvme'] !== undefined && type !== undefined && type !== 'nvmeof') {
    r.issues.add(joinPath(path, 'nvme'), `'nvme' options apply to nvmeof endpoints only; remove them (type is ${type})`);
  } else if (type === 'nvmeof' || m['nvme'] !== undefined) {
    nvme = readNvme(r, joinPath(path, 'nvme'), m['nvme']);
  }

  // connection string
  let connectionString = '';
  let target: EndpointConfig['target'] | undefined;
  const csHint = type ? `for type ${type}: ${TYPE_EXAMPLES[type]}` : 'e.g. nvme://host:4420/nqn, nfs://host:/export, file:///path, block:///dev/sdb';
  if (r.require(m, path, 'connection_string', csHint)) {
    const csPath = joinPath(path, 'connection_string');
    const cs = m['connection_string'];
    if (typeof cs !== 'string') {
      r.issues.add(csPath, `'connection_string' must be a string ${csHint}, got ${typeName(cs)}`);
    } else {
      const p = parseConnectionString(cs, { type, baseDir: ctx.baseDir, mountPoint });
      if (!p.ok) {
        r.issues.add(csPath, p.message, { code: ErrorCode.BAD_CONNECTION_STRING });
      } else {
        connectionString = p.canonical;
        target = p.target;
        const key = targetKey(p.target, machine);
        const first = ctx.targets.get(key) ?? nestedFileTarget(ctx, p.target, machine);
        if (first !== undefined) {
          const other = ctx.targetStrings.get(first) ?? '';
          r.issues.add(csPath, `'${cs}' and '${other}' (${r.issues.describe(first)}) name the same storage (or one lies inside the other): two copies of the log would share one device; point one elsewhere`, { code: ErrorCode.DUPLICATE_ID });
        } else {
          ctx.targets.set(key, csPath);
          ctx.targetStrings.set(csPath, cs);
          if (p.target.kind === 'file') ctx.fileRoots.set(`${machine}\0${p.target.path}`, csPath);
        }
      }
    }
  }
  if (type === undefined || target === undefined) return undefined;
  const ep: EndpointConfig = { endpointId, type, connectionString, target, weight, labels, probeAreaBytes: probeAreaMb * MIB };
  if (nvme) ep.nvme = nvme;
  if (ioTimeoutMs !== undefined) ep.ioTimeoutMs = ioTimeoutMs;
  if (expectMount === true) ep.expectMount = true;
  ctx.endpointPaths.set(ep, path);
  return ep;
}

/**
 * Storage identity. Local paths and block devices belong to a machine: the node's address, so two
 * nodes listed with one address are one machine (seed 6.1 lists the same /data path on every node of
 * distinct machines, which is fine). A block
 * device is known by its real path (a /dev/disk/by-id link and /dev/sdb are one disk).
 */
function targetKey(t: EndpointConfig['target'], machine: string): string {
  switch (t.kind) {
    case 'file': return `file:${machine}:${t.path}`;
    case 'block': return `block:${machine}:${realDevice(t.devicePath)}`;
    case 'nfs': return `nfs:${t.host.toLowerCase()}:${t.exportPath}`;
    // a full NQN (nqn.yyyy-mm.reverse-domain:...) is unique world-wide, so two portals to it are one
    // device; a short subsystem name (the seed's 'namespace1') is only unique on its target host
    case 'nvme': return t.subsysnqn.startsWith('nqn.') ? `nvme:${t.subsysnqn}:${t.nsid}` : `nvme:${t.host.toLowerCase()}:${t.port}:${t.subsysnqn}:${t.nsid}`;
  }
}

/** The device a block path names, following links when it exists (validation works on missing devices too). */
function realDevice(devicePath: string): string {
  try {
    return fs.realpathSync(devicePath);
  } catch {
    return devicePath;
  }
}

/** The config path of a file endpoint whose root contains, or lies inside, `t`'s root. */
function nestedFileTarget(ctx: NodeContext, t: EndpointConfig['target'], machine: string): string | undefined {
  if (t.kind !== 'file') return undefined;
  for (const [key, at] of ctx.fileRoots) {
    const [m, root] = key.split('\0') as [string, string];
    if (m === machine && (t.path.startsWith(`${root}/`) || root.startsWith(`${t.path}/`))) return at;
  }
  return undefined;
}

function readNvme(r: Reader, path: string, value: unknown): NvmeFabricsOptions {
  const d = DEFAULTS.nvme;
  const m = r.map(path, value, NVME_KEYS, "'nvme'") ?? {};
  const parent = path;
  const ctrlLossTmoS = r.int(m, parent, 'ctrl_loss_tmo_s', d.ctrlLossTmoS, { min: 1, hint: 'seconds the kernel keeps reconnecting before failing I/O for good' });
  const reconnectDelayS = r.int(m, parent, 'reconnect_delay_s', d.reconnectDelayS, { min: 1 });
  const fastIoFailTmoS = r.int(m, parent, 'fast_io_fail_tmo_s', d.fastIoFailTmoS, { min: 0 });
  if (reconnectDelayS > ctrlLossTmoS) {
    r.issues.add(joinPath(parent, m['reconnect_delay_s'] !== undefined ? 'reconnect_delay_s' : 'ctrl_loss_tmo_s'),
      `reconnect_delay_s ${reconnectDelayS} exceeds ctrl_loss_tmo_s ${ctrlLossTmoS}: no reconnect would be tried; lower it`);
  }
  if (fastIoFailTmoS > ctrlLossTmoS) {
    r.issues.add(joinPath(parent, m['fast_io_fail_tmo_s'] !== undefined ? 'fast_io_fail_tmo_s' : 'ctrl_loss_tmo_s'),
      `fast_io_fail_tmo_s ${fastIoFailTmoS} exceeds ctrl_loss_tmo_s ${ctrlLossTmoS}: it would never fire; lower it`);
  }
  const out: NvmeFabricsOptions = { ctrlLossTmoS, reconnectDelayS, fastIoFailTmoS };
  if (m['hostnqn'] !== undefined) {
    const h = m['hostnqn'];
    if (typeof h !== 'string' || !/^nqn\.\S+$/.test(h) || Buffer.byteLength(h) > 223) {
      r.issues.add(joinPath(parent, 'hostnqn'), `'hostnqn' must be an NQN such as nqn.2014-08.org.nvmexpress:uuid:<uuid> (at most 223 bytes), got ${typeName(h)}`);
    } else {
      out.hostnqn = h;
    }
  }
  return out;
}
