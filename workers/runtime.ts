/**
 * What a worker does with one task: load the dispatch module (once), run
 * calls or a maintenance cycle, and turn each outcome into plain data that
 * survives the thread boundary. Shared by the piscina entry and inline mode.
 * Never touches sockets, the state file or the logger.
 */
import { performance } from 'node:perf_hooks';
import { ErrorCode, toWire, type WireError } from '../src/errors.js';
import { parseLanes, type Lane } from '../src/lanes.js';

/** The shape of a dispatch module (SPEC §5). */
export interface DispatchModule {
  dispatch: (method: string, params: unknown) => unknown;
  maintain?: (ctx: unknown) => unknown;
  lanes: Record<string, Lane>;
}

export interface Call {
  readonly method: string;
  /**
   * The params as the client's exact JSON text (a string; typed `unknown`
   * until the pool that fills it says `string` too), parsed here, in the worker.
   */
  readonly params: unknown;
}

export type Task =
  /** Several calls run in order; results come back as each group finishes. */
  | { readonly op: 'calls'; readonly batch: number; readonly calls: readonly Call[] }
  | { readonly op: 'maintain'; readonly ctx: unknown }
  | { readonly op: 'ping' };

/**
 * The result of one call. A result is already JSON text, serialised in the
 * worker so the main thread only concatenates it into the response line.
 */
export type Outcome =
  | { readonly ok: true; readonly json: string; readonly runMs: number }
  | { readonly ok: false; readonly error: WireError; readonly runMs: number };

/** Results of calls `from`…`from + results.length - 1` of batch `batch`, sent early. */
export interface EarlyResults {
  readonly batch: number;
  readonly from: number;
  readonly results: readonly Outcome[];
}

/** Imports a dispatch module and checks it exports `dispatch` (named or default). */
export async function loadDispatch(url: string): Promise<DispatchModule> {
  const mod = (await import(url)) as Record<string, unknown>;
  const named = mod.dispatch;
  const fallback = mod.default;
  const dispatch =
    typeof named === 'function'
      ? named
      : typeof fallback === 'function'
        ? fallback
        : fallback !== null && typeof fallback === 'object' && typeof (fallback as Record<string, unknown>).dispatch === 'function'
          ? (fallback as Record<string, unknown>).dispatch
          : undefined;
  if (typeof dispatch !== 'function') {
    throw new TypeError(`dispatch module ${url} exports no dispatch(method, params) function`);
  }
  const maintain = typeof mod.maintain === 'function' ? mod.maintain : undefined;
  return {
    dispatch: dispatch as DispatchModule['dispatch'],
    lanes: parseLanes(mod.lanes),
    ...(maintain ? { maintain: maintain as NonNullable<DispatchModule['maintain']> } : {}),
  };
}

function failed(err: unknown, started: number): Outcome {
  let error = toWire(err);
  try {
    if (error.data !== undefined) JSON.stringify(error.data);
  } catch {
    error = { code: error.code, message: error.message };
  }
  return { ok: false, error, runMs: performance.now() - started };
}

/** Runs one function and serialises what it returns. Never throws; sync stays sync. */
function run(fn: () => unknown): Outcome | Promise<Outcome> {
  const started = performance.now();
  let value: unknown;
  try {
    value = fn();
  } catch (err) {
    return failed(err, started);
  }
  // Only a promise costs a tick; a sync dispatch stays sync.
  if (value instanceof Promise) return value.then((v) => finish(v, started), (err: unknown) => failed(err, started));
  return finish(value, started);
}

function finish(value: unknown, started: number): Outcome {
  try {
    const json = JSON.stringify(value);
    // undefined, a function or a symbol: JSON-RPC has no such value, send null.
    return { ok: true, json: json === undefined ? 'null' : json, runMs: performance.now() - started };
  } catch (err) {
    // A result JSON can't carry (BigInt, a cycle) is the method's fault, not the caller's params.
    const message = `result is not serialisable: ${(err as Error).message}`;
    return { ok: false, error: { code: ErrorCode.Internal, message }, runMs: performance.now() - started };
  }
}

/** Finished results wait for their batch mates at most this long (plus one call). */
const FLUSH_AFTER_MS = 0.2;
/** A method whose average run time in this worker is at least this may be slow. */
const MAYBE_SLOW_MS = 1;
// Per-worker run-time averages, to send results early before a call that may be slow.
const seen = new Map<string, number>();

function learn(method: string, ms: number): void {
  const avg = seen.get(method);
  if (avg === undefined && seen.size >= 4096) seen.clear();
  seen.set(method, avg === undefined ? ms : avg + 0.2 * (ms - avg));
}

/**
 * Runs the calls of a batch in order. Results go back in groups through
 * `early`: what is done is sent before a call that may be slow (a method this
 * worker has not seen yet, or one that has taken ≥ 1 ms on average here), and
 * whenever 0.2 ms have passed since the last group — so a slow call does not
 * hold back the answers of the calls before it. The rest is returned.
 */
export async function runCalls(mod: DispatchModule, calls: readonly Call[], early: (from: number, results: Outcome[]) => void): Promise<Outcome[]> {
  let pending: Outcome[] = [];
  let from = 0;
  let last = performance.now();
  const flush = (now: number): void => {
    early(from, pending);
    from += pending.length;
    pending = [];
    last = now;
  };
  for (const call of calls) {
    if (pending.length > 0) {
      const avg = seen.get(call.method);
      if (avg === undefined || avg >= MAYBE_SLOW_MS) flush(performance.now());
    }
    const r = run(() => mod.dispatch(call.method, JSON.parse(call.params as string)));
    const outcome = r instanceof Promise ? await r : r;
    learn(call.method, outcome.runMs);
    pending.push(outcome);
    const now = performance.now();
    if (now - last > FLUSH_AFTER_MS && from + pending.length < calls.length) flush(now);
  }
  return pending;
}

/** Runs a maintenance cycle or a ping (which reports the declared lanes). */
export async function runOther(mod: DispatchModule, task: Exclude<Task, { op: 'calls' }>): Promise<Outcome> {
  if (task.op === 'maintain') return run(() => (mod.maintain ? mod.maintain(task.ctx) : { skipped: 'no maintain()' }));
  return run(() => ({ lanes: mod.lanes }));
}

/** An outcome for a module that failed to load: every call fails with -32001. */
export function loadFailure(err: unknown): Outcome {
  const message = err instanceof Error ? err.message : String(err);
  return { ok: false, error: { code: ErrorCode.Internal, message: `dispatch module failed to load: ${message}` }, runMs: 0 };
}
