/**
 * The one contract every backend type implements (seed 2.2 storage_interface_t), one file per type:
 * local.ts, nfs.ts, block.ts, nvmeof.ts. The base class owns the lifecycle: init and close are safe to
 * call twice, and any I/O after close fails with XDBM_CLOSED.
 *
 * Probes and warm-up may touch only the probe area. For file backends (local, nfs) that is a
 * directory `.xdbm-probe` under the backend's root; for devices (block, nvmeof) it is a byte range
 * at the end of the device (the last probeAreaBytes), and name-based writes map to fixed slots in
 * that range: nothing outside it is ever written by a probe.
 */
import type { EndpointConfig } from '../config/types.js';
import { ErrorCode, XdbmError } from '../errors.js';
import type { BackendType } from '../types.js';

/** Serializable description of where a probe may do I/O: sent to the Piscina workers. */
export type ProbeTarget =
  | {
      kind: 'dir';
      endpointId: string;
      type: BackendType;
      /** Directory reserved for probes (created by init). */
      dir: string;
      /** Try O_DIRECT through the addon where the file system accepts it. */
      direct: boolean;
    }
  | {
      kind: 'device';
      endpointId: string;
      type: BackendType;
      devicePath: string;
      /** Probe area: [offsetBytes, offsetBytes + lengthBytes), aligned to logicalBlockBytes. */
      offsetBytes: number;
      lengthBytes: number;
      logicalBlockBytes: number;
    };

/** Extra health facts some backends have (NVMe-oF: controller, ANA, SMART). */
export interface BackendHealthInfo {
  [key: string]: unknown;
}

export interface StorageBackend {
  readonly endpointId: string;
  readonly type: BackendType;
  readonly config: EndpointConfig;
  /** Connect / open / create directories. Idempotent. */
  init(): Promise<void>;
  /** Write data at offset of the named object (file backends: file under the root). */
  write(name: string, offsetBytes: number, data: Uint8Array): Promise<void>;
  read(name: string, offsetBytes: number, lengthBytes: number): Promise<Buffer>;
  delete(name: string): Promise<void>;
  /** Make earlier writes of `name` (or all) durable. */
  sync(name?: string): Promise<void>;
  /** Release everything (disconnect NVMe, close fds). Idempotent. */
  close(): Promise<void>;
  /** Where probes and warm-up may do I/O. Valid after init(). */
  probeTarget(): ProbeTarget;
  /** Backend-specific health facts (may be empty). */
  healthInfo(): Promise<BackendHealthInfo>;
  readonly isOpen: boolean;
}

export abstract class BackendBase implements StorageBackend {
  readonly endpointId: string;
  readonly type: BackendType;
  readonly config: EndpointConfig;
  #state: 'new' | 'opening' | 'open' | 'closed' = 'new';
  #opening?: Promise<void>;

  constructor(config: EndpointConfig) {
    this.endpointId = config.endpointId;
    this.type = config.type;
    this.config = config;
  }

  get isOpen(): boolean {
    return this.#state === 'open';
  }

  async init(): Promise<void> {
    if (this.#state === 'open') return;
    if (this.#state === 'closed') this.#state = 'new'; // re-init after close is allowed (recovery)
    if (!this.#opening) {
      this.#state = 'opening';
      this.#opening = this.doInit().then(
        () => { this.#state = 'open'; this.#opening = undefined; },
        (e) => { this.#state = 'new'; this.#opening = undefined; throw e; },
      );
    }
    return this.#opening;
  }

  async close(): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'new') { this.#state = 'closed'; return; }
    if (this.#opening) await this.#opening.catch(() => undefined);
    this.#state = 'closed';
    await this.doClose();
  }

  protected assertOpen(): void {
    if (this.#state !== 'open') {
      throw new XdbmError(ErrorCode.CLOSED, `backend ${this.endpointId} is not open (state ${this.#state})`);
    }
  }

  async healthInfo(): Promise<BackendHealthInfo> {
    return {};
  }

  protected abstract doInit(): Promise<void>;
  protected abstract doClose(): Promise<void>;
  abstract write(name: string, offsetBytes: number, data: Uint8Array): Promise<void>;
  abstract read(name: string, offsetBytes: number, lengthBytes: number): Promise<Buffer>;
  abstract delete(name: string): Promise<void>;
  abstract sync(name?: string): Promise<void>;
  abstract probeTarget(): ProbeTarget;
}

/** Factory signature each backend file exports as `create`. */
export type BackendFactory = (config: EndpointConfig) => StorageBackend;
