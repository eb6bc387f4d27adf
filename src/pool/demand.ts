/**
 * Threads warm for the burst that comes. A quiet daemon keeps `quietThreads`
 * slow threads (what an idle daemon costs: docs/pool.md, "Idle memory"). A
 * call is a sign that more are coming (a session's first call, a socket
 * activation's first connection), so it counts as a demand of
 * `warmThreads`: the pool readies them (the slow feed boots them one at a
 * time, in the background), and they stay for the demand window after the
 * last call. Above that, as many slow
 * threads as were busy at once within the window stay; one idle thread
 * retires per period — minutes from a wide burst down to the quiet floor,
 * not all at once after one quiet spell. Counts only; the pool retires.
 */
import type { PoolOptions } from './options.js';

export class Demand {
  readonly #quietThreads: number;
  readonly #warmThreads: number;
  /** Retire periods in the demand window. */
  readonly #periods: number;
  /** The most slow threads wanted at once in each retire period of the demand window, newest last. */
  readonly #peaks: number[] = [];
  #peak = 0;

  constructor(opts: Pick<PoolOptions, 'quietThreads' | 'warmThreads' | 'retireEveryMs' | 'demandWindowMs'>) {
    this.#quietThreads = opts.quietThreads;
    this.#warmThreads = Math.max(opts.quietThreads, opts.warmThreads);
    this.#periods = Math.max(1, Math.ceil(opts.demandWindowMs / opts.retireEveryMs));
  }

  /** Slow threads busy now (after each change). */
  note(slowBusy: number): void {
    this.#peak = Math.max(this.#peak, slowBusy);
  }

  /**
   * A call came: the warm threads count as wanted in this period. True when
   * that raised the threads kept warm (the pool then readies them). One
   * comparison on every call but the first of a period.
   */
  expect(): boolean {
    if (this.#peak >= this.#warmThreads) return false;
    const before = this.keptWarm;
    this.#peak = this.#warmThreads;
    return this.#warmThreads > before;
  }

  /** Ends a retire period (`slowBusy`: busy now); returns how many slow threads to keep. */
  roll(slowBusy: number): number {
    this.#peaks.push(this.#peak);
    this.#peak = slowBusy;
    while (this.#peaks.length > this.#periods) this.#peaks.shift();
    return Math.max(this.#quietThreads, ...this.#peaks);
  }

  /** Slow threads kept warm now: the quiet floor, or the most wanted at once within the window. */
  get keptWarm(): number {
    return Math.max(this.#quietThreads, this.#peak, ...this.#peaks);
  }
}
