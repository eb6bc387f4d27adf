/**
 * What the pool knows of its threads' module loads, from the threads' own
 * news: which threads have the module loaded, and the failures in a row
 * since one last loaded. A failure is a fact about one thread (it retires
 * by itself): calls it was given run elsewhere. While failures are recent,
 * the pool runs no more tasks at once than threads that loaded, plus one
 * retry per backoff period — so a module that fails to load does not spin
 * up thread after thread — and only when loading has failed everywhere for
 * `verdictMs` do calls fail with the load error.
 */
import type { ThreadNews } from '../contract/contract.js';

/** After the n-th failure in a row, the next retry waits this long (ms). */
function retryDelayMs(failuresInARow: number): number {
  return Math.min(2000, 25 * 2 ** Math.min(7, Math.max(0, failuresInARow - 1)));
}

export interface LoadSummary {
  /** Threads whose module loaded and that are still running. */
  readonly threads_loaded: number;
  readonly load_failures: number;
  /** Failed loads since a thread last loaded the module. */
  readonly load_failures_in_a_row: number;
  readonly last_load_error: string | null;
  readonly last_load_error_at: string | null;
}

export class LoadHealth {
  readonly #verdictMs: number;
  readonly #loaded = new Set<number>();
  #failures = 0;
  #inARow = 0;
  #lastError: string | null = null;
  #lastErrorAt = 0;
  /** The last failure, on the performance clock. */
  #lastFailedAt = 0;
  /** When the failures in a row began (ms, performance clock); undefined: none. */
  #failingSince: number | undefined;

  constructor(verdictMs: number) {
    this.#verdictMs = verdictMs;
  }

  /** Takes a thread's news (`now`: performance clock). */
  onNews(news: ThreadNews, now: number): void {
    if (news.thread === 'loaded') {
      this.#loaded.add(news.id);
      this.#inARow = 0;
      this.#failingSince = undefined;
    } else if (news.thread === 'failed') {
      this.#failures++;
      this.#inARow++;
      this.#lastError = news.error ?? 'unknown error';
      this.#lastErrorAt = Date.now();
      this.#lastFailedAt = now;
      this.#failingSince ??= now;
    } else this.#loaded.delete(news.id);
  }

  /** Forgets loaded threads not among `live` (a stopped Worker's id can read -1 by the time its end is reported). */
  keepOnly(live: ReadonlySet<number>): void {
    for (const id of this.#loaded) if (!live.has(id)) this.#loaded.delete(id);
  }

  /** Failed loads since a thread last loaded. */
  get failing(): boolean {
    return this.#inARow > 0;
  }

  get lastError(): string | null {
    return this.#lastError;
  }

  /** When, on the performance clock, the next load may be tried (meaningful while failing). */
  retryAt(now: number): number {
    return this.#inARow === 0 ? now : this.#lastFailedAt + retryDelayMs(this.#inARow);
  }

  /** How many tasks may run at once now: unbounded while loads succeed. */
  cap(now: number): number {
    if (this.#inARow === 0) return Number.POSITIVE_INFINITY;
    return this.#loaded.size + (now >= this.retryAt(now) ? 1 : 0);
  }

  /** The error calls get when loading has failed everywhere for long enough; undefined: keep trying. */
  verdict(now: number): string | undefined {
    if (this.#loaded.size > 0 || this.#failingSince === undefined || now - this.#failingSince < this.#verdictMs) return undefined;
    return this.#lastError ?? undefined;
  }

  summary(): LoadSummary {
    return {
      threads_loaded: this.#loaded.size,
      load_failures: this.#failures,
      load_failures_in_a_row: this.#inARow,
      last_load_error: this.#lastError,
      last_load_error_at: this.#lastError === null ? null : new Date(this.#lastErrorAt).toISOString(),
    };
  }
}
