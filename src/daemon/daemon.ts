/**
 * The xdbm daemon: owns one BackendManager and serves the admin protocol on a Unix socket (mode 0600),
 * optionally HTTP (/metrics, dashboard, read-only /api) on loopback; evaluates alert rules; reloads
 * its config on `xdbm reload`, SIGHUP and file change; stops cleanly on SIGTERM/SIGINT.
 */
import type { AlertsView, StatsView } from '../client/protocol.js';
import { AlertEvaluator, type AlertTransition } from '../alerts/evaluator.js';
import { MonitoringSampler, metricValues, toMonitoringMetrics, type MonitoringMetrics } from '../alerts/monitoring.js';
import type { ManagerConfig } from '../config/types.js';
import { ErrorCode, XdbmError, isXdbmError } from '../errors.js';
import type { BackendManagerApi, BackendStatus } from '../manager-api.js';
import { XdbmPromMetrics } from '../prom/registry.js';
import type { LogReplicationView } from '../wal/replication-status.js';
import { AdminServer } from './admin-server.js';
import { defaultConfigPath, issuesOf, loadWhole, parseNode, parseWhole } from './config-source.js';
import { activeView, makeDispatch, type DaemonContext } from './handlers.js';
import { OpsHistory } from './history.js';
import { OpsHttpServer, parseHostPort } from './http-server.js';
import { createLogger, type Logger } from './logger.js';
import { ReloadController } from './reload.js';

export type ManagerFactory = (cfg: ManagerConfig) => Promise<BackendManagerApi>;

export interface DaemonOptions {
  /** Config file; default config/default.yaml of the package. */
  configPath?: string;
  /** Admin socket; default XDBM_SOCKET, then admin.socket_path of the config. */
  socketPath?: string;
  /** `HOST:PORT`; `false` disables HTTP; default admin.http of the config, else 127.0.0.1:9464. */
  http?: string | false;
  tokenFile?: string;
  /** How often alert rules are checked for being due and history is sampled (default 1000 ms). */
  tickMs?: number;
  /** Debounce of the config file watch (default 300 ms); 0 disables the watch. */
  watchDebounceMs?: number;
  logger?: Logger;
  managerFactory?: ManagerFactory;
  /** Lines for humans (where the socket and dashboard are); default stdout. */
  print?: (line: string) => void;
}

export const DEFAULT_HTTP = '127.0.0.1:9464';
/** How often the daemon reads the logs' metadata for under-replicated ranges. */
const WAL_REFRESH_MS = 5000;
/** Under-replicated this long fires WalUnderReplicated (re-replication of a lost member is minutes at most). */
const WAL_ALERT_AFTER_MS = 60_000;

const MUTATING = new Set(['failover', 'reload', 'weight', 'reselect', 'nodesAdd', 'nodesRemove']);

/** Request params for the log, without file contents. */
function auditParams(params: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) out[k] = typeof v === 'string' && v.length > 200 ? `<${v.length} chars>` : v;
  return out;
}

async function openManager(cfg: ManagerConfig): Promise<BackendManagerApi> {
  // CORE's src/manager.ts; imported when the daemon starts so the admin client and CLI never load it.
  const spec: string = '../manager.js';
  const mod = (await import(spec)) as { BackendManager: { open(c: ManagerConfig): Promise<BackendManagerApi> } };
  const m = await mod.BackendManager.open(cfg);
  await m.start();
  return m;
}

export class XdbmDaemon {
  readonly log: Logger;
  readonly history = new OpsHistory();
  readonly prom = new XdbmPromMetrics({ processMetrics: true });
  #manager!: BackendManagerApi;
  #evaluator = new AlertEvaluator();
  #sampler = new MonitoringSampler();
  #monitoring?: MonitoringMetrics;
  /** Replication of the logs in the metadata store, refreshed every WAL_REFRESH_MS by the tick. */
  #wal: LogReplicationView[] = [];
  #walRefreshing = false;
  #walRefreshedAtMs = 0;
  /** Since when some log has under-replicated entries (0: none), and whether its alert fired. */
  #walUnderSinceMs = 0;
  #walAlertFiring = false;
  #admin?: AdminServer;
  #http?: OpsHttpServer;
  #reload?: ReloadController;
  #timer?: NodeJS.Timeout;
  #startedAtMs = Date.now();
  #stopping?: Promise<void>;
  #opts: DaemonOptions;
  #dispatch?: ReturnType<typeof makeDispatch>;
  #httpSkipped?: string;

  private constructor(opts: DaemonOptions) {
    this.#opts = opts;
    this.log = opts.logger ?? createLogger();
  }

  get socketPath(): string | undefined {
    return this.#admin?.socketPath;
  }
  get httpUrl(): string | undefined {
    return this.#http?.url;
  }
  get manager(): BackendManagerApi {
    return this.#manager;
  }

  static async start(opts: DaemonOptions = {}): Promise<XdbmDaemon> {
    const d = new XdbmDaemon(opts);
    try {
      await d.#start();
    } catch (e) {
      await d.stop('startup failed').catch(() => undefined);
      throw e;
    }
    return d;
  }

  async #start(): Promise<void> {
    const opts = this.#opts;
    const configPath = opts.configPath ?? defaultConfigPath();
    const cfg = await loadWhole(configPath);
    this.log.info({ configPath, nodes: cfg.candidateNodes.length }, 'config loaded');
    // HTTP settings are checked before the manager starts, so a refused host has no side effects.
    const httpSpec = opts.http ?? (cfg.admin.http ? `${cfg.admin.http.host}:${cfg.admin.http.port}` : DEFAULT_HTTP);
    const httpServer = httpSpec === false ? undefined : this.#makeHttp(httpSpec, opts.tokenFile ?? cfg.admin.tokenFile);
    this.#evaluator.setRules(cfg.alerts);

    // The socket comes first: a second daemon on the same socket stops here, before it starts probing.
    const ctx = this.#context();
    const dispatch = makeDispatch(ctx);
    const socketPath = opts.socketPath || process.env['XDBM_SOCKET'] || cfg.admin.socketPath;
    this.#admin = new AdminServer({
      socketPath,
      dispatch: async (method, params) => {
        // Changes are logged at info (an audit trail for the operator); reads at debug.
        if (MUTATING.has(method)) this.log.info({ method, params: auditParams(params) }, 'admin request');
        else this.log.debug({ method }, 'admin request');
        return dispatch(method, params);
      },
      onError: (method, err) => this.log.warn({ method, code: err.code, error: err.message }, 'admin request failed'),
    });
    await this.#admin.listen();

    this.#manager = await (opts.managerFactory ?? openManager)(cfg);
    this.#wireManagerEvents();

    this.#reload = new ReloadController({
      file: configPath,
      load: (f) => loadWhole(f),
      apply: async (next) => {
        const result = await this.#manager.reloadConfig(next);
        this.#evaluator.setRules(next.alerts);
        const old = cfg.admin;
        if (next.admin.socketPath !== old.socketPath || JSON.stringify(next.admin.http) !== JSON.stringify(old.http)) {
          this.log.warn('admin.socket_path / admin.http changes take effect at the next daemon restart');
        }
        return result;
      },
      onApplied: (file, r, trigger) => {
        const summary = `+${r.added.length} -${r.removed.length} ~${r.changed.length}`;
        this.history.reload(true, file, summary, Date.now());
        this.log.info({ file, trigger, added: r.added, removed: r.removed, changed: r.changed }, 'config reloaded');
      },
      onRejected: (file, err, trigger) => {
        const issues = issuesOf(err);
        this.history.reload(false, file, `${issues.length} issue(s)`, Date.now());
        this.log.error({ file, trigger, code: isXdbmError(err) ? err.code : undefined, issues }, 'config reload rejected; the running config stays');
      },
    });
    const debounce = opts.watchDebounceMs ?? 300;
    if (debounce > 0) this.#reload.watch(debounce);

    if (httpServer) await this.#startHttp(httpServer, dispatch, opts.http !== undefined);

    this.#tick();
    this.#timer = setInterval(() => this.#tick(), opts.tickMs ?? 1000);
    const print = opts.print ?? ((l: string) => process.stdout.write(l + '\n'));
    print(`xdbm daemon running (pid ${process.pid})`);
    print(`  config:    ${configPath}`);
    print(`  socket:    ${this.#admin.socketPath} (mode 0600)`);
    if (this.#http) {
      const access = this.#http.tokenRequired ? 'bearer token required for /api' : 'loopback only, no token: any local user can read it';
      print(`  dashboard: ${this.#http.url} (${access})`);
      print(`  metrics:   ${this.#http.url}metrics`);
    } else {
      print(`  http:      off${this.#httpSkipped ? ` (${this.#httpSkipped} in use; give --http HOST:PORT)` : ''}`);
    }
    this.log.info({ socketPath: this.#admin.socketPath, http: this.#http?.url ?? null }, 'daemon ready');
  }

  #makeHttp(spec: string, tokenFile: string | undefined): OpsHttpServer {
    const { host, port } = parseHostPort(spec);
    return new OpsHttpServer({
      host,
      port,
      tokenFile,
      metrics: () => this.#metricsText(),
      state: () => this.dashboardState(),
      dispatch: (method, params) => this.#dispatch!(method, params),
    });
  }

  async #startHttp(server: OpsHttpServer, dispatch: ReturnType<typeof makeDispatch>, explicit: boolean): Promise<void> {
    this.#dispatch = dispatch;
    try {
      await server.listen();
      this.#http = server;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // The default port being taken must not keep the manager down at 3 a.m.; an explicit one must.
      if (!explicit && code === 'EADDRINUSE') {
        this.log.warn(`HTTP address ${server.address} in use: running without HTTP (give --http HOST:PORT)`);
        this.#httpSkipped = server.address;
        return;
      }
      throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `cannot listen on http://${server.address}: ${(e as Error).message}`, { syscallCode: code, cause: e });
    }
  }

  #wireManagerEvents(): void {
    const m = this.#manager;
    m.on('failover', (r) => {
      this.history.failover(r);
      const level = r.ok ? 'warn' : 'error';
      this.log[level]({ failedId: r.failedId, replacementId: r.replacementId, reason: r.reason, manual: r.manual, ok: r.ok, durationMs: r.durationMs, error: r.error }, 'failover');
    });
    m.on('active-changed', (e) => {
      this.history.activeChanged(e, Date.now());
      this.log.info({ previous: e.previous, current: e.current, reason: e.reason }, 'active set changed');
    });
    m.on('state-changed', (e) => {
      this.history.stateChanged(e, Date.now());
      this.log.info({ endpointId: e.endpointId, from: e.from, to: e.to, reason: e.reason }, 'backend state changed');
    });
    const anyOn = m as unknown as { on(ev: string, fn: (w: unknown) => void): unknown };
    anyOn.on('warning', (w) => this.log.warn({ warning: w }, 'manager warning'));
  }

  #backends(): BackendStatus[] {
    const out: BackendStatus[] = [];
    for (const c of this.#manager.getCandidates()) {
      try {
        out.push(this.#manager.getBackendStatus(c.endpointId));
      } catch {
        /* removed between the two calls */
      }
    }
    return out;
  }

  #tick(): void {
    if (!this.#manager) return;
    try {
      const now = Date.now();
      const stats = this.#manager.getStats();
      this.#monitoring = this.#sampler.sample(stats, now);
      const transitions = this.#evaluator.tick(now, metricValues(this.#monitoring));
      for (const t of transitions) this.#logAlert(t);
      if (now - this.#walRefreshedAtMs >= WAL_REFRESH_MS) this.#refreshWal(now);
      const backends = this.#backends();
      this.history.sampleLatency(backends, now);
      this.prom.update({ monitoring: this.#monitoring, stats, backends, alerts: this.#evaluator.states() });
    } catch (e) {
      this.log.error({ err: e }, 'periodic tick failed');
    }
  }

  /**
   * Reads the logs' metadata (async, one refresh at a time) and drives the built-in
   * WalUnderReplicated alert: firing once some log stayed under-replicated for WAL_ALERT_AFTER_MS
   * (re-replication normally finishes well within it), resolved when every log is back to ackQuorum.
   */
  #refreshWal(now: number): void {
    if (this.#walRefreshing || !this.#manager) return;
    this.#walRefreshing = true;
    this.#walRefreshedAtMs = now;
    void this.#manager.logReplication().then((views) => {
      this.#wal = views;
      this.prom.updateWal(views);
      const under = views.reduce((n, v) => n + v.underReplicatedEntries, 0);
      const t = Date.now();
      if (under > 0 && this.#walUnderSinceMs === 0) this.#walUnderSinceMs = t;
      if (under === 0) this.#walUnderSinceMs = 0;
      const firing = under > 0 && t - this.#walUnderSinceMs >= WAL_ALERT_AFTER_MS;
      if (firing !== this.#walAlertFiring) {
        this.#walAlertFiring = firing;
        const values: Record<string, number> = { wal_under_replicated_entries: under };
        for (const v of views) if (v.underReplicatedEntries > 0) values[`wal_under_replicated_entries{log=${v.log}}`] = v.underReplicatedEntries;
        this.#logAlert({
          kind: firing ? 'firing' : 'resolved', ruleName: 'WalUnderReplicated', severity: 'critical',
          condition: `wal_under_replicated_entries > 0 for ${WAL_ALERT_AFTER_MS / 1000} s`, values, atMs: t,
        });
      }
    }, (e: unknown) => this.log.warn({ err: e }, 'reading the logs\' replication from the metadata store failed'))
      .finally(() => { this.#walRefreshing = false; });
  }

  #logAlert(t: AlertTransition): void {
    this.history.alert(t);
    const fields = { rule: t.ruleName, severity: t.severity, condition: t.condition, values: t.values };
    if (t.kind === 'firing') {
      if (t.severity === 'critical') this.log.error(fields, `ALERT firing: ${t.ruleName}`);
      else this.log.warn(fields, `ALERT firing: ${t.ruleName}`);
    } else this.log.info(fields, `alert resolved: ${t.ruleName}`);
  }

  async #metricsText(): Promise<{ contentType: string; text: string }> {
    // A scrape sees the manager as it is now; only the ops rate comes from the last tick's window.
    const stats = this.#manager.getStats();
    const monitoring = toMonitoringMetrics(stats, this.#monitoring?.operations_per_second ?? 0);
    this.prom.update({ monitoring, stats, backends: this.#backends(), alerts: this.#evaluator.states() });
    return { contentType: this.prom.contentType, text: await this.prom.text() };
  }

  statsView(): StatsView {
    const stats = this.#manager.getStats();
    return {
      stats,
      monitoring: this.#monitoring ?? toMonitoringMetrics(stats, 0),
      uptimeS: Math.round((Date.now() - this.#startedAtMs) / 1000),
      configPath: this.#reload?.file ?? null,
      pid: process.pid,
      recentFailovers: this.history.recentFailovers(),
      wal: this.#wal,
    };
  }

  alertsView(): AlertsView {
    return { rules: this.#evaluator.states(), firing: this.#evaluator.firing() };
  }

  dashboardState(): unknown {
    return {
      nowMs: Date.now(),
      active: activeView(this.#manager),
      candidates: this.#manager.getCandidates(),
      stats: this.statsView(),
      alerts: this.alertsView(),
      latency: this.history.latency(),
      wal: this.#wal,
      timeline: this.history.timeline(),
    };
  }

  #context(): DaemonContext {
    return {
      manager: () => {
        if (!this.#manager) throw new XdbmError(ErrorCode.NOT_STARTED, 'the daemon is still starting its backend manager; try again in a moment');
        return this.#manager;
      },
      reload: (file) => {
        if (!this.#reload) throw new XdbmError(ErrorCode.NOT_STARTED, 'daemon is still starting');
        return this.#reload.reload(file, 'admin');
      },
      validateText: (text, sourceName) => {
        const cfg = parseWhole(text, sourceName);
        return {
          ok: true,
          nodes: cfg.candidateNodes.length,
          endpoints: cfg.candidateNodes.reduce((n, node) => n + node.endpoints.length, 0),
          alertRules: cfg.alerts.length,
        };
      },
      parseNode: (text, sourceName) => parseNode(text, sourceName),
      alerts: () => this.alertsView(),
      stats: () => this.statsView(),
      metricsText: () => this.#metricsText(),
    };
  }

  /** SIGHUP: reload the current file; errors are logged by the controller. */
  reloadFromSignal(): void {
    this.#reload?.reload(undefined, 'SIGHUP').catch(() => undefined);
  }

  stop(reason = 'stop'): Promise<void> {
    this.#stopping ??= (async () => {
      this.log.info({ reason }, 'daemon stopping');
      clearInterval(this.#timer);
      this.#reload?.close();
      await this.#http?.close().catch((e) => this.log.error({ err: e }, 'closing HTTP failed'));
      await this.#admin?.close().catch((e) => this.log.error({ err: e }, 'closing the admin socket failed'));
      if (this.#manager) await this.#manager.stop().catch((e) => this.log.error({ err: e }, 'manager stop failed'));
      this.log.info('daemon stopped');
    })();
    return this.#stopping;
  }
}
