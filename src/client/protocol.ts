/**
 * The admin protocol spoken on the daemon's Unix socket: newline-delimited JSON.
 *   request  {"id": 1, "method": "active", "params": {...}}
 *   response {"id": 1, "result": ...}  or  {"id": 1, "error": {"code": "XDBM_...", "message": "...", "details": {...}}}
 * One request per line; a connection may carry many; responses come back in request order.
 */
import type { LogReplicationView } from '../wal/replication-status.js';
import type { AlertRuleState } from '../alerts/evaluator.js';
import type { MonitoringMetrics } from '../alerts/monitoring.js';
import type {
  ActiveChangedEvent,
  BackendStatus,
  CandidateStatus,
  FailoverRecord,
  ManagerStats,
  ReloadResult,
} from '../manager-api.js';
import type { ActiveBackendInfo, EndpointMetrics } from '../types.js';

/** Longest accepted line, request or response (a config file fits easily). */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;

export interface ActiveView extends ActiveBackendInfo {
  nodeAddress: string;
  weight: number;
  score: number;
  metrics: EndpointMetrics;
}

export interface StatsView {
  stats: ManagerStats;
  monitoring: MonitoringMetrics;
  uptimeS: number;
  configPath: string | null;
  pid: number;
  /** Most recent failovers, newest last. */
  recentFailovers: FailoverRecord[];
  /** Replication of every log in the metadata store, as of the last refresh (a few seconds old at most). */
  wal?: LogReplicationView[];
}

export interface AlertsView {
  rules: AlertRuleState[];
  firing: AlertRuleState[];
}

export interface ValidateView {
  ok: true;
  nodes: number;
  endpoints: number;
  alertRules: number;
}

/** params and result of each method. */
export interface AdminMethods {
  candidates: { params: Record<string, never>; result: CandidateStatus[] };
  active: { params: Record<string, never>; result: ActiveView[] };
  failover: { params: { failedId: string; replacementId?: string }; result: FailoverRecord };
  reload: { params: { file?: string }; result: { file: string; applied: ReloadResult } };
  weight: { params: { id: string; weight: number }; result: { endpointId: string; weight: number } };
  reselect: { params: { reason?: string }; result: { change: ActiveChangedEvent | null; active: ActiveBackendInfo[] } };
  status: { params: { id: string }; result: BackendStatus };
  stats: { params: Record<string, never>; result: StatsView };
  alerts: { params: Record<string, never>; result: AlertsView };
  nodesAdd: { params: { yamlText?: string; sourceName?: string; node?: unknown }; result: { nodeId: string; endpoints: string[] } };
  nodesRemove: { params: { nodeId: string; drain?: boolean; force?: boolean }; result: { nodeId: string; drained: boolean; forced: boolean } };
  logs: { params: Record<string, never>; result: LogReplicationView[] };
  validate: { params: { yamlText: string; sourceName?: string }; result: ValidateView };
  metrics: { params: Record<string, never>; result: { contentType: string; text: string } };
}

export type AdminMethod = keyof AdminMethods;
export const ADMIN_METHODS: readonly AdminMethod[] = [
  'candidates', 'active', 'failover', 'reload', 'weight', 'reselect', 'status', 'stats', 'alerts',
  'nodesAdd', 'nodesRemove', 'validate', 'metrics', 'logs',
];

export interface AdminRequest {
  id: number | string;
  method: string;
  params?: Record<string, unknown>;
}

export interface AdminErrorBody {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export type AdminResponse =
  | { id: number | string | null; result: unknown }
  | { id: number | string | null; error: AdminErrorBody };
