/**
 * Cheap, non-blocking NVMe facts from sysfs: controller state and address, namespace paths, ANA.
 * Used on hot paths (health, connect reuse) where a libnvme topology scan would open every namespace.
 *
 * Layout (Linux 6.1):
 *   /sys/class/nvme/nvmeX/{state,transport,address,subsysnqn}
 *   /sys/class/nvme/nvmeX/nvmeScXnH/{nsid,ana_state}   multipath path; block device /dev/nvmeSnH
 *   /sys/class/nvme/nvmeX/nvmeXnH/nsid                  no multipath; block device /dev/nvmeXnH
 * `roots` lets tests point at a fixture tree; production uses /sys and /dev.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ErrorCode, XdbmError } from '../errors.js';
import { parseAnaState, parseControllerState, type AnaState, type ControllerState } from './health-log.js';

export interface SysRoots {
  /** Directory holding one entry per controller (default /sys/class/nvme). */
  classNvme: string;
  /** Where block device nodes appear (default /dev). */
  dev: string;
}

export const DEFAULT_ROOTS: SysRoots = { classNvme: '/sys/class/nvme', dev: '/dev' };

const CTRL_NAME = /^nvme\d+$/;
const NS_ENTRY = /^nvme(\d+)(?:c(\d+))?n(\d+)$/;

export function assertCtrlName(name: string): void {
  if (!CTRL_NAME.test(name)) {
    throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `not an NVMe controller name: ${JSON.stringify(name)}`);
  }
}

async function readAttr(file: string): Promise<string | null> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    return null;
  }
}

export interface SysfsController {
  name: string;
  state: ControllerState;
  transport: string;
  traddr: string;
  trsvcid: string;
  subsysnqn: string;
}

/** Parses the kernel's `address` attribute: "traddr=10.0.0.1,trsvcid=4420,src_addr=...". */
export function parseAddress(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.trim().split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

/** Every controller the kernel knows; [] when there is no /sys/class/nvme (no nvme-core). */
export async function listControllers(roots: SysRoots = DEFAULT_ROOTS): Promise<SysfsController[]> {
  let names: string[];
  try {
    names = (await fs.readdir(roots.classNvme)).filter((n) => CTRL_NAME.test(n));
  } catch {
    return [];
  }
  const out: SysfsController[] = [];
  for (const name of names.sort(byNumber)) {
    const dir = path.join(roots.classNvme, name);
    const [state, transport, address, subsysnqn] = await Promise.all(
      ['state', 'transport', 'address', 'subsysnqn'].map((a) => readAttr(path.join(dir, a))),
    );
    if (state === null) continue; // went away while listing
    const addr = parseAddress(address ?? '');
    out.push({
      name,
      state: parseControllerState(state),
      transport: transport ?? '',
      traddr: addr.traddr ?? '',
      trsvcid: addr.trsvcid ?? '',
      subsysnqn: subsysnqn ?? '',
    });
  }
  return out;
}

function byNumber(a: string, b: string): number {
  return Number(a.replace(/\D/g, '')) - Number(b.replace(/\D/g, ''));
}

/** Controller state from sysfs, or null when the controller no longer exists. */
export async function readControllerState(ctrl: string, roots: SysRoots = DEFAULT_ROOTS): Promise<ControllerState | null> {
  assertCtrlName(ctrl);
  const s = await readAttr(path.join(roots.classNvme, ctrl, 'state'));
  return s === null ? null : parseControllerState(s);
}

export interface NamespaceEntry {
  /** sysfs entry under the controller: nvme0c0n1 (a multipath path) or nvme0n1. */
  entry: string;
  nsid: number;
  /** Block device node: /dev/nvme0n1 (the multipath head for a path entry). */
  blockDevice: string;
  /** ANA state of this path, null when the kernel shows none (no ANA or no multipath). */
  anaState: AnaState | null;
}

/** Namespaces a controller exposes, as sysfs shows them now. */
export async function listNamespaces(ctrl: string, roots: SysRoots = DEFAULT_ROOTS): Promise<NamespaceEntry[]> {
  assertCtrlName(ctrl);
  const dir = path.join(roots.classNvme, ctrl);
  let entries: string[];
  try {
    entries = await fs.readdir(dir);
  } catch {
    return [];
  }
  const out: NamespaceEntry[] = [];
  for (const entry of entries.sort(byNumber)) {
    const m = NS_ENTRY.exec(entry);
    if (!m) continue;
    const [, subsysOrCtrl, pathCtrl, head] = m;
    const nsidText = await readAttr(path.join(dir, entry, 'nsid'));
    // The trailing number is the head instance, usually but not always the nsid: prefer the attribute.
    const nsid = nsidText !== null && /^\d+$/.test(nsidText) ? Number(nsidText) : Number(head);
    const blockName = pathCtrl !== undefined ? `nvme${subsysOrCtrl}n${head}` : entry;
    out.push({
      entry,
      nsid,
      blockDevice: path.join(roots.dev, blockName),
      anaState: parseAnaState(await readAttr(path.join(dir, entry, 'ana_state'))),
    });
  }
  return out;
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

export interface FindNamespaceOptions {
  /** How long to wait for the namespace and its device node (default 5000). */
  timeoutMs?: number;
  pollMs?: number;
  roots?: SysRoots;
}

/**
 * Block device of namespace `nsid` of controller `ctrl`, waiting up to timeoutMs for it (after a
 * connect, the kernel scans namespaces and udev/devtmpfs creates the node a little later).
 * Throws XDBM_NVME_ERROR (syscallCode ENOENT) when it does not appear in time.
 */
export async function findNamespaceDevice(ctrl: string, nsid: number, opts: FindNamespaceOptions = {}): Promise<string> {
  assertCtrlName(ctrl);
  if (!Number.isInteger(nsid) || nsid < 1) {
    throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `nsid must be a positive integer, got ${nsid}`);
  }
  const roots = opts.roots ?? DEFAULT_ROOTS;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const pollMs = opts.pollMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let seen: NamespaceEntry[] = [];
  for (;;) {
    seen = await listNamespaces(ctrl, roots);
    const hit = seen.find((n) => n.nsid === nsid);
    if (hit && (await exists(hit.blockDevice))) return hit.blockDevice;
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  throw new XdbmError(
    ErrorCode.NVME_ERROR,
    `namespace ${nsid} of ${ctrl} has no block device after ${timeoutMs} ms ` +
      `(namespaces seen: ${seen.map((n) => `${n.entry}=nsid ${n.nsid}`).join(', ') || 'none'})`,
    { syscallCode: 'ENOENT', details: { ctrl, nsid, timeoutMs } },
  );
}

/** ANA state of namespace `nsid` through controller `ctrl`, null when unknown. */
export async function readAnaState(ctrl: string, nsid: number, roots: SysRoots = DEFAULT_ROOTS): Promise<AnaState | null> {
  const ns = (await listNamespaces(ctrl, roots)).find((n) => n.nsid === nsid);
  return ns?.anaState ?? null;
}
