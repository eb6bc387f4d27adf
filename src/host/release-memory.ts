/**
 * Gives back to the system what an idle daemon holds but no longer uses
 * (docs/pool.md, "Idle memory after use"). Two things keep it, measured
 * after 8 000 calls and a quiet spell (159 MiB on Node 20 against 75 fresh):
 *   - V8 collects garbage when allocation asks for it, never because the
 *     process went quiet: the main thread's heap keeps what the last burst
 *     left (heap_used 39 MiB, 8 MiB of it live). A full collection frees it.
 *   - glibc keeps what threads freed in its per-thread arenas: threads that
 *     retired leave their arenas' memory mapped. `malloc_trim(0)` returns
 *     the free pages of every arena.
 * Both together: 82 MiB. Node offers no call for either without a flag:
 * the collector is the host's own `gc` when it was started with
 * --expose-gc, else one from a context made while the flag is set (the flag
 * is cleared again at once); malloc_trim comes through koffi, which the lock
 * already loads. Where libc has no malloc_trim (macOS, musl) only the
 * collection runs. Both are bound on the first release, not at start.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { libc } from './koffi.js';

/** V8 12+ (Node 22+) knows gc({ flavor: 'last-resort' }). */
const LAST_RESORT = Number(process.versions.v8.split('.')[0]) >= 12;

/** V8's collector: `gc()`, or `gc(options)` where V8 knows them. */
type Collect = (opts?: object) => void;

export interface Released {
  /** Resident set before and after (bytes). */
  readonly rssBefore: number;
  readonly rssAfter: number;
  /** How long the main thread spent (ms). */
  readonly ms: number;
}

/** glibc's malloc_trim, or undefined where libc has none (or koffi cannot load: the lock would have failed first). */
function bindMallocTrim(): ((pad: number) => number) | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const trim = libc('int malloc_trim(size_t pad)');
    return (pad) => trim(pad) as number;
  } catch {
    return undefined;
  }
}

/** V8's full collection without starting node with --expose-gc (undefined if V8 refuses). */
function bindCollector(): Collect | undefined {
  const own = (globalThis as { gc?: unknown }).gc;
  if (typeof own === 'function') return own as Collect;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as Collect) : undefined;
  } catch {
    return undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

/** Returns the release: call it when the daemon is quiet (it pauses the main thread for a full collection, ~5-30 ms). */
export function memoryRelease(): () => Released {
  let bound: { collect: Collect | undefined; trim: ((pad: number) => number) | undefined } | undefined;
  return () => {
    bound ??= { collect: bindCollector(), trim: bindMallocTrim() };
    const t0 = performance.now();
    const rssBefore = process.memoryUsage.rss();
    // last-resort: V8 also frees the pages the collection emptied now, not with its memory reducer 8 s
    // later (Node 22: 136 → 95 MiB at once). V8 11 (Node 20) reads any object as "minor": a bare call there.
    if (LAST_RESORT) bound.collect?.({ type: 'major', flavor: 'last-resort' });
    else bound.collect?.();
    bound.trim?.(0);
    return { rssBefore, rssAfter: process.memoryUsage.rss(), ms: performance.now() - t0 };
  };
}
