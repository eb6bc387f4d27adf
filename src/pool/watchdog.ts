/**
 * The pool's watchdog: deadlines per call, and fast batches stuck behind a
 * call that turned slow. It only looks at the progress record and says what
 * it saw; the pool stops the call or takes the rest of the batch back.
 * Runs only while some batch needs watching.
 */
import { performance } from 'node:perf_hooks';
import { Slot } from '../contract/contract.js';
import type { Batch, Job } from './batch.js';
import type { PoolOptions } from './options.js';

/** What the watchdog asks of the pool. */
export interface Watched {
  /** The batches that may still run. */
  batches(): Iterable<Batch>;
  /** Answers the calls of `batch` whose results wait in the arena. */
  readArena(batch: Batch): void;
  /** Call i of `batch` overran its deadline. */
  kill(batch: Batch, i: number): void;
  /** Calls of `batch` not yet started, to run elsewhere. */
  requeue(batch: Batch, jobs: Job[]): void;
  /** After each look. */
  checked(): void;
}

export class Watchdog {
  readonly #opts: Pick<PoolOptions, 'deadlineMs' | 'laneThresholdMs'>;
  readonly #pool: Watched;
  #watch: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(opts: Pick<PoolOptions, 'deadlineMs' | 'laneThresholdMs'>, pool: Watched) {
    this.#opts = opts;
    this.#pool = pool;
  }

  /** Starts watching (if not already); it stops by itself once nothing needs it. */
  start(): void {
    if (this.#watch !== undefined || this.#stopped) return;
    const { deadlineMs, laneThresholdMs } = this.#opts;
    const every = Math.max(2, Math.min(50, deadlineMs > 0 ? deadlineMs / 5 : 50, Math.max(laneThresholdMs, 4) / 2));
    this.#watch = setInterval(() => this.#check(), every);
    this.#watch.unref();
  }

  /** For good: the pool is stopping. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#watch);
    this.#watch = undefined;
  }

  /** Deadlines and batches stuck behind a call that turned slow. */
  #check(): void {
    const { deadlineMs, laneThresholdMs } = this.#opts;
    const now = performance.timeOrigin + performance.now();
    let watched = 0;
    for (const batch of this.#pool.batches()) {
      if (batch.settled) continue;
      if (deadlineMs === 0 && batch.slot !== 'fast') continue;
      watched++;
      // Results of a batch held up by a slow call are read while it runs.
      if (batch.jobs.length > 1) this.#pool.readArena(batch);
      for (let i = 0; i < batch.jobs.length; i++) {
        if (batch.state(i) !== Slot.Running) continue;
        const started = batch.startedAtMs(i);
        if (started === 0) break; // just won the slot; its start time is being written
        const ran = now - started;
        if (deadlineMs > 0 && ran > deadlineMs) this.#pool.kill(batch, i);
        else if (ran > laneThresholdMs && i + 1 < batch.jobs.length) this.#pool.requeue(batch, batch.withdrawFrom(i + 1));
        break;
      }
    }
    if (watched === 0 && this.#watch !== undefined) {
      clearInterval(this.#watch);
      this.#watch = undefined;
    }
    this.#pool.checked();
  }
}
