/**
 * What a reload needs besides the pool's own state: the wait for the new
 * threads' module (bounded), and the counts `status` shows. Reloads asked
 * for while one runs share it. The pool swaps the runners.
 */
import type { PingReply } from '../contract/contract.js';
import type { ReloadReport } from './options.js';
import type { Runner } from './runner.js';

/** The lanes `next`'s module declares once it has loaded; rejects with its load error, or if that takes longer than `timeoutMs`. */
export async function loaded(next: Runner, timeoutMs: number): Promise<PingReply['lanes']> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the module did not load within ${timeoutMs} ms`)), timeoutMs);
    });
    return (await Promise.race([next.ready, late])).lanes;
  } finally {
    clearTimeout(timer);
  }
}

/** Reloads that took effect, those that failed, and the one running now. */
export class Reloads {
  #count = 0;
  #failures = 0;
  #lastError: string | null = null;
  #running: Promise<ReloadReport> | undefined;

  /** Runs `reload` unless one runs already; then shares that one. */
  share(reload: () => Promise<ReloadReport>): Promise<ReloadReport> {
    this.#running ??= reload().finally(() => (this.#running = undefined));
    return this.#running;
  }

  /** One more took effect; returns the count. */
  succeeded(): number {
    return ++this.#count;
  }

  failed(err: unknown): void {
    this.#failures++;
    this.#lastError = err instanceof Error ? err.message : String(err);
  }

  get count(): number {
    return this.#count;
  }

  get failures(): number {
    return this.#failures;
  }

  get lastError(): string | null {
    return this.#lastError;
  }
}
