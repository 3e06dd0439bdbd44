/** Local file system backend: objects are files under target.path (file:///absolute/path). */
import type { EndpointConfig } from '../config/types.js';
import { ErrorCode, XdbmError } from '../errors.js';
import type { StorageBackend } from './backend.js';
import { FileBackendBase } from './file-backend-base.js';

export class LocalBackend extends FileBackendBase {
  readonly #root: string;

  constructor(config: EndpointConfig) {
    super(config, config.ioTimeoutMs);
    if (config.target.kind !== 'file') {
      throw new XdbmError(ErrorCode.CONFIG_INVALID, `local backend ${config.endpointId} needs a file:// target, got ${config.target.kind}`);
    }
    this.#root = config.target.path;
  }

  get rootDir(): string {
    return this.#root;
  }

  /** Creates the root directory (recursively) and the probe directory. */
  protected override async doInit(): Promise<void> {
    await this.initDirs(true);
  }
}

export function create(config: EndpointConfig): StorageBackend {
  return new LocalBackend(config);
}
