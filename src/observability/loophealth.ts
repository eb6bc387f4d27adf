/**
 * The main thread's event-loop health for `status` (SPEC §8): how busy the
 * loop was and how late its timers ran, over the time since the previous
 * reading. Started by the first reading, so importing this starts nothing.
 */
import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';

export interface EventLoopHealth {
  /** Share of wall time the loop spent running code (0–1) since the previous reading. */
  readonly utilization: number;
  /** 99th percentile and worst lateness of a 10 ms-resolution timer since the previous reading. */
  readonly delay_p99_ms: number;
  readonly delay_max_ms: number;
}

let histogram: IntervalHistogram | null = null;
let since: EventLoopUtilization | null = null;

const ms = (ns: number): number => Math.round(ns / 1e4) / 100;

/** One reading; each resets the window the next one covers. */
export function eventLoopHealth(): EventLoopHealth {
  if (histogram === null) {
    histogram = monitorEventLoopDelay({ resolution: 10 });
    histogram.enable();
  }
  const now = performance.eventLoopUtilization();
  const window = since === null ? now : performance.eventLoopUtilization(now, since);
  since = now;
  const reading = {
    utilization: Math.round(window.utilization * 1000) / 1000,
    delay_p99_ms: histogram.count > 0 ? ms(histogram.percentile(99)) : 0,
    delay_max_ms: histogram.count > 0 ? ms(histogram.max) : 0,
  };
  histogram.reset();
  return reading;
}
