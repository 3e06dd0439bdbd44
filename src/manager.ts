/**
 * BackendManager (seed 6.2 dynamic_backend_api_t): candidate pool, active set, health monitor and
 * failover queue together. Every change of the active set (failover, refill, reselection, reload)
 * runs through the failover queue, one at a time.
 */
import type { ManagedLog, ManagedLogOptions } from './wal/log-types.js';
import { LogRegistry, type RemovalOptions } from './wal/log-registry.js';
import type { LogReplicationView } from './wal/replication-status.js';
import { EventEmitter } from 'node:events';
import { rename, writeFile } from 'node:fs/promises';
import type { StorageBackend } from './backends/backend.js';
import { createBackend } from './backends/index.js';
import { withIoTimeout } from './backends/io-timeout.js';
import { configToYaml, validateManagerConfig, validateNodeAgainst } from './config/index.js';
import type { ManagerConfig, NodeConfig } from './config/types.js';
import { ErrorCode, XdbmError, fromSystemError, isXdbmError } from './errors.js';
import { diffConfig, endpointsOf } from './failover/config-diff.js';
import { FailoverManager } from './failover/failover-manager.js';
import { warmUp } from './failover/warmup.js';
import { HealthMonitor } from './health/monitor.js';
import type { Transition } from './health/state-machine.js';
import type {
  ActiveChangedEvent, BackendManagerApi, BackendStatus, CandidateStatus, FailoverRecord, ManagerStats, ReloadResult,
} from './manager-api.js';
import { OperationStats } from './manager-op-stats.js';
import { backendStatus, candidateStatus, managerStats, selectionSnapshot, type EndpointEntry } from './manager-views.js';
import type { MetricsStore } from './metrics/types.js';
import { createDefaultRunner, resolveConfig } from './manager-runtime.js';
import type { ProbeRunner } from './probes/types.js';
import { rankReplacements, selectActive } from './selection/select.js';
import type { ActiveBackendInfo } from './types.js';

export interface ManagerOptions {
  /** Default: the Piscina ProbePool when it loads, else DirectProbeRunner. */
  probeRunner?: ProbeRunner;
  /** Default: SharedMetricsStore. */
  metrics?: MetricsStore;
}

export interface WarningEvent {
  message: string;
  details?: Record<string, unknown>;
}

export class BackendManager extends EventEmitter implements BackendManagerApi {
  #config: ManagerConfig;
  readonly #opts: ManagerOptions;
  readonly #entries = new Map<string, EndpointEntry>();
  #actives: string[] = [];
  #cursor = 0;
  /** Endpoints being removed by a config change: never picked as replacements meanwhile. */
  readonly #leaving = new Set<string>();
  #runner?: ProbeRunner;
  #store?: MetricsStore;
  #monitor?: HealthMonitor;
  readonly #failover: FailoverManager;
  readonly #ops = new OperationStats();
  #state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  /** Logs open in this process and the rules that protect their copies from config changes. */
  readonly #logs = new LogRegistry({ config: () => this.#config, candidates: () => this.getCandidates() });

  constructor(config: ManagerConfig, opts: ManagerOptions = {}) {
    super();
    this.#config = config;
    this.#opts = opts;
    this.#failover = new FailoverManager({
      actives: () => this.#actives,
      rankReplacements: (failedId, actives) =>
        rankReplacements(this.#snapshot(), failedId, actives, this.#config.selection, this.#cursor).filter((id) => !this.#leaving.has(id)),
      backend: (id) => this.#entries.get(id)?.backend,
      swap: (failedId, replacementId, reason) => this.#swap(failedId, replacementId, reason),
      failoverTimeoutMs: () => this.#config.failover.failoverTimeoutMs,
      warning: (message, details) => this.#warn(message, details),
    });
  }

  static async open(configFileOrObject: string | ManagerConfig | object, opts: ManagerOptions = {}): Promise<BackendManager> {
    return new BackendManager(await resolveConfig(configFileOrObject), opts);
  }

  get config(): ManagerConfig {
    return this.#config;
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  async start(): Promise<void> {
    if (this.#state === 'running' || this.#state === 'starting') return;
    if (this.#state === 'stopped') throw new XdbmError(ErrorCode.CLOSED, 'manager was stopped; open a new one');
    this.#state = 'starting';
    const slots = Math.max(64, 2 * [...endpointsOf(this.#config).keys()].length);
    this.#store = this.#opts.metrics ?? (await import('./metrics/shared-store.js').then((m) => new m.SharedMetricsStore(slots)).catch(() => undefined));
    const { runner, publishes } = this.#opts.probeRunner
      ? { runner: this.#opts.probeRunner, publishes: false }
      : await createDefaultRunner(this.#config, this.#store, (id) => this.#entries.get(id)?.backend, (m) => this.#warn(m));
    this.#runner = runner;
    this.#monitor = new HealthMonitor(
      {
        config: () => this.#config,
        endpoints: () => [...this.#entries.values()].map((e) => ({ endpointId: e.endpoint.endpointId, type: e.endpoint.type })),
        backend: (id) => this.#entries.get(id)?.backend,
        onTransition: (id, t, reason) => this.#onTransition(id, t, reason),
        onRoundComplete: () => this.#afterRound(),
        isActive: (id) => this.#actives.includes(id),
      },
      runner,
      { store: this.#store, publishToStore: !publishes },
    );
    await Promise.all([...endpointsOf(this.#config).values()].map(({ node, endpoint }) => this.#addEntry(node, endpoint)));
    await this.#monitor.runRound();
    await this.#failover.exclusive(() => this.#reselect('initial selection'));
    this.#state = 'running';
    this.#monitor.start();
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#monitor?.stop();
    await this.#failover.close().catch(() => undefined);
    await this.#runner?.close().catch(() => undefined);
    await Promise.allSettled([...this.#entries.values()].map((e) => e.backend?.close()));
    await this.#logs.close();
  }

  async #addEntry(node: NodeConfig, endpoint: NodeConfig['endpoints'][number]): Promise<void> {
    const entry: EndpointEntry = { node, endpoint };
    this.#entries.set(endpoint.endpointId, entry);
    this.#monitor?.record(endpoint.endpointId);
    try {
      entry.backend = await createBackend(endpoint);
    } catch (e) {
      const err = fromSystemError(e, `${endpoint.endpointId}: create backend`);
      entry.createError = { code: err.code, message: err.message };
      this.#warn(`backend ${endpoint.endpointId} (${endpoint.type}) cannot be built: ${err.message}`, { endpointId: endpoint.endpointId });
      return;
    }
    // Tolerant: a backend that does not initialise now is probed (and re-initialised) every round.
    // Bounded so one hung target (an NVMe connect, a hard NFS mount) cannot hold up start().
    await withIoTimeout(entry.backend.init(), this.#config.failover.failoverTimeoutMs, `${endpoint.endpointId}: init`).catch((e: unknown) => {
      const err = fromSystemError(e, `${endpoint.endpointId}: init`);
      this.#warn(`backend ${endpoint.endpointId} did not initialise: ${err.message}`, { endpointId: endpoint.endpointId, code: err.code });
    });
  }

  // ---- active set ------------------------------------------------------------------------------

  #snapshot() {
    return selectionSnapshot(this.#entries.values(), this.#requireMonitor(), Date.now());
  }

  #emitActive(previous: string[], reason: string): ActiveChangedEvent | null {
    const current = [...this.#actives];
    if (previous.length === current.length && previous.every((id, i) => id === current[i])) return null;
    const ev: ActiveChangedEvent = { previous, current, reason };
    this.emit('active-changed', ev);
    return ev;
  }

  #swap(failedId: string, replacementId: string | null, reason: string): void {
    const previous = [...this.#actives];
    const i = this.#actives.indexOf(failedId);
    if (i < 0) return;
    if (replacementId === null) this.#actives.splice(i, 1);
    else this.#actives[i] = replacementId;
    this.#emitActive(previous, reason);
  }

  /** Full reselection (with hysteresis); warms up the newcomers; runs inside the queue. */
  async #reselect(reason: string): Promise<ActiveChangedEvent | null> {
    const result = selectActive(this.#snapshot(), this.#config.selection, {
      target: this.#config.targetActiveBackends,
      current: this.#actives,
      cursor: this.#cursor,
    });
    this.#cursor = result.nextCursor;
    for (const w of result.warnings) this.#warn(w, { reason });
    const next: string[] = [];
    for (const id of result.selected) {
      if (this.#actives.includes(id) || (await this.#tryWarmUp(id))) next.push(id);
    }
    const previous = [...this.#actives];
    const removed = previous.filter((id) => !next.includes(id));
    this.#actives = next;
    const ev = this.#emitActive(previous, reason);
    if (ev && previous.length > 0) this.#failover.stats.recordSwitch();
    for (const id of removed) this.#closeQuietly(id);
    if (next.length < result.selected.length) await this.#refill(`${reason}: refill after failed warm-up`);
    return ev;
  }

  /** Adds actives (never removes) until the target is met or no candidate warms up. */
  async #refill(reason: string): Promise<void> {
    const previous = [...this.#actives];
    const tried = new Set<string>();
    while (this.#actives.length < this.#config.targetActiveBackends) {
      const ranked = rankReplacements(this.#snapshot(), '', this.#actives, this.#config.selection, this.#cursor)
        .filter((id) => !tried.has(id));
      if (ranked.length === 0) break;
      const id = ranked[0]!;
      tried.add(id);
      if (await this.#tryWarmUp(id)) {
        this.#actives.push(id);
        if (this.#config.selection.algorithm === 'round_robin') this.#cursor++;
      }
    }
    if (this.#emitActive(previous, reason)) this.#failover.stats.recordSwitch();
  }

  async #tryWarmUp(id: string): Promise<boolean> {
    const b = this.#entries.get(id)?.backend;
    if (!b) return false;
    try {
      await warmUp(b);
      return true;
    } catch (e) {
      this.#warn(`warm-up of ${id} failed: ${(e as Error).message}`, { endpointId: id, code: isXdbmError(e) ? e.code : undefined });
      return false;
    }
  }

  #closeQuietly(id: string): void {
    this.#entries.get(id)?.backend?.close().catch(() => undefined);
  }

  #onTransition(id: string, t: Transition, reason: string): void {
    this.emit('state-changed', { endpointId: id, from: t.from, to: t.to, reason });
    if (!this.#actives.includes(id)) return;
    if (t.becameFailed) this.#failActive(id, reason);
    // A fail-slow active loses preference: rescore now rather than at the next manual reselection.
    else if (t.to === 'DEGRADED' && t.record.failSlow && this.#state === 'running') {
      void this.triggerReselection(`fail-slow: ${id}`).catch(() => undefined);
    }
  }

  #failActive(id: string, reason: string): void {
    if (!this.#config.failover.enableAutoFailover) {
      this.#warn(`active backend ${id} FAILED (${reason}) and automatic failover is off`, { endpointId: id });
      return;
    }
    this.#failover.enqueue({ failedId: id, reason: `auto: ${reason}`, manual: false })
      .then((r) => this.emit('failover', r), (e: unknown) => this.#warn(`failover of ${id} not run: ${String(e)}`));
  }

  #afterRound(): void {
    if (this.#state !== 'running' || this.#failover.queueLength > 0) return;
    if (this.#actives.length >= this.#config.targetActiveBackends) return;
    this.#failover.exclusive(() => this.#refill('refill: below target')).catch(() => undefined);
  }

  #warn(message: string, details?: Record<string, unknown>): void {
    this.emit('warning', { message, ...(details ? { details } : {}) } satisfies WarningEvent);
  }

  #requireMonitor(): HealthMonitor {
    if (!this.#monitor) throw new XdbmError(ErrorCode.NOT_STARTED, 'manager is not started');
    return this.#monitor;
  }

  #entry(id: string): EndpointEntry {
    const e = this.#entries.get(id);
    if (!e) throw new XdbmError(ErrorCode.UNKNOWN_ENDPOINT, `no backend '${id}' in the candidate pool`);
    return e;
  }

  // ---- queries ---------------------------------------------------------------------------------

  getActiveBackends(): ActiveBackendInfo[] {
    const m = this.#monitor;
    return this.#actives.map((id) => {
      const e = this.#entry(id);
      return { endpointId: id, nodeId: e.node.nodeId, type: e.endpoint.type, state: m?.record(id).health.state ?? 'UNKNOWN' };
    });
  }

  getActiveStorage(): StorageBackend[] {
    return this.#actives.map((id) => this.#entries.get(id)?.backend).filter((b): b is StorageBackend => b !== undefined);
  }

  getBackend(endpointId: string): StorageBackend | undefined {
    return this.#entries.get(endpointId)?.backend;
  }

  getCandidates(): CandidateStatus[] {
    const m = this.#requireMonitor();
    return [...this.#entries.values()].map((e) => candidateStatus(e, m, this.#config, this.#actives.includes(e.endpoint.endpointId)));
  }

  getBackendStatus(endpointId: string): BackendStatus {
    const e = this.#entry(endpointId);
    return backendStatus(e, this.#requireMonitor(), this.#config, this.#actives.includes(endpointId));
  }

  getStats(): ManagerStats {
    return managerStats({
      entries: [...this.#entries.keys()], monitor: this.#monitor, failover: this.#failover.stats, ops: this.#ops,
      activeCount: this.#actives.length, targetCount: this.#config.targetActiveBackends,
    });
  }

  // ---- operations ------------------------------------------------------------------------------

  async forceBackendSwitch(oldId: string, newId?: string): Promise<FailoverRecord> {
    this.#entry(oldId);
    if (!this.#actives.includes(oldId)) throw new XdbmError(ErrorCode.NOT_ACTIVE, `${oldId} is not an active backend`);
    if (newId !== undefined) {
      this.#entry(newId);
      if (this.#actives.includes(newId)) throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `${newId} is already active`);
    }
    const r = await this.#failover.enqueue({ failedId: oldId, replacementId: newId, reason: 'manual switch', manual: true });
    this.emit('failover', r);
    return r;
  }

  setBackendWeight(endpointId: string, weight: number): void {
    const e = this.#entry(endpointId);
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0 || weight > 1) {
      throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `weight must be a number in 0..1, got ${String(weight)}`);
    }
    e.endpoint.weight = weight;
    if (this.#state === 'running') void this.triggerReselection(`weight of ${endpointId} set to ${weight}`).catch(() => undefined);
  }

  async triggerReselection(reason: string): Promise<ActiveChangedEvent | null> {
    this.#requireMonitor();
    return this.#failover.exclusive(() => this.#reselect(reason));
  }

  reportDataPathError(endpointId: string, error: unknown): void {
    const e = this.#entry(endpointId);
    const err = fromSystemError(error, `${endpointId}: data path`);
    this.#ops.record(0, false);
    // A write racing a switch sees the replaced backend closed: not a fault of that backend.
    if (err.code === ErrorCode.CLOSED || !this.#monitor) return;
    const wasFailed = this.#monitor.record(endpointId).health.state === 'FAILED';
    this.#monitor.markFailed(e.endpoint.endpointId, err.code, err.message);
    if (wasFailed && this.#actives.includes(endpointId)) this.#failActive(endpointId, 'data-path');
  }

  /** Data-path operation outcome (the WAL calls this per replica write): feeds stats and the store. */
  recordDataPathOp(endpointId: string, latencyUs: number, ok: boolean, bytes = 0): void {
    this.#ops.record(latencyUs, ok);
    try { this.#store?.recordOp(endpointId, latencyUs, ok, bytes); } catch { /* not registered */ }
  }

  async openLog(name: string, opts?: ManagedLogOptions): Promise<ManagedLog> {
    const { openManagedLog } = await import('./wal/log.js');
    const log = await openManagedLog(this, name, opts);
    this.#logs.add(log);
    return log;
  }

  /** Replication of every log in the metadata store (under-replicated ranges by epoch). */
  logReplication(): Promise<LogReplicationView[]> {
    return this.#logs.replication();
  }

  // ---- configuration ---------------------------------------------------------------------------

  async reloadConfig(source?: string | ManagerConfig, opts: RemovalOptions = {}): Promise<ReloadResult> {
    const src = source ?? this.#config.sourcePath;
    if (src === undefined) throw new XdbmError(ErrorCode.CONFIG_INVALID, 'no configuration file to reload from');
    return this.#applyConfig(await resolveConfig(src), opts, 'reload');
  }

  async saveConfig(path: string): Promise<void> {
    const tmp = `${path}.tmp-${process.pid}`;
    try {
      await writeFile(tmp, configToYaml(this.#config), { mode: 0o644 });
      await rename(tmp, path);
    } catch (e) {
      throw fromSystemError(e, `saving configuration to ${path}`);
    }
  }

  async addCandidateNode(node: NodeConfig): Promise<void> {
    await this.#applyConfig(validateNodeAgainst(this.#config, node), {}, `adding node ${node.nodeId}`);
  }

  async removeCandidateNode(nodeId: string, opts: RemovalOptions = {}): Promise<void> {
    const node = this.#config.candidateNodes.find((n) => n.nodeId === nodeId);
    if (!node) throw new XdbmError(ErrorCode.UNKNOWN_NODE, `no candidate node '${nodeId}'`);
    // A drain takes the node's endpoints out of selection and out of the copies that count, so the
    // logs re-replicate what only they hold; the removal itself then passes the check below.
    if (opts.drain && !opts.force) for (const e of node.endpoints) this.setBackendWeight(e.endpointId, 0);
    const next = validateManagerConfig({ ...this.#config, candidateNodes: this.#config.candidateNodes.filter((n) => n.nodeId !== nodeId) });
    await this.#applyConfig(next, opts, `removing node ${nodeId}`);
  }

  async updateNodeConfig(nodeId: string, node: NodeConfig, opts: RemovalOptions = {}): Promise<void> {
    await this.#applyConfig(validateNodeAgainst(this.#config, node, { replacing: nodeId }), opts, `updating node ${nodeId}`);
  }

  /** Applies a validated config as a diff: untouched backends keep their state and metrics. */
  async #applyConfig(next: ManagerConfig, opts: RemovalOptions = {}, what = 'the configuration change'): Promise<ReloadResult> {
    if (next.sourcePath === undefined && this.#config.sourcePath !== undefined) next.sourcePath = this.#config.sourcePath;
    const d = diffConfig(this.#config, next);
    // Endpoints that go (or move: rebuilt) take their log copies with them: refuse if that leaves
    // acknowledged entries with fewer than ackQuorum counting copies (XDBM_DATA_AT_RISK).
    await this.#logs.checkRemoval([...d.removed, ...d.rebuilt], what, opts);
    const result = { added: d.added.concat(d.rebuilt), removed: d.removed.concat(d.rebuilt), changed: d.changed };
    if (this.#state === 'new') {
      this.#config = next; // nothing built yet: start() builds from this config
      return result;
    }
    if (this.#state === 'stopped') throw new XdbmError(ErrorCode.CLOSED, 'manager was stopped');
    const leaving = [...d.removed, ...d.rebuilt];
    leaving.forEach((id) => this.#leaving.add(id));
    try {
      // A leaving active is failed over first (queued: runs after what is already queued).
      for (const id of leaving.filter((x) => this.#actives.includes(x))) {
        const r = await this.#failover.enqueue({ failedId: id, reason: 'config: endpoint removed', manual: false });
        this.emit('failover', r);
      }
      const after = endpointsOf(next);
      await this.#failover.exclusive(async () => {
        const previous = [...this.#actives];
        this.#actives = this.#actives.filter((id) => !leaving.includes(id));
        this.#emitActive(previous, 'config: endpoint removed');
        for (const id of leaving) {
          await this.#entries.get(id)?.backend?.close().catch(() => undefined);
          this.#entries.delete(id);
          this.#monitor?.forget(id);
        }
        this.#config = next;
        // Weight, labels and node facts of kept endpoints come from the new config; backend and health stay.
        for (const [id, x] of after) {
          const e = this.#entries.get(id);
          if (e) { e.node = x.node; e.endpoint = x.endpoint; }
        }
        await Promise.all([...d.added, ...d.rebuilt].map((id) => this.#addEntry(after.get(id)!.node, after.get(id)!.endpoint)));
      });
    } finally {
      leaving.forEach((id) => this.#leaving.delete(id));
    }
    if (this.#state === 'running' && (d.selectionChanged || d.changed.length > 0)) {
      await this.triggerReselection('config reloaded');
    }
    return result;
  }
}
