/**
 * Latency histograms and counters the main thread keeps for `status` and
 * the logs. Recording is O(1) and allocation-free.
 */
import * as hdr from 'hdr-histogram-js';

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
  readonly #h = hdr.build({ bitBucketSize: 32, lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 2 });

  #sumUs = 0;

  record(ms: number): void {
    const us = Math.max(1, Math.round(ms * 1000));
    this.#h.recordValue(us);
    this.#sumUs += us;
  }

  summary(): LatencySummary {
    const h = this.#h;
    const ms = (us: number): number => Math.round(us) / 1000;
    return clampToMax({
      count: h.totalCount,
      p50: ms(h.getValueAtPercentile(50)),
      p90: ms(h.getValueAtPercentile(90)),
      p99: ms(h.getValueAtPercentile(99)),
      max: ms(h.maxValue),
      sum: ms(this.#sumUs),
    });
  }
}
