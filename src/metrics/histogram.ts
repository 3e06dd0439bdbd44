/**
 * Latency statistics: exact percentiles of one probe's samples, and the log2 bucket histogram kept in
 * the metrics SharedArrayBuffer (bucket rule in layout.ts HISTOGRAM_BUCKETS).
 */
import { HISTOGRAM_BUCKETS } from './layout.js';

/** log2 bucket of a latency: 0 for < 2 us, i for [2^i, 2^(i+1)) us, capped at the last bucket. */
export function bucketOf(latencyUs: number): number {
  if (!(latencyUs >= 2)) return 0;
  const b = Math.floor(Math.log2(latencyUs));
  return b >= HISTOGRAM_BUCKETS - 1 ? HISTOGRAM_BUCKETS - 1 : b;
}

/** Lower bound of a bucket in microseconds. */
export function bucketLowUs(bucket: number): number {
  return bucket === 0 ? 0 : 2 ** bucket;
}

/**
 * Percentile (0 < q <= 1) estimated from bucket counts, interpolating linearly inside the bucket.
 * Returns 0 when the histogram is empty.
 */
export function percentileFromBuckets(counts: ArrayLike<number>, q: number): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total === 0) return 0;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (c > 0 && seen + c >= rank) {
      const low = bucketLowUs(i);
      const high = i === 0 ? 2 : 2 ** (i + 1);
      return low + ((rank - seen) / c) * (high - low);
    }
    seen += c;
  }
  return bucketLowUs(counts.length - 1);
}

/** Nearest-rank percentile of an ascending-sorted array (0 when empty). */
export function percentileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx]!;
}

export interface LatencySummary {
  count: number;
  avgLatencyUs: number;
  p50LatencyUs: number;
  p99LatencyUs: number;
  maxLatencyUs: number;
}

/** Average, p50, p99 and max of latency samples in microseconds (does not modify the input). */
export function summarizeLatencies(samplesUs: ArrayLike<number>): LatencySummary {
  const n = samplesUs.length;
  if (n === 0) return { count: 0, avgLatencyUs: 0, p50LatencyUs: 0, p99LatencyUs: 0, maxLatencyUs: 0 };
  const sorted = Float64Array.from(samplesUs).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  return {
    count: n,
    avgLatencyUs: sum / n,
    p50LatencyUs: percentileSorted(sorted, 0.5),
    p99LatencyUs: percentileSorted(sorted, 0.99),
    maxLatencyUs: sorted[n - 1]!,
  };
}
