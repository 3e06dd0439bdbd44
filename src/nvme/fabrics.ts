/**
 * NVMe over Fabrics (TCP) discovery, connect and disconnect through libnvme.
 * Every call that writes /dev/nvme-fabrics or sysfs runs on the libuv pool (koffi `.async`).
 * Work on one target is serialized per thread (withNvmeLock), so two backends connecting to one
 * target in parallel share one controller, while a hung target holds up nobody else.
 */
import { lookup } from 'node:dns/promises';
import { writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { ErrorCode, XdbmError } from '../errors.js';
import { DISCOVERY_ENTRY_BYTES, DISCOVERY_HEADER_BYTES, discoveryRecordCount, parseDiscoveryLog, type DiscoveryEntry } from './discovery-log.js';
import {
  callAsync, copyFromC, freeC, loadLibnvme, withNvmeLock, withRoot,
  type CPointer, type FabricsConfigStruct, type LibNvme, type NvmeCtrl, type NvmeHost, type NvmeRoot,
} from './libnvme.js';
import { forgetSmart } from './health.js';
import { nvmeError } from './nvme-errors.js';
import { assertCtrlName, listControllers, readControllerState, type SysfsController } from './sysfs.js';
import { hostId, hostNqn } from './topology.js';

export const DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery';
export const DEFAULT_NVME_TCP_PORT = 4420;
const ENOENT = 2;
const ENVME_CONNECT_ALREADY = 1012;

export interface FabricsTarget {
  /** IP address (or name libnvme resolves) of the target. */
  host: string;
  port: number;
}

export interface ConnectOptions extends FabricsTarget {
  subsysnqn: string;
  /** Seconds the host keeps reconnecting before failing I/O for good; -1 forever (kernel default 600). */
  ctrlLossTmoS: number;
  /** Seconds between reconnect attempts (kernel default 10). */
  reconnectDelayS: number;
  /** Seconds after a connection loss before queued I/O fails fast; 0 or -1 = off (kernel default off). */
  fastIoFailTmoS: number;
  /** Keep-alive timeout in seconds; omitted = kernel default (5). */
  keepAliveTmoS?: number;
  /** Host NQN to connect as; default hostNqn(). */
  hostnqn?: string;
  /** Give up waiting after this long (default CONNECT_TIMEOUT_MS); see connect(). */
  connectTimeoutMs?: number;
}

/**
 * How long connect and discover wait for the kernel. A TCP connect to a dead host fails in about
 * 3 s (nvme-tcp allows one SYN retry), but a target that accepts TCP and never answers the
 * fabrics Connect command holds the write to /dev/nvme-fabrics for the admin timeout (60 s).
 */
export const CONNECT_TIMEOUT_MS = 20_000;

export interface ConnectResult {
  /** Controller name, e.g. 'nvme0'. */
  ctrlName: string;
  /** false when an existing controller to the same subsystem and address was reused. */
  created: boolean;
}

function assertTarget(t: FabricsTarget): void {
  if (typeof t.host !== 'string' || t.host.length === 0 || /[,=\s]/.test(t.host)) {
    throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `bad NVMe/TCP host ${JSON.stringify(t.host)}`);
  }
  if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) {
    throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `bad NVMe/TCP port ${t.port}`);
  }
}

function assertSeconds(name: string, v: number | undefined, min: number): void {
  if (v === undefined) return;
  if (!Number.isInteger(v) || v < min) {
    throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `${name} must be an integer >= ${min}, got ${v}`);
  }
}

/** A live-or-recovering controller that matches the target (host must be an IP), from sysfs. */
export function matchController(ctrls: SysfsController[], o: ConnectOptions): SysfsController | undefined {
  return ctrls.find((c) =>
    c.transport === 'tcp' &&
    c.subsysnqn === o.subsysnqn &&
    c.trsvcid === String(o.port) &&
    c.traddr === o.host &&
    c.state !== 'deleting' && c.state !== 'deleting (no IO)' && c.state !== 'dead');
}

/** libnvme's defaults with our timeouts applied. */
function fabricsConfig(lib: LibNvme, o: Partial<ConnectOptions>): FabricsConfigStruct {
  const cfg = {} as FabricsConfigStruct;
  lib.nvmf_default_config(cfg);
  if (o.ctrlLossTmoS !== undefined) cfg.ctrl_loss_tmo = o.ctrlLossTmoS;
  if (o.reconnectDelayS !== undefined) cfg.reconnect_delay = o.reconnectDelayS;
  if (o.fastIoFailTmoS !== undefined) cfg.fast_io_fail_tmo = o.fastIoFailTmoS;
  if (o.keepAliveTmoS !== undefined) cfg.keep_alive_tmo = o.keepAliveTmoS;
  return cfg;
}

function lookupHost(lib: LibNvme, root: NvmeRoot, hostnqn: string | undefined): NvmeHost {
  const defaultNqn = hostNqn(lib);
  const nqn = hostnqn ?? defaultNqn;
  // /etc/nvme/hostid belongs to the default host NQN; the kernel refuses it with another NQN.
  const id = nqn === defaultNqn ? hostId(lib) : null;
  const h = lib.nvme_lookup_host(root, nqn, id);
  if (!h) throw new XdbmError(ErrorCode.NVME_ERROR, `nvme_lookup_host failed for ${nqn}`);
  return h;
}

/** Creates and connects a controller; the caller owns `c` until it is freed with the tree. */
async function addCtrl(
  lib: LibNvme, root: NvmeRoot, h: NvmeHost, subsysnqn: string, t: FabricsTarget, cfg: FabricsConfigStruct,
): Promise<NvmeCtrl> {
  const c = lib.nvme_create_ctrl(root, subsysnqn, 'tcp', t.host, null, null, String(t.port));
  if (!c) throw new XdbmError(ErrorCode.NVME_ERROR, `nvme_create_ctrl failed for ${subsysnqn} at ${t.host}:${t.port}`);
  const { value: rc, errno } = await callAsync(lib.nvmf_add_ctrl, h, c, cfg);
  if (rc !== 0) {
    lib.nvme_free_ctrl(c); // not linked into the tree on failure
    throw nvmeError(`connect to ${subsysnqn} at ${t.host}:${t.port}`, errno, {
      host: t.host, port: t.port, subsysnqn,
    });
  }
  return c;
}

/**
 * Connects to subsystem `subsysnqn` at host:port over TCP, or reuses a controller already
 * connected to it (created: false). Errors: XDBM_INVALID_ARGUMENT, XDBM_LIBNVME_UNAVAILABLE,
 * XDBM_NVME_ERROR (errno and details.nvmeErrno say why: ENVME_CONNECT_OPEN when this kernel has
 * no /dev/nvme-fabrics, ENVME_CONNECT_CONNREFUSED, ENVME_CONNECT_WRITE for timeouts, ...;
 * syscallCode ETIMEDOUT when connectTimeoutMs passed first). A connect that completes after its
 * caller gave up is disconnected again before the next connect to that target may run.
 */
export async function connect(o: ConnectOptions, lib: LibNvme = loadLibnvme()): Promise<ConnectResult> {
  assertTarget(o);
  if (typeof o.subsysnqn !== 'string' || !o.subsysnqn.startsWith('nqn.') || /[,=\s]/.test(o.subsysnqn)) {
    throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `bad subsystem NQN ${JSON.stringify(o.subsysnqn)}`);
  }
  assertSeconds('ctrlLossTmoS', o.ctrlLossTmoS, -1);
  assertSeconds('reconnectDelayS', o.reconnectDelayS, 1);
  assertSeconds('fastIoFailTmoS', o.fastIoFailTmoS, -1);
  assertSeconds('keepAliveTmoS', o.keepAliveTmoS, 1);
  // The kernel shows traddr as an IP: resolve names first so reuse matches exactly.
  if (isIP(o.host) === 0) {
    try {
      o = { ...o, host: (await lookup(o.host)).address };
    } catch (e) {
      throw new XdbmError(ErrorCode.NVME_ERROR, `cannot resolve NVMe/TCP host ${o.host}: ${(e as Error).message}`, {
        cause: e, syscallCode: (e as NodeJS.ErrnoException).code,
      });
    }
  }
  const target = o;
  const what = `connect to ${o.subsysnqn} at ${o.host}:${o.port}`;
  return withDeadline(what, o.connectTimeoutMs ?? CONNECT_TIMEOUT_MS, (abandoned) =>
    withNvmeLock(`tcp:${o.host}:${o.port}/${o.subsysnqn}`, async () => {
      const r = await connectLocked(target, lib);
      if (abandoned() && r.created) await disconnect(r.ctrlName, lib).catch(() => undefined);
      return r;
    }));
}

/** Runs `op`; rejects with XDBM_NVME_ERROR (ETIMEDOUT) after timeoutMs, telling `op` it was abandoned. */
async function withDeadline<T>(what: string, timeoutMs: number, op: (abandoned: () => boolean) => Promise<T>): Promise<T> {
  let gaveUp = false;
  let timer: NodeJS.Timeout | undefined;
  const work = op(() => gaveUp);
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      gaveUp = true;
      reject(new XdbmError(ErrorCode.NVME_ERROR, `${what}: no answer within ${timeoutMs} ms`, {
        syscallCode: 'ETIMEDOUT', details: { timeoutMs },
      }));
    }, timeoutMs);
  });
  work.catch(() => undefined); // its late failure has nobody left to tell
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function connectLocked(o: ConnectOptions, lib: LibNvme): Promise<ConnectResult> {
  const existing = matchController(await listControllers(), o);
  if (existing) return { ctrlName: existing.name, created: false };
  return withRoot(lib, async (root) => {
    const h = lookupHost(lib, root, o.hostnqn);
    try {
      const c = await addCtrl(lib, root, h, o.subsysnqn, o, fabricsConfig(lib, o));
      const name = lib.nvme_ctrl_get_name(c);
      if (!name) throw new XdbmError(ErrorCode.NVME_ERROR, 'connected, but libnvme returned no controller name');
      return { ctrlName: name, created: true };
    } catch (e) {
      // Someone else (another process) connected it between our check and our connect: reuse theirs.
      if ((e as XdbmError).errno === ENVME_CONNECT_ALREADY) {
        const raced = matchController(await listControllers(), o);
        if (raced) return { ctrlName: raced.name, created: false };
      }
      throw e;
    }
  });
}

/**
 * Deletes controller `ctrlName` (nvme_disconnect_ctrl). Already gone counts as done.
 * Throws XDBM_NVME_ERROR when the kernel refuses.
 */
export async function disconnect(ctrlName: string, lib: LibNvme = loadLibnvme()): Promise<void> {
  assertCtrlName(ctrlName);
  forgetSmart(ctrlName);
  if ((await readControllerState(ctrlName)) === null) return; // already deleted
  await withNvmeLock(`ctrl:${ctrlName}`, () =>
    withRoot(lib, async (root) => {
      const { value: c, errno } = await callAsync(lib.nvme_scan_ctrl, root, ctrlName);
      if (!c) {
        if ((await readControllerState(ctrlName)) === null) return; // already deleted
        // libnvme could not build it (e.g. a namespace it failed to identify): do what
        // nvme_disconnect_ctrl does, straight through sysfs.
        try {
          await writeFile(`/sys/class/nvme/${ctrlName}/delete_controller`, '1');
          return;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
          throw nvmeError(`disconnect ${ctrlName} (libnvme lookup failed with errno ${errno})`,
            Math.abs((e as NodeJS.ErrnoException).errno ?? errno), { ctrlName });
        }
      }
      const { value: rc, errno: e2 } = await callAsync(lib.nvme_disconnect_ctrl, c);
      if (rc !== 0 && e2 !== ENOENT) throw nvmeError(`disconnect ${ctrlName}`, e2, { ctrlName });
    }),
  );
}

/**
 * Asks the discovery controller at host:port which subsystems it offers (connects a discovery
 * controller, reads the discovery log page, disconnects it again).
 */
export async function discover(
  t: FabricsTarget & { hostnqn?: string; connectTimeoutMs?: number }, lib: LibNvme = loadLibnvme(),
): Promise<DiscoveryEntry[]> {
  assertTarget(t);
  return withDeadline(`discovery at ${t.host}:${t.port}`, t.connectTimeoutMs ?? CONNECT_TIMEOUT_MS, () => withNvmeLock(`tcp:${t.host}:${t.port}/${DISCOVERY_NQN}`, () =>
    withRoot(lib, async (root) => {
      const h = lookupHost(lib, root, t.hostnqn);
      const c = await addCtrl(lib, root, h, DISCOVERY_NQN, t, fabricsConfig(lib, {}));
      try {
        const out: [CPointer | null] = [null];
        const { value: rc, errno } = await callAsync(lib.nvmf_get_discovery_log, c, out, 4);
        const logp = out[0];
        if (rc !== 0 || !logp) throw nvmeError(`discovery log from ${t.host}:${t.port}`, errno, { ...t });
        try {
          const n = discoveryRecordCount(copyFromC(logp, 0, 16));
          return parseDiscoveryLog(copyFromC(logp, 0, DISCOVERY_HEADER_BYTES + n * DISCOVERY_ENTRY_BYTES));
        } finally {
          freeC(logp);
        }
      } finally {
        await callAsync(lib.nvme_disconnect_ctrl, c);
      }
    })));
}
