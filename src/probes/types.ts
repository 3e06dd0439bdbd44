/**
 * What a probe returns and who runs it. The Piscina pool (src/probes/pool.ts, workers/probe-worker.ts)
 * is the production runner; any ProbeRunner can be injected into BackendManager.
 */
import type { ProbeTarget } from '../backends/backend.js';
import type { ProbeKind } from '../types.js';

export interface ProbeErrorInfo {
  code: string;
  message: string;
  errno?: number;
}

export interface ProbeResult {
  endpointId: string;
  kind: ProbeKind;
  /** True when the probe passed its checks (seed: result == 0). */
  ok: boolean;
  /** Operations attempted and failed. */
  ops: number;
  errors: number;
  errorRate: number;
  avgLatencyUs: number;
  p50LatencyUs: number;
  p99LatencyUs: number;
  bandwidthMBps: number;
  iops: number;
  durationMs: number;
  /** Why it failed (first error), when it did. */
  error?: ProbeErrorInfo;
  /** Backend-specific facts gathered by a full probe (NVMe: controller, ANA, SMART). */
  health?: Record<string, unknown>;
  /** Date.now() when the probe finished. */
  finishedAtMs: number;
  /**
   * Time between the request and the probe's first I/O: pool queueing and worker wake-up,
   * microseconds. Says how busy this process is; never part of the latency figures above.
   */
  queueUs?: number;
}

export interface ProbeOptions {
  /** Deadline; past it the probe resolves as a failure with code XDBM_PROBE_TIMEOUT. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Stress probe: queue depth and duration. */
  queueDepth?: number;
  durationMs?: number;
  /** Full probe: backend health facts gathered on the main thread (StorageBackend.healthInfo(): NVMe controller, ANA, SMART). */
  health?: Record<string, unknown>;
}

export interface ProbeRunner {
  /**
   * Runs one probe. Never rejects for a backend fault: a failed, hung or crashed probe resolves with
   * ok=false and an error code (XDBM_PROBE_TIMEOUT, XDBM_WORKER_CRASHED, XDBM_IO_ERROR, ...).
   * Rejects with XDBM_PROBE_BUSY when a probe of the same endpoint is still in flight.
   */
  run(target: ProbeTarget, kind: ProbeKind, opts: ProbeOptions): Promise<ProbeResult>;
  close(): Promise<void>;
  /** Probes that can run at once (a pool's threads); the monitor caps heavy probes by it. */
  readonly concurrency?: number;
  /** Probes waiting for a free worker now (a backlog is a sign of local overload). */
  readonly queuedProbes?: number;
}
