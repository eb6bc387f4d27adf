/**
 * What the pool counts for `status` (SPEC §8): calls, batches, waits and run
 * times, and how busy its threads were. Plain counters; the pool decides.
 */
import { performance } from 'node:perf_hooks';
import { Latency, type LatencySummary } from '../observability/metrics.js';
import type { LanesStatus, MethodStatus } from './lanes.js';

export type { LanesStatus, MethodStatus };

/** `status.pool` (a part of the status reply, `lifecycle/status-reply.ts`). */
export interface PoolStats {
  /**
   * The dispatch module: still loading (calls wait for it), loaded, failing
   * (loaded, but new threads fail to load it: they retire and calls run on
   * threads that loaded), or failed (it never loaded: calls get its error).
   */
  readonly module: 'loading' | 'loaded' | 'failing' | 'failed';
  readonly threads_loaded: number;
  readonly load_failures: number;
  readonly load_failures_in_a_row: number;
  readonly last_load_error: string | null;
  readonly last_load_error_at: string | null;
  /** Threads inside guarded native code (guardNative) right now. */
  readonly threads_in_native: number;
  /** Reloads of the dispatch module that took effect, and those that failed (nothing changed). */
  readonly reloads: number;
  readonly reload_failures: number;
  readonly last_reload_error: string | null;
  /** Sets of threads a reload replaced that still finish calls they hold. */
  readonly replaced_runners_finishing: number;
  /** Threads that retired after a task by --recycle-calls / --recycle-heap-mb (replaced on demand). */
  readonly recycled_after_calls: number;
  readonly recycled_heap: number;
  readonly threads: number;
  /** Threads running now. */
  readonly threads_started: number;
  /** Threads started since the daemon began. */
  readonly threads_created: number;
  /** Threads retired because recent demand no longer needed them (one per --thread-idle-ms). */
  readonly threads_retired_idle: number;
  /** Slow threads kept warm now: the floor, or the most busy at once within the demand window. */
  readonly threads_kept_warm: number;
  readonly slow_threads: number;
  readonly fast_threads: number;
  readonly cpu_threads: number;
  readonly running: number;
  readonly running_cpu: number;
  readonly running_wait: number;
  readonly queue_size: number;
  readonly queued_fast: number;
  readonly queued_slow: number;
  readonly held_new: number;
  readonly max_queue: number;
  readonly utilization: number;
  readonly completed: number;
  readonly failed: number;
  readonly rejected: number;
  readonly requeued: number;
  readonly deadline_kills: number;
  readonly batches: number;
  readonly avg_batch: number;
  readonly wait_ms: LatencySummary;
  readonly run_ms: LatencySummary;
  readonly lanes: LanesStatus;
}

export class PoolCounters {
  completed = 0;
  failed = 0;
  rejected = 0;
  requeued = 0;
  kills = 0;
  #batches = 0;
  #batchedCalls = 0;
  #busyMs = 0;
  readonly #startedAt = performance.now();
  readonly wait = new Latency();
  readonly run = new Latency();

  batch(calls: number): void {
    this.#batches++;
    this.#batchedCalls += calls;
  }

  busy(ms: number): void {
    this.#busyMs += ms;
  }

  /** The counters' part of PoolStats; `threads` is the capacity utilisation is measured against. */
  summary(threads: number): Pick<PoolStats, 'utilization' | 'completed' | 'failed' | 'rejected' | 'requeued' | 'deadline_kills' | 'batches' | 'avg_batch' | 'wait_ms' | 'run_ms'> {
    const elapsed = performance.now() - this.#startedAt;
    return {
      utilization: elapsed > 0 ? Math.round((this.#busyMs / (elapsed * threads)) * 1000) / 1000 : 0,
      completed: this.completed,
      failed: this.failed,
      rejected: this.rejected,
      requeued: this.requeued,
      deadline_kills: this.kills,
      batches: this.#batches,
      avg_batch: this.#batches > 0 ? Math.round((this.#batchedCalls / this.#batches) * 100) / 100 : 0,
      wait_ms: this.wait.summary(),
      run_ms: this.run.summary(),
    };
  }
}
