/**
 * One manager per backend root. The log's epochs fence writers; nothing stopped a second daemon (on
 * another --socket) from managing, probing and failing over the same directories. Each file backend
 * root (local and NFS) gets a lock file naming its holder (host, pid, socket); a second daemon finds
 * a live holder and refuses to start. A lock left by a dead process on this host is taken over; one
 * from another host cannot be checked from here, so it is refused with the file to remove.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ManagerConfig } from '../config/types.js';
import { ErrorCode, XdbmError } from '../errors.js';

export const ROOT_LOCK_NAME = '.xdbm-manager.lock';

interface Holder {
  host: string;
  pid: number;
  socket: string;
  sinceMs: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Roots of the file backends (local and NFS) that exist now: a missing root is the backend's failure, not ours to create. */
export function fileRoots(cfg: Pick<ManagerConfig, 'candidateNodes'>): string[] {
  const out: string[] = [];
  for (const n of cfg.candidateNodes) {
    for (const e of n.endpoints) {
      const root = e.target.kind === 'file' ? e.target.path : e.target.kind === 'nfs' ? e.target.mountPoint : undefined;
      if (root !== undefined && fs.existsSync(root)) out.push(root);
    }
  }
  return out;
}

export class RootLocks {
  readonly #held = new Set<string>();
  readonly #me: Holder;

  constructor(socket: string) {
    this.#me = { host: os.hostname(), pid: process.pid, socket, sinceMs: Date.now() };
  }

  /**
   * Locks every root, or none more: on the first root held by another live daemon it releases what
   * this call took (locks held before stay) and throws.
   */
  acquireAll(roots: readonly string[]): void {
    const taken: string[] = [];
    try {
      for (const r of roots) {
        if (this.#held.has(r)) continue;
        this.acquire(r);
        if (this.#held.has(r)) taken.push(r);
      }
    } catch (e) {
      this.#release(taken);
      throw e;
    }
  }

  acquire(root: string): void {
    if (this.#held.has(root)) return;
    const file = path.join(root, ROOT_LOCK_NAME);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        // O_EXCL: of two daemons starting together, exactly one creates the file
        fs.writeFileSync(file, JSON.stringify(this.#me) + '\n', { flag: 'wx', mode: 0o644 });
        this.#held.add(root);
        return;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST') return; // read-only or vanished root: the backend's own probes will say so
      }
      let holder: Holder | undefined;
      try {
        holder = JSON.parse(fs.readFileSync(file, 'utf8')) as Holder;
      } catch {
        holder = undefined; // torn or foreign content: treated as stale below
      }
      const mine = holder?.host === this.#me.host && holder.pid === this.#me.pid;
      if (holder && !mine && (holder.host !== this.#me.host || alive(holder.pid))) {
        throw new XdbmError(ErrorCode.DAEMON_ALREADY_RUNNING,
          `backend root ${root} is managed by another xdbm daemon (host ${holder.host}, pid ${holder.pid}, socket ${holder.socket}); ` +
          `one root, one manager: stop that daemon, or remove ${file} if it is gone`, { details: { root, holder } });
      }
      fs.rmSync(file, { force: true }); // stale: its holder is dead
    }
  }

  releaseAll(): void {
    this.#release([...this.#held]);
  }

  /** Releases the locks of roots no longer in the config (after a reload or nodes remove). */
  keepOnly(roots: readonly string[]): void {
    this.#release([...this.#held].filter((r) => !roots.includes(r)));
  }

  #release(roots: readonly string[]): void {
    for (const root of roots) {
      const file = path.join(root, ROOT_LOCK_NAME);
      try {
        const h = JSON.parse(fs.readFileSync(file, 'utf8')) as Holder;
        if (h.pid === this.#me.pid && h.host === this.#me.host) fs.rmSync(file, { force: true });
      } catch {
        /* gone already */
      }
      this.#held.delete(root);
    }
  }
}
