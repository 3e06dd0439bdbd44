/**
 * Host identity and the controller/namespace topology, read through libnvme.
 */
import { ErrorCode, XdbmError } from '../errors.js';
import { parseControllerState, type ControllerState } from './health-log.js';
import { callAsync, loadLibnvme, withNvmeLock, withRoot, type LibNvme, type NvmeCtrl, type NvmeNs } from './libnvme.js';
import { nvmeError } from './nvme-errors.js';
import path from 'node:path';
import type { SysfsController } from './sysfs.js';

/** NVMe host NQN in the UUID form (NVMe Base spec 4.5): what libnvme and nvme-cli write. */
export const HOSTNQN_UUID_RE = /^nqn\.2014-08\.org\.nvmexpress:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * This host's NQN: /etc/nvme/hostnqn when present, else one libnvme generates from the machine's
 * DMI product UUID (or a random one). Throws XDBM_NVME_ERROR when neither works.
 */
export function hostNqn(lib: LibNvme = loadLibnvme()): string {
  const fromFile = lib.nvmf_hostnqn_from_file();
  if (fromFile && fromFile.trim()) return fromFile.trim();
  const generated = lib.nvmf_hostnqn_generate();
  if (generated && generated.trim()) return generated.trim();
  throw new XdbmError(ErrorCode.NVME_ERROR, 'no host NQN: /etc/nvme/hostnqn is missing and libnvme could not generate one');
}

/** /etc/nvme/hostid, or null (the kernel then derives a host id itself). */
export function hostId(lib: LibNvme = loadLibnvme()): string | null {
  const id = lib.nvmf_hostid_from_file();
  return id && id.trim() ? id.trim() : null;
}

export interface NamespaceInfo {
  /** libnvme's name: nvme0n1 (the block device's name). */
  name: string;
  nsid: number;
  blockDevice: string;
}

export interface ControllerInfo extends SysfsController {
  namespaces: NamespaceInfo[];
}

/** Iterates a libnvme first/next list. */
function* each<T>(first: () => T | null, next: (prev: T) => T | null): Generator<T> {
  for (let it = first(); it; it = next(it)) yield it;
}

function namespacesOf(lib: LibNvme, c: NvmeCtrl): NamespaceInfo[] {
  const byName = new Map<string, NamespaceInfo>();
  const add = (n: NvmeNs | null): void => {
    if (!n) return;
    const name = lib.nvme_ns_get_name(n);
    if (!name || byName.has(name)) return;
    byName.set(name, { name, nsid: lib.nvme_ns_get_nsid(n), blockDevice: path.join('/dev', name) });
  };
  // Without native multipath the namespaces hang off the controller ...
  for (const n of each(() => lib.nvme_ctrl_first_ns(c), (n) => lib.nvme_ctrl_next_ns(c, n))) add(n);
  // ... with it, the controller has paths (nvme0c0n1) whose namespace is the head (nvme0n1).
  for (const p of each(() => lib.nvme_ctrl_first_path(c), (p) => lib.nvme_ctrl_next_path(c, p))) {
    add(lib.nvme_path_get_ns(p));
  }
  return [...byName.values()].sort((a, b) => a.nsid - b.nsid);
}

/**
 * Every NVMe controller this host has (any transport), with its namespaces.
 * Returns [] on a kernel without NVMe (no /sys/class/nvme). The scan runs off the main thread:
 * libnvme identifies every namespace, which can stall on a controller that is reconnecting.
 */
export async function scanControllers(lib: LibNvme = loadLibnvme()): Promise<ControllerInfo[]> {
  return withNvmeLock('scan', () =>
    withRoot(lib, async (root) => {
      const { value: rc, errno } = await callAsync(lib.nvme_scan_topology, root, null, null);
      if (rc < 0) {
        if (errno === 2) return []; // ENOENT: no /sys/class/nvme(-subsystem) on this kernel
        throw nvmeError('nvme_scan_topology', errno);
      }
      const out: ControllerInfo[] = [];
      for (const h of each(() => lib.nvme_first_host(root), (h) => lib.nvme_next_host(root, h))) {
        for (const s of each(() => lib.nvme_first_subsystem(h), (s) => lib.nvme_next_subsystem(h, s))) {
          for (const c of each(() => lib.nvme_subsystem_first_ctrl(s), (c) => lib.nvme_subsystem_next_ctrl(s, c))) {
            out.push({
              name: lib.nvme_ctrl_get_name(c) ?? '',
              state: parseControllerState(lib.nvme_ctrl_get_state(c)),
              transport: lib.nvme_ctrl_get_transport(c) ?? '',
              traddr: lib.nvme_ctrl_get_traddr(c) ?? '',
              trsvcid: lib.nvme_ctrl_get_trsvcid(c) ?? '',
              subsysnqn: lib.nvme_ctrl_get_subsysnqn(c) ?? '',
              namespaces: namespacesOf(lib, c),
            });
          }
        }
      }
      return out.sort((a, b) => Number(a.name.slice(4)) - Number(b.name.slice(4)));
    }),
  );
}
