/** Local file system backend: objects are files under target.path (file:///absolute/path). */
import { realpath } from 'node:fs/promises';
import type { EndpointConfig } from '../config/types.js';
import { ErrorCode, XdbmError } from '../errors.js';
import type { StorageBackend } from './backend.js';
import { FileBackendBase } from './file-backend-base.js';
import { findMount, readMountInfo } from './mountinfo.js';

export class LocalBackend extends FileBackendBase {
  readonly #root: string;
  readonly #expectMount: boolean;

  constructor(config: EndpointConfig) {
    super(config, config.ioTimeoutMs);
    if (config.target.kind !== 'file') {
      throw new XdbmError(ErrorCode.CONFIG_INVALID, `local backend ${config.endpointId} needs a file:// target, got ${config.target.kind}`);
    }
    this.#root = config.target.path;
    this.#expectMount = config.expectMount === true;
  }

  get rootDir(): string {
    return this.#root;
  }

  /**
   * Checks the root (never creates it) and, with expect_mount, that it is a mount point: an unmounted
   * disk leaves an empty directory on the root file system that would otherwise take the log.
   */
  protected override async doInit(): Promise<void> {
    await this.initDirs();
    if (this.#expectMount) {
      const real = await realpath(this.#root);
      if (!findMount(await readMountInfo(), real)) {
        throw new XdbmError(ErrorCode.NOT_MOUNTED, `${this.endpointId}: ${this.#root} is not a mount point (expect_mount: true): mount its disk first`);
      }
    }
  }
}

export function create(config: EndpointConfig): StorageBackend {
  return new LocalBackend(config);
}
