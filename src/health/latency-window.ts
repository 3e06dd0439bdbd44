/**
 * Recent latency samples per backend and source, and the robust statistics the fail-slow rule uses.
 * A backend is judged on the median of its last `windowSamples` samples, not on one probe: one probe
 * that ran while the file system committed its journal, or while the host was busy, moves a median of
 * several by nothing.
 *
 * Sources are kept apart because their latencies are not comparable with one another: a basic probe
 * (small write, read, delete), a performance probe (100 durable 4 KiB writes) and the log's own
 * replica writes each have their own scale. Peers are only ever compared within one source.
 */

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median absolute deviation around `center` (unscaled). */
export function mad(values: readonly number[], center = median(values)): number {
  return median(values.map((v) => Math.abs(v - center)));
}

/** MAD x this estimates the standard deviation of normally distributed values. */
export const MAD_TO_SIGMA = 1.4826;

export interface LatencyWindowOptions {
  /** Samples kept per backend and source (default 7). */
  windowSamples?: number;
  /** Samples needed before a backend has a level at all (default 4). */
  minSamples?: number;
}

/**
 * 7: a median of 7 ignores up to 3 odd samples (a round's first positions twice in a window, plus one
 * real outlier), and a step change still shows after 4 samples, so with 2 rounds of hysteresis a real
 * slowdown is flagged in its 5th round.
 */
export const DEFAULT_WINDOW_SAMPLES = 7;
export const DEFAULT_MIN_SAMPLES = 4;

export class LatencyWindows {
  readonly windowSamples: number;
  readonly minSamples: number;
  /** source -> endpointId -> samples, oldest first. */
  readonly #bySource = new Map<string, Map<string, number[]>>();

  constructor(opts: LatencyWindowOptions = {}) {
    this.windowSamples = Math.max(1, opts.windowSamples ?? DEFAULT_WINDOW_SAMPLES);
    this.minSamples = Math.min(this.windowSamples, Math.max(1, opts.minSamples ?? DEFAULT_MIN_SAMPLES));
  }

  add(source: string, endpointId: string, latencyUs: number): void {
    if (!Number.isFinite(latencyUs) || latencyUs <= 0) return;
    let m = this.#bySource.get(source);
    if (!m) this.#bySource.set(source, (m = new Map()));
    let w = m.get(endpointId);
    if (!w) m.set(endpointId, (w = []));
    w.push(latencyUs);
    if (w.length > this.windowSamples) w.splice(0, w.length - this.windowSamples);
  }

  /** Median of the backend's window, or 0 while it has fewer than minSamples samples. */
  level(source: string, endpointId: string): number {
    const w = this.#bySource.get(source)?.get(endpointId);
    return w && w.length >= this.minSamples ? median(w) : 0;
  }

  sources(): string[] {
    return [...this.#bySource.keys()];
  }

  samples(source: string, endpointId: string): readonly number[] {
    return this.#bySource.get(source)?.get(endpointId) ?? [];
  }

  /** Drops the backend's samples (removed, or back from FAILED: old samples describe another device state). */
  forget(endpointId: string): void {
    for (const m of this.#bySource.values()) m.delete(endpointId);
  }
}
