/**
 * Threads warm for the burst that comes: as many slow threads as were busy
 * at once within the demand window stay; above that, one idle thread
 * retires per period — minutes from a wide burst down to the warm floor,
 * not all at once after one quiet spell. Counts only; the pool retires.
 */
import type { PoolOptions } from './options.js';

export class Demand {
  readonly #warmThreads: number;
  /** Retire periods in the demand window. */
  readonly #periods: number;
  /** The most slow threads busy at once in each retire period of the demand window, newest last. */
  readonly #peaks: number[] = [];
  #peak = 0;

  constructor(opts: Pick<PoolOptions, 'warmThreads' | 'retireEveryMs' | 'demandWindowMs'>) {
    this.#warmThreads = opts.warmThreads;
    this.#periods = Math.max(1, Math.ceil(opts.demandWindowMs / opts.retireEveryMs));
  }

  /** Slow threads busy now (after each change). */
  note(slowBusy: number): void {
    this.#peak = Math.max(this.#peak, slowBusy);
  }

  /** Ends a retire period (`slowBusy`: busy now); returns how many slow threads to keep. */
  roll(slowBusy: number): number {
    this.#peaks.push(this.#peak);
    this.#peak = slowBusy;
    while (this.#peaks.length > this.#periods) this.#peaks.shift();
    return Math.max(this.#warmThreads, ...this.#peaks);
  }

  /** Slow threads kept warm now: the floor, or the most busy at once within the window. */
  get keptWarm(): number {
    return Math.max(this.#warmThreads, this.#peak, ...this.#peaks);
  }
}
