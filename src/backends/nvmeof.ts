/**
 * NVMe over Fabrics (TCP) backend. init connects the namespace's controller through libnvme (or
 * reuses a live one), waits for /dev/nvmeXnY, then is the block backend (src/backends/block.ts) on
 * that device: same layout, probe area rules, O_DIRECT path and raw data region for the WAL.
 * close closes the device and disconnects the controller if xdbm connected it and no other
 * endpoint of this process still uses it.
 */
import type { EndpointConfig, NvmeFabricsOptions } from '../config/types.js';
import { DEFAULTS } from '../config/defaults.js';
import { ErrorCode, XdbmError } from '../errors.js';
import { acquireController, type ControllerLease } from '../nvme/controller-refs.js';
import type { ConnectOptions } from '../nvme/fabrics.js';
import { readHealth } from '../nvme/health.js';
import { findNamespaceDevice } from '../nvme/sysfs.js';
import type { NativeIo } from '../native/types.js';
import type { BackendHealthInfo, StorageBackend } from './backend.js';
import { BlockBackend } from './block.js';

/** How long init waits for the namespace's block device after the connect. */
export const NAMESPACE_WAIT_MS = 10_000;

export interface NvmeofSettings {
  connect: ConnectOptions;
  nsid: number;
}

/** What an endpoint's config means for the fabrics layer (defaults from config/defaults.ts). */
export function nvmeofSettings(cfg: EndpointConfig): NvmeofSettings {
  const t = cfg.target;
  if (t.kind !== 'nvme') {
    throw new XdbmError(ErrorCode.CONFIG_INVALID, `endpoint ${cfg.endpointId}: nvmeof backend needs an nvme:// target, got ${t.kind}`);
  }
  const o: NvmeFabricsOptions = { ...DEFAULTS.nvme, ...cfg.nvme };
  return {
    connect: {
      host: t.host,
      port: t.port,
      subsysnqn: t.subsysnqn,
      ctrlLossTmoS: o.ctrlLossTmoS,
      reconnectDelayS: o.reconnectDelayS,
      fastIoFailTmoS: o.fastIoFailTmoS,
      ...(o.hostnqn !== undefined ? { hostnqn: o.hostnqn } : {}),
    },
    nsid: t.nsid,
  };
}

export class NvmeofBackend extends BlockBackend {
  readonly settings: NvmeofSettings;
  #lease?: ControllerLease;
  #lastReleaseError?: { code: string; message: string };

  constructor(config: EndpointConfig, native?: NativeIo) {
    super(config, native);
    this.settings = nvmeofSettings(config);
  }

  /** Controller in use (after init), e.g. 'nvme0'. */
  get ctrlName(): string | undefined {
    return this.#lease?.ctrlName;
  }

  /** Connects (or reuses) the controller and waits for the namespace's block device. */
  protected override async resolveDevicePath(): Promise<string> {
    const lease = await acquireController(this.settings.connect);
    this.#lease = lease;
    return findNamespaceDevice(lease.ctrlName, this.settings.nsid, { timeoutMs: NAMESPACE_WAIT_MS });
  }

  /** Drops our reference on the controller: disconnects it when xdbm connected it and nobody else uses it. */
  protected override async releaseDevice(): Promise<void> {
    const lease = this.#lease;
    this.#lease = undefined;
    try {
      await lease?.release();
    } catch (e) {
      // Closing must not fail a failover's graceful shutdown; the error stays visible in healthInfo.
      const err = e as XdbmError;
      this.#lastReleaseError = { code: err.code ?? ErrorCode.NVME_ERROR, message: err.message };
    }
  }

  protected override async doInit(): Promise<void> {
    try {
      await super.doInit();
    } catch (e) {
      // Connected but the device never appeared or would not open: do not leave the controller behind.
      await this.releaseDevice();
      throw e;
    }
  }

  /** Block facts plus controller state, ANA state and a SMART summary. */
  override async healthInfo(): Promise<BackendHealthInfo> {
    const base: BackendHealthInfo = this.#lastReleaseError ? { lastDisconnectError: this.#lastReleaseError } : {};
    const lease = this.#lease;
    if (!this.isOpen || !lease) return base;
    const [blockInfo, nvme] = await Promise.all([super.healthInfo(), readHealth(lease.ctrlName, this.settings.nsid)]);
    return { ...base, ...blockInfo, ctrlName: lease.ctrlName, controllerOwned: lease.owned, ...nvme };
  }
}

export function create(cfg: EndpointConfig): StorageBackend {
  return new NvmeofBackend(cfg);
}
