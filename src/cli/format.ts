/**
 * Human output of the CLI: the seed 6.2 tables (same headings and column order, widths grown to fit)
 * and key/value blocks. Pure functions of the admin results; `--json` bypasses all of this.
 */
import type { AlertsView, ActiveView, StatsView } from '../client/protocol.js';
import type { BackendStatus, CandidateStatus, FailoverRecord } from '../manager-api.js';

export interface Column {
  header: string;
  /** Seed printf width (%-12s): the minimum; longer values widen the column. */
  minWidth: number;
  align?: 'left' | 'right';
}

export function table(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.minWidth, c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (columns[i]!.align === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join(' ')
      .trimEnd();
  const head = line(columns.map((c) => c.header));
  const rule = '='.repeat(Math.max(64, head.length));
  return [head, rule, ...rows.map(line)].join('\n');
}

export function kv(pairs: readonly [string, string | number | boolean | null | undefined][]): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${(k + ':').padEnd(w + 1)} ${v === undefined || v === null ? '-' : String(v)}`).join('\n');
}

const fixed = (n: number, d = 2): string => (Number.isFinite(n) ? n.toFixed(d) : '-');
const int = (n: number): string => (Number.isFinite(n) ? String(Math.round(n)) : '-');
export const iso = (ms: number): string => (ms > 0 ? new Date(ms).toISOString() : '-');

export function formatCandidates(list: readonly CandidateStatus[]): string {
  const rows = list.map((c) => [c.nodeId, c.nodeAddress, c.endpointId, c.type, c.state, c.active ? 'yes' : '', fixed(c.weight), fixed(c.score, 3)]);
  return 'Candidate Backend Nodes:\n' + table(
    [
      { header: 'NODE_ID', minWidth: 12 },
      { header: 'ADDRESS', minWidth: 15 },
      { header: 'ENDPOINT_ID', minWidth: 12 },
      { header: 'TYPE', minWidth: 10 },
      { header: 'STATUS', minWidth: 12 },
      { header: 'ACTIVE', minWidth: 6 },
      { header: 'WEIGHT', minWidth: 6, align: 'right' },
      { header: 'SCORE', minWidth: 6, align: 'right' },
    ],
    rows,
  );
}

export function formatActive(list: readonly ActiveView[]): string {
  const rows = list.map((a) => [
    a.endpointId,
    a.type,
    int(a.metrics.avgLatencyUs),
    int(a.metrics.bandwidthMBps),
    `${fixed(a.metrics.load * 100)}%`,
    a.nodeId,
    a.state,
  ]);
  return 'Active Backend Pool:\n' + table(
    [
      { header: 'ENDPOINT_ID', minWidth: 12 },
      { header: 'TYPE', minWidth: 10 },
      { header: 'LATENCY_US', minWidth: 12 },
      { header: 'BANDWIDTH', minWidth: 12 },
      { header: 'LOAD', minWidth: 8 },
      { header: 'NODE_ID', minWidth: 12 },
      { header: 'STATE', minWidth: 10 },
    ],
    rows,
  );
}

export function formatFailover(r: FailoverRecord): string {
  const to = r.replacementId ?? 'none';
  if (r.ok) return `Failover done: ${r.failedId} -> ${to} in ${int(r.durationMs)} ms (${r.reason})`;
  const why = r.error ? `${r.error.message} [${r.error.code}]` : 'unknown reason';
  return `Failover FAILED: ${r.failedId} -> ${to} after ${int(r.durationMs)} ms: ${why}`;
}

export function formatStatus(s: BackendStatus): string {
  const m = s.metrics;
  const pairs: [string, string | number | boolean | null | undefined][] = [
    ['endpoint', s.endpointId],
    ['node', `${s.nodeId} (${s.nodeAddress})`],
    ['type', s.type],
    ['connection', s.connectionString],
    ['state', s.state + (s.failSlow ? ' (fail-slow)' : '')],
    ['active', s.active ? 'yes' : 'no'],
    ['weight', fixed(s.weight)],
    ['score', fixed(s.score, 3)],
    ['failure domain', s.domain],
    ['avg latency us', int(m.avgLatencyUs)],
    ['p50 latency us', int(m.p50LatencyUs)],
    ['p99 latency us', int(m.p99LatencyUs)],
    ['bandwidth MB/s', fixed(m.bandwidthMBps, 1)],
    ['iops', int(m.iops)],
    ['error rate', fixed(m.errorRate, 4)],
    ['load', `${fixed(m.load * 100)}%`],
    ['metrics updated', iso(m.lastUpdateMs)],
    ['consecutive failures', s.consecutiveFailures],
    ['consecutive successes', s.consecutiveSuccesses],
    ['decayed errors', fixed(s.decayedErrors, 2)],
    ['flaps', s.flapCount],
    ['hold-down until', iso(s.holdDownUntilMs)],
    ['last health check', iso(s.lastHealthCheckMs)],
  ];
  if (s.lastError) pairs.push(['last error', `${s.lastError.message} [${s.lastError.code}] at ${iso(s.lastError.atMs)}`]);
  return `Backend ${s.endpointId}:\n` + kv(pairs);
}

export function formatStats(v: StatsView): string {
  const s = v.stats;
  const m = v.monitoring;
  const out = [
    'Manager Statistics:',
    kv([
      ['active backends', `${s.activeCount} / ${s.targetCount}`],
      ['overall availability', `${fixed(m.overall_availability * 100, 1)}%`],
      ['healthy / total backends', `${m.healthy_backend_count} / ${m.total_backend_count}`],
      ['health summary', `healthy ${s.healthy}, degraded ${s.degraded}, unhealthy ${s.unhealthy}, failed ${s.failed}, unknown ${s.unknown}`],
      ['operations ok / failed', `${s.successfulOperations} / ${s.failedOperations}`],
      ['operations per second', fixed(m.operations_per_second, 1)],
      ['avg operation latency us', int(s.avgOperationLatencyUs)],
      ['p99 operation latency us', int(s.p99OperationLatencyUs)],
      ['failovers (last hour)', `${s.failoverCount} (${s.failoversLastHour})`],
      ['failed failovers', s.failedFailovers],
      ['backend switches', s.backendSwitches],
      ['avg / p99 failover ms', `${int(s.avgFailoverTimeMs)} / ${int(s.p99FailoverTimeMs)}`],
      ['health checks (failed)', `${s.totalChecks} (${s.failedChecks})`],
      ['last full scan ms', int(s.lastFullScanMs)],
      ['uptime s', v.uptimeS],
      ['config', v.configPath],
      ['daemon pid', v.pid],
    ]),
  ];
  if (v.recentFailovers.length > 0) {
    out.push('', 'Recent failovers:');
    out.push(table(
      [
        { header: 'TIME', minWidth: 24 },
        { header: 'FAILED', minWidth: 12 },
        { header: 'REPLACEMENT', minWidth: 12 },
        { header: 'OK', minWidth: 3 },
        { header: 'MS', minWidth: 6, align: 'right' },
        { header: 'REASON', minWidth: 10 },
      ],
      v.recentFailovers.map((r) => [iso(r.startedAtMs), r.failedId, r.replacementId ?? '-', r.ok ? 'yes' : 'NO', int(r.durationMs), r.reason]),
    ));
  }
  return out.join('\n');
}

export function formatAlerts(v: AlertsView): string {
  const rows = v.rules.map((r) => [
    r.ruleName,
    r.severity,
    !r.enabled ? 'disabled' : r.firing ? 'FIRING' : r.lastError ? 'error' : 'ok',
    `${r.consecutive}/${r.consecutiveThreshold}`,
    `${r.evaluationIntervalSec}s`,
    r.firing ? iso(r.firingSinceMs) : '-',
    r.condition,
  ]);
  const head = v.firing.length === 0 ? 'No alerts firing.' : `${v.firing.length} alert(s) firing:`;
  return `${head}\nAlert Rules:\n` + table(
    [
      { header: 'RULE', minWidth: 22 },
      { header: 'SEVERITY', minWidth: 8 },
      { header: 'STATE', minWidth: 8 },
      { header: 'CONSEC', minWidth: 6 },
      { header: 'EVERY', minWidth: 5 },
      { header: 'SINCE', minWidth: 24 },
      { header: 'CONDITION', minWidth: 10 },
    ],
    rows,
  );
}

/** One line per config issue: `file:line:col path: message`. */
export function formatIssues(issues: readonly { path?: string; message: string; line?: number; column?: number }[], sourceName?: string): string[] {
  return issues.map((i) => {
    const where = i.line !== undefined ? `${sourceName ?? '<config>'}:${i.line}:${i.column ?? 1} ` : sourceName ? `${sourceName} ` : '';
    return `${where}${i.path ? `${i.path}: ` : ''}${i.message}`;
  });
}
