/**
 * Latency histograms and counters the main thread keeps for `status` and
 * the logs. Recording is O(1) and allocation-free. Node's own HDR histogram
 * (perf_hooks) costs nothing to load, which matters for a daemon started on
 * its first connection.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/** Percentiles of one histogram, in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  /** Total of all recorded values (ms), exact: Prometheus summaries carry it. */
  readonly sum: number;
}

/**
 * Percentiles clamped to the maximum: HDR reports a bucket's upper edge,
 * which can lie above the largest value recorded (p99 383.231 vs max 383.15).
 */
export function clampToMax<T extends { p50: number; p90: number; p99: number; max: number }>(s: T): T {
  return { ...s, p50: Math.min(s.p50, s.max), p90: Math.min(s.p90, s.max), p99: Math.min(s.p99, s.max) };
}

/** A latency histogram recording microseconds, reported in milliseconds. */
export class Latency {
  // Microseconds, 1 µs to one hour, two significant digits.
  readonly #histogram: RecordableHistogram = createHistogram({ lowest: 1, highest: 3_600_000_000, figures: 2 });
  #count = 0;
  #sumUs = 0;
  // Exact: the histogram's own max is its bucket's upper edge.
  #maxUs = 0;

  record(ms: number): void {
    const us = Math.min(3_600_000_000, Math.max(1, Math.round(ms * 1000)));
    this.#histogram.record(us);
    this.#count++;
    this.#sumUs += us;
    if (us > this.#maxUs) this.#maxUs = us;
  }

  summary(): LatencySummary {
    const h = this.#histogram;
    const ms = (us: number): number => Math.round(us) / 1000;
    if (this.#count === 0) return { count: 0, p50: 0, p90: 0, p99: 0, max: 0, sum: 0 };
    return clampToMax({
      count: this.#count,
      p50: ms(h.percentile(50)),
      p90: ms(h.percentile(90)),
      p99: ms(h.percentile(99)),
      max: ms(this.#maxUs),
      sum: ms(this.#sumUs),
    });
  }
}
