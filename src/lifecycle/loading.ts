/**
 * The start's wait for the dispatch module: bounded by
 * --dispatch-load-timeout-ms, and called off by a stop asked for meanwhile
 * (a SIGTERM while threads boot must not wait for them).
 */
import { within } from './within.js';

/** The start was called off (a stop was asked for) before the dispatch module had loaded. */
export class StartAbortedError extends Error {
  override get name(): string {
    return 'StartAbortedError';
  }
}

/** Throws StartAbortedError with `message` if a stop has been asked for. */
export function throwIfStopAsked(signal: AbortSignal | undefined, message: string): void {
  if (signal?.aborted === true) throw new StartAbortedError(message);
}

/** Settles when `signal` aborts (never, without one). */
function aborted(signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return new Promise(() => {});
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** Resolves once the module has loaded; rejects with its load error, on the bound, or with StartAbortedError. */
export async function moduleLoaded(ready: Promise<unknown>, signal: AbortSignal | undefined, timeoutMs: number): Promise<void> {
  ready.catch(() => {}); // a load that outlives its bound is abandoned below
  if (!(await within(Promise.race([ready, aborted(signal)]), timeoutMs))) {
    throw new Error(`the dispatch module did not load within ${timeoutMs} ms (--dispatch-load-timeout-ms)`);
  }
  throwIfStopAsked(signal, 'stopped while the dispatch module was loading');
  await ready; // the module's own load error, if it failed
}
