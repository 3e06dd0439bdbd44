/**
 * NFS backend: objects are files under the endpoint's mount point. init refuses a mount point that is
 * not an NFS mount (an unmounted directory would silently write to the local disk). Every operation
 * has a deadline (ioTimeoutMs, default 5000): a hung soft or hard mount becomes XDBM_IO_TIMEOUT.
 * ESTALE maps to XDBM_STALE_HANDLE.
 */
import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { EndpointConfig } from '../config/types.js';
import { ErrorCode, XdbmError, fromSystemError } from '../errors.js';
import type { StorageBackend } from './backend.js';
import { FileBackendBase } from './file-backend-base.js';
import { withIoTimeout } from './io-timeout.js';
import { findMount, readMountInfo, type MountEntry } from './mountinfo.js';

export const DEFAULT_NFS_IO_TIMEOUT_MS = 5000;
export const NFS_FS_TYPES: readonly string[] = ['nfs', 'nfs4'];

/** Throws XDBM_NOT_MOUNTED unless `entry` is an NFS mount with a host:/export source. */
export function checkNfsMount(entry: MountEntry | undefined, mountPoint: string): MountEntry {
  if (!entry) throw new XdbmError(ErrorCode.NOT_MOUNTED, `${mountPoint} is not a mount point`);
  if (!NFS_FS_TYPES.includes(entry.fsType)) {
    throw new XdbmError(ErrorCode.NOT_MOUNTED, `${mountPoint} is mounted as ${entry.fsType}, not NFS`, {
      details: { fsType: entry.fsType, source: entry.source },
    });
  }
  const colon = entry.source.indexOf(':');
  if (colon <= 0 || !entry.source.slice(colon + 1).startsWith('/')) {
    throw new XdbmError(ErrorCode.NOT_MOUNTED, `${mountPoint}: NFS source ${entry.source} is not host:/export`);
  }
  return entry;
}

export class NfsBackend extends FileBackendBase {
  readonly #mountPoint: string;
  readonly #timeoutMs: number;
  #mount?: MountEntry;

  constructor(config: EndpointConfig) {
    const timeoutMs = config.ioTimeoutMs ?? DEFAULT_NFS_IO_TIMEOUT_MS;
    super(config, timeoutMs);
    if (config.target.kind !== 'nfs') {
      throw new XdbmError(ErrorCode.CONFIG_INVALID, `nfs backend ${config.endpointId} needs an nfs:// target, got ${config.target.kind}`);
    }
    this.#mountPoint = resolve(config.target.mountPoint);
    this.#timeoutMs = timeoutMs;
  }

  get rootDir(): string {
    return this.#mountPoint;
  }

  /** The mount entry seen by the last init (source, fstype, options). */
  get mount(): MountEntry | undefined {
    return this.#mount;
  }

  protected override async doInit(): Promise<void> {
    let entries: MountEntry[];
    try {
      entries = await withIoTimeout(readMountInfo(), this.#timeoutMs, `${this.endpointId}: read mountinfo`);
    } catch (e) {
      throw fromSystemError(e, `${this.endpointId}: read mountinfo`);
    }
    // mountinfo lists real paths: follow symlinks in the configured mount point (bounded: a hung
    // mount can block realpath too).
    const real = await withIoTimeout(realpath(this.#mountPoint), this.#timeoutMs, `${this.endpointId}: realpath`).catch(() => this.#mountPoint);
    this.#mount = checkNfsMount(findMount(entries, real), this.#mountPoint);
    // Never create the mount point itself: only the probe directory inside the mounted export.
    await this.initDirs();
  }

  override async healthInfo(): Promise<Record<string, unknown>> {
    return this.#mount ? { source: this.#mount.source, fsType: this.#mount.fsType, options: this.#mount.superOptions } : {};
  }
}

export function create(config: EndpointConfig): StorageBackend {
  return new NfsBackend(config);
}
