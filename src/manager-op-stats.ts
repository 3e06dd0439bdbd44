/** Data-path operation counters (seed 2.2 stats: successful/failed operations, avg and p99 latency). */
export const OP_LATENCY_WINDOW = 4096;

export class OperationStats {
  successfulOperations = 0;
  failedOperations = 0;
  readonly #latenciesUs: number[] = [];
  #next = 0;

  record(latencyUs: number, ok: boolean): void {
    if (!ok) {
      this.failedOperations++;
      return;
    }
    this.successfulOperations++;
    if (this.#latenciesUs.length < OP_LATENCY_WINDOW) this.#latenciesUs.push(latencyUs);
    else this.#latenciesUs[this.#next] = latencyUs;
    this.#next = (this.#next + 1) % OP_LATENCY_WINDOW;
  }

  /** Average and p99 over the last OP_LATENCY_WINDOW successful operations. */
  latency(): { avgOperationLatencyUs: number; p99OperationLatencyUs: number } {
    const n = this.#latenciesUs.length;
    if (n === 0) return { avgOperationLatencyUs: 0, p99OperationLatencyUs: 0 };
    const sorted = [...this.#latenciesUs].sort((a, b) => a - b);
    return {
      avgOperationLatencyUs: sorted.reduce((a, b) => a + b, 0) / n,
      p99OperationLatencyUs: sorted[Math.min(n - 1, Math.ceil(0.99 * n) - 1)]!,
    };
  }
}
