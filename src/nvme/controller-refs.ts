/**
 * Who uses which NVMe controller in this thread. Several endpoints can sit on one controller
 * (same subsystem, other namespaces); the controller is disconnected only when the last user lets
 * go, and only if xdbm connected it (one found already connected belongs to someone else).
 */
import { connect, disconnect, type ConnectOptions } from './fabrics.js';
import { listControllers } from './sysfs.js';

interface Entry {
  refs: number;
  /** xdbm created the controller (so xdbm may delete it). */
  owned: boolean;
  target: ConnectOptions;
}

const entries = new Map<string, Entry>();

export interface ControllerLease {
  ctrlName: string;
  /** true when this process created the controller (possibly for an earlier lease). */
  owned: boolean;
  /** Drops the lease; disconnects the controller when it was the last one and xdbm created it. */
  release(): Promise<void>;
}

/** Connects (or reuses) and takes a reference on the controller. */
export async function acquireController(o: ConnectOptions): Promise<ControllerLease> {
  const { ctrlName, created } = await connect(o);
  const e = entries.get(ctrlName);
  if (e && !created) e.refs++;
  // A created controller under a known name: the kernel reused the instance after a deletion.
  else entries.set(ctrlName, { refs: 1, owned: created, target: o });
  const entry = entries.get(ctrlName)!;
  let released = false;
  return {
    ctrlName,
    owned: entry.owned,
    async release() {
      if (released) return;
      released = true;
      const cur = entries.get(ctrlName);
      if (cur !== entry) return; // superseded by a newer controller of that name
      if (--entry.refs > 0) return;
      entries.delete(ctrlName);
      if (!entry.owned) return;
      // The kernel may have deleted ours (ctrl_loss_tmo) and given the name to another controller:
      // only disconnect a controller that still points at our target.
      const now = (await listControllers()).find((c) => c.name === ctrlName);
      if (now && now.subsysnqn === entry.target.subsysnqn && now.trsvcid === String(entry.target.port)) {
        await disconnect(ctrlName);
      }
    },
  };
}

/** References held per controller (diagnostics and tests). */
export function controllerRefs(): Record<string, { refs: number; owned: boolean }> {
  return Object.fromEntries([...entries].map(([k, v]) => [k, { refs: v.refs, owned: v.owned }]));
}
