/**
 * Admin method table: checks params, calls the manager or the daemon's helpers, returns plain JSON.
 * Used by the Unix-socket admin server and by the HTTP /api routes alike.
 */
import type { AlertsView, ActiveView, AdminMethods, StatsView, ValidateView } from '../client/protocol.js';
import type { NodeConfig } from '../config/types.js';
import { ErrorCode, XdbmError } from '../errors.js';
import type { BackendManagerApi, ReloadResult } from '../manager-api.js';

export interface DaemonContext {
  manager(): BackendManagerApi;
  reload(file?: string): Promise<{ file: string; applied: ReloadResult }>;
  validateText(yamlText: string, sourceName: string): ValidateView;
  parseNode(yamlText: string, sourceName: string): NodeConfig;
  alerts(): AlertsView;
  stats(): StatsView;
  metricsText(): Promise<{ contentType: string; text: string }>;
}

function str(params: Record<string, unknown>, key: string, what: string): string {
  const v = params[key];
  if (typeof v !== 'string' || v.trim() === '') {
    throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `${what} is required (param "${key}", a non-empty string)`, { details: { param: key } });
  }
  return v;
}

function optStr(params: Record<string, unknown>, key: string): string | undefined {
  const v = params[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') {
    throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `param "${key}" must be a string`, { details: { param: key } });
  }
  return v === '' ? undefined : v;
}

export function activeView(m: BackendManagerApi): ActiveView[] {
  return m.getActiveBackends().map((a) => {
    const st = m.getBackendStatus(a.endpointId);
    return { ...a, nodeAddress: st.nodeAddress, weight: st.weight, score: st.score, metrics: { ...st.metrics } };
  });
}

type Handler = (params: Record<string, unknown>) => Promise<unknown> | unknown;

export function makeDispatch(ctx: DaemonContext): (method: string, params: Record<string, unknown>) => Promise<unknown> {
  const table: { [M in keyof AdminMethods]: Handler } = {
    candidates: () => ctx.manager().getCandidates(),
    active: () => activeView(ctx.manager()),
    failover: (p) => {
      const failedId = str(p, 'failedId', 'the failed backend id');
      const replacementId = optStr(p, 'replacementId');
      return ctx.manager().forceBackendSwitch(failedId, replacementId);
    },
    reload: (p) => ctx.reload(optStr(p, 'file')),
    weight: (p) => {
      const id = str(p, 'id', 'the backend id');
      const w = p.weight;
      if (typeof w !== 'number' || !Number.isFinite(w) || w < 0 || w > 1) {
        throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `weight must be a number from 0 to 1, got ${JSON.stringify(w)}`, { details: { param: 'weight' } });
      }
      ctx.manager().setBackendWeight(id, w);
      return { endpointId: id, weight: w };
    },
    reselect: async (p) => {
      const reason = optStr(p, 'reason') ?? 'manual reselection (xdbm reselect)';
      const change = await ctx.manager().triggerReselection(reason);
      return { change, active: ctx.manager().getActiveBackends() };
    },
    status: (p) => ctx.manager().getBackendStatus(str(p, 'id', 'the backend id')),
    stats: () => ctx.stats(),
    alerts: () => ctx.alerts(),
    nodesAdd: async (p) => {
      let node: NodeConfig;
      if (typeof p.yamlText === 'string') {
        node = ctx.parseNode(p.yamlText, optStr(p, 'sourceName') ?? 'node.yaml');
      } else if (p.node && typeof p.node === 'object') {
        // A structured node goes through the same YAML validation path, so it is checked the same way.
        node = ctx.parseNode(JSON.stringify(p.node), 'node (json)');
      } else {
        throw new XdbmError(ErrorCode.INVALID_ARGUMENT, 'nodesAdd needs "yamlText" (a node in YAML) or "node"');
      }
      await ctx.manager().addCandidateNode(node);
      return { nodeId: node.nodeId, endpoints: node.endpoints.map((e) => e.endpointId) };
    },
    nodesRemove: async (p) => {
      const nodeId = str(p, 'nodeId', 'the node id');
      const drain = p.drain === true;
      const force = p.force === true;
      await ctx.manager().removeCandidateNode(nodeId, { drain, force });
      return { nodeId, drained: drain, forced: force };
    },
    logs: () => ctx.manager().logReplication(),
    validate: (p) => {
      const text = p.yamlText;
      if (typeof text !== 'string') throw new XdbmError(ErrorCode.INVALID_ARGUMENT, 'validate needs "yamlText" (the config file text)');
      return ctx.validateText(text, optStr(p, 'sourceName') ?? 'config.yaml');
    },
    metrics: () => ctx.metricsText(),
  };
  return async (method, params) => {
    const h = Object.prototype.hasOwnProperty.call(table, method) ? table[method as keyof AdminMethods] : undefined;
    if (!h) {
      throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `unknown admin method '${method}' (known: ${Object.keys(table).join(', ')})`, {
        details: { method },
      });
    }
    return h(params);
  };
}
