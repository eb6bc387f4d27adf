/**
 * The contract between the main thread and the workers: what a task carries,
 * what comes back, and the layout of a batch's shared progress record. Both
 * sides import this module (and `errors.ts`) and nothing else of each other,
 * so folders import in one direction: `workers/` → `src/contract`.
 *
 * Holds only types and the few constants that define the shared layout.
 */
import type { WireError } from './errors.js';

/** A set of threads a module may declare for a method: the fast reserve or the slow threads (src/pool/lanes.ts). */
export type Lane = 'fast' | 'slow';

/**
 * SQLite bindings the built-in store can use (`--store-binding`, passed in
 * the store module's URL); `auto` is node:sqlite where the running Node has
 * it, else better-sqlite3.
 */
export const STORE_BINDINGS = ['auto', 'node:sqlite', 'better-sqlite3'] as const;
export type StoreBinding = (typeof STORE_BINDINGS)[number];

/** A dispatch module (SPEC §5) as a worker holds it once loaded: lanes filled in. Authors write `DispatchModule` (src/module.ts). */
export interface LoadedModule {
  readonly dispatch: (method: string, params: unknown) => unknown;
  readonly maintain?: (ctx: unknown) => unknown;
  readonly lanes: Readonly<Record<string, Lane>>;
}

/** One call as it travels to a worker. */
export interface Call {
  readonly method: string;
  /** The params as JSON source text; parsed in the worker, inside the call's own fate. */
  readonly params: string;
  /** Measure this call's CPU time (slow calls only: it costs a /proc read). */
  readonly measure: boolean;
}

export type Task =
  /**
   * Calls run in order. Call i's progress is slot `base + i` of the pool's
   * shared record (`Progress`), tagged with generation `gen`; each result is
   * posted as a `CallResult` as soon as its call finishes, except the last,
   * which is the task's value.
   */
  | {
      readonly op: 'calls';
      readonly batch: number;
      readonly calls: readonly Call[];
      readonly base: number;
      /** The pool's region this task holds (its slots start at `base`). */
      readonly region: number;
      readonly gen: number;
      /** The batch's byte range of the results arena: [start, end). */
      readonly arena: readonly [number, number];
      readonly maxResultBytes: number;
    }
  | { readonly op: 'maintain'; readonly ctx: unknown; readonly maxResultBytes: number }
  /** Loads the module (if not yet) and reports its declared lanes. */
  | { readonly op: 'ping' }
  /** Sent to start a thread ahead of a burst (piscina starts one for a task that finds none idle): no answer; a thread whose module failed exits. */
  | { readonly op: 'warm' }
  /** The thread retires: it exits once this task is received (an idle thread, not needed by recent demand). */
  | { readonly op: 'retire' };

/**
 * The pool's progress record, shared with every worker once (at its start),
 * so no task carries shared memory. One slot per call in flight:
 * `states[k]` is `gen << 3 | Slot`, `starts[k]` the call's start time (ms
 * since the epoch, performance.timeOrigin + performance.now(), written by the
 * worker after it wins Queued → Running; 0 until then). The generation tag
 * means a thread stopped late can never touch a slot reused by a later batch.
 */
export interface Progress {
  readonly states: SharedArrayBuffer;
  readonly starts: SharedArrayBuffer;
  /**
   * Per slot, two Float64: where a result's JSON starts in the arena, and
   * the call's run time.
   */
  readonly results: SharedArrayBuffer;
  /**
   * Per slot, one Int32, published with Atomics.store after the state turned
   * Done and the bytes were written: the result's length in the arena; -1:
   * it travels as a message; -2: not published yet.
   */
  readonly lengths: SharedArrayBuffer;
  /** Results of calls that finished, as UTF-8 JSON, so none is lost with its thread. */
  readonly arena: SharedArrayBuffer;
  /**
   * Native guards (`guardNative`): per guard slot, two Int32 — its state
   * (`Guard`) and the thread id that holds it. A thread takes a slot as it
   * starts and the main thread frees it when the thread is gone.
   */
  readonly guards: SharedArrayBuffer;
  /** Per region (one running task each), the guard slot + 1 of the thread running it; 0: none. */
  readonly runners: SharedArrayBuffer;
}

/**
 * States of a thread's guard slot. Every change is a compare-and-swap:
 *   Free → Js (thread, as it starts)          Js ⇄ Native (thread, around guardNative)
 *   Js → Stopping (main: safe to terminate now; the thread never enters native code again)
 *   Native → StopWanted (main) → Stopping (thread, as it leaves native code; it then exits)
 *   any → Free (main, once the thread is gone)
 * Terminating a thread inside native code can abort the whole process
 * (an addon building a value in a terminating isolate), hence the handshake.
 */
export const Guard = {
  Free: 0,
  Js: 1,
  Native: 2,
  StopWanted: 3,
  Stopping: 4,
} as const;

/** Int32 entries per guard slot in `Progress.guards`: state, thread id. */
export const GUARD_FIELDS = 2;

/** Float64 entries per slot in `Progress.results`. */
export const RESULT_FIELDS = 2;
/** `Progress.lengths` values that are not lengths. */
export const BY_MESSAGE = -1;
export const UNPUBLISHED = -2;

/**
 * Tells the main thread that results of `batch` are waiting in the arena
 * (sent at most every fraction of a millisecond, so results travel in
 * groups); the results themselves never depend on this message arriving.
 */
export interface Flush {
  readonly batch: number;
  readonly flush: true;
}

/**
 * The result of one call. A result is already JSON text, serialised (and
 * bounded) in the worker, so the main thread only concatenates it into the
 * response line. `cpuMs` (time on a CPU or runnable and waiting for one) is
 * present when the call was measured and the platform tells it.
 */
export type Outcome =
  | { readonly ok: true; readonly json: string; readonly runMs: number; readonly cpuMs?: number }
  | { readonly ok: false; readonly error: WireError; readonly runMs: number; readonly cpuMs?: number };

/** A finished call of batch `batch`, posted by the worker on its parentPort. */
export interface CallResult {
  readonly batch: number;
  readonly index: number;
  readonly outcome: Outcome;
}

/**
 * News of a thread's life, posted beside call results: its module loaded or
 * failed to load (such a thread retires by itself), it recycles itself
 * (after a task, by the recycling options), or (from the runner) the thread
 * is gone.
 */
export interface ThreadNews {
  readonly thread: 'loaded' | 'failed' | 'gone' | 'recycled';
  readonly id: number;
  readonly error?: string;
  /** Why a thread recycled itself: it ran its number of calls, or its heap passed the bound. */
  readonly why?: 'calls' | 'heap';
}

/** What every thread is given as it starts (piscina's workerData). */
export interface ThreadData {
  readonly dispatchUrl: string;
  readonly progress: Progress;
  /** Retire after this many calls (0: never). */
  readonly recycleCalls: number;
  /** Retire once the heap in use passes this many MiB after a task (0: never). */
  readonly recycleHeapMb: number;
  /** A module that has not loaded this long after the thread started: the thread gives up and retires (ms). */
  readonly loadTimeoutMs: number;
}

/** What a ping answers: the lanes the module declares. */
export interface PingReply {
  readonly lanes: Readonly<Record<string, Lane>>;
}

/**
 * States of one call in the progress record. Every change is a
 * compare-and-swap, so exactly one side wins each race:
 *   Queued → Running (worker, as it starts the call)
 *   Queued → Withdrawn (main: the call is taken back and may run elsewhere)
 *   Running → Done (worker, before it posts the result)
 *   Running → Killed (main: deadline passed or worker lost; the result, if any, is dropped)
 */
export const Slot = {
  Queued: 0,
  Running: 1,
  Done: 2,
  Killed: 3,
  Withdrawn: 4,
} as const;

/** A slot's state word: the batch's generation and the state. */
export function slotWord(gen: number, state: number): number {
  return ((gen & 0x0fffffff) << 3) | state;
}

/** Where a worker installs its native guard: a worker-global, so a module need not import the runtime. */
export const GUARD = Symbol.for('dispatchd.guardNative');

/**
 * For dispatch modules that call native code which may wait (a SQLite call
 * waiting on a lock, a synchronous addon): runs `fn` and returns what it
 * returns, and the daemon does not terminate this thread while `fn` runs —
 * a deadline or a stop that falls inside waits until `fn` returns, then
 * stops the thread before it runs anything else. Terminating a thread inside
 * native code can abort the whole process. Keep what `fn` waits for bounded
 * (e.g. SQLite's busy timeout), because the stop waits for it. Outside a
 * pooled thread it just runs `fn`.
 */
export function guardNative<T>(fn: () => T): T {
  const guard = (globalThis as Record<symbol, unknown>)[GUARD];
  return typeof guard === 'function' ? (guard as (f: () => T) => T)(fn) : fn();
}

/** Where the runtime installs the running call's claim: a worker-global, so a module need not import the runtime. */
export const CLAIM = Symbol.for('dispatchd.claimCompletion');

/**
 * For dispatch modules with side effects: call it right before making the
 * call's effect permanent (a COMMIT). True: the call has claimed completion
 * — it can no longer be stopped for its deadline and its result will be
 * answered — so commit. False: the call was already stopped (its caller got
 * -32004), so roll back. Outside a pooled call it returns true.
 */
export function claimCompletion(): boolean {
  const claim = (globalThis as Record<symbol, unknown>)[CLAIM];
  return typeof claim === 'function' ? (claim as () => boolean)() : true;
}
