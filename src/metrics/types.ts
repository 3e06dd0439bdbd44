/**
 * Per-endpoint metrics as the main thread sees them. The production store keeps them in a
 * SharedArrayBuffer (src/metrics/layout.ts names every offset) written by workers with Atomics,
 * so scoring reads a snapshot without message passing.
 */
import type { EndpointMetrics, HealthState } from '../types.js';

export interface MetricsStore {
  /** Reserve (or find) the slot of an endpoint; returns its slot index. */
  register(endpointId: string): number;
  release(endpointId: string): void;
  slotOf(endpointId: string): number | undefined;
  /** Consistent copy of one endpoint's metrics. */
  snapshot(endpointId: string): EndpointMetrics;
  /** Record one data-path or probe operation outcome from the main thread. */
  recordOp(endpointId: string, latencyUs: number, ok: boolean, bytes: number): void;
  setState(endpointId: string, state: HealthState): void;
  /** The SharedArrayBuffer to hand to workers (absent for non-shared stores). */
  readonly buffer?: SharedArrayBuffer;
}
