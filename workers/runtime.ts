/**
 * What a worker does with one task: load the dispatch module (once), run a
 * call or a maintenance cycle, and turn the outcome into plain data that
 * survives the thread boundary. Shared by the piscina entry and inline mode.
 * Never touches sockets, the state file or the logger.
 */
import { performance } from 'node:perf_hooks';
import { ErrorCode, toWire, type WireError } from '../src/errors.js';

/** The shape of a dispatch module (SPEC §5). */
export interface DispatchModule {
  dispatch: (method: string, params: unknown) => unknown;
  maintain?: (ctx: unknown) => unknown;
}

export type Task =
  | { readonly op: 'call'; readonly method: string; readonly params: unknown }
  | { readonly op: 'maintain'; readonly ctx: unknown }
  | { readonly op: 'ping' };

/**
 * The result of a task. A call's result is already JSON text, serialised in
 * the worker so the main thread only concatenates it into the response line.
 */
export type Outcome =
  | { readonly ok: true; readonly json: string; readonly runMs: number }
  | { readonly ok: false; readonly error: WireError; readonly runMs: number };

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
    ...(maintain ? { maintain: maintain as NonNullable<DispatchModule['maintain']> } : {}),
  };
}

function serialise(value: unknown): string {
  const json = JSON.stringify(value);
  // undefined, a function or a symbol: JSON-RPC has no such value, send null.
  return json === undefined ? 'null' : json;
}

function errorOutcome(err: unknown, started: number): Outcome {
  let error = toWire(err);
  try {
    if (error.data !== undefined) JSON.stringify(error.data);
  } catch {
    error = { code: error.code, message: error.message };
  }
  return { ok: false, error, runMs: performance.now() - started };
}

/** Runs one task against a loaded module. Never throws. */
export async function execute(mod: DispatchModule, task: Task): Promise<Outcome> {
  const started = performance.now();
  let value: unknown;
  try {
    if (task.op === 'call') value = await mod.dispatch(task.method, task.params);
    else if (task.op === 'maintain') value = mod.maintain ? await mod.maintain(task.ctx) : { skipped: 'no maintain()' };
    else value = 'pong';
  } catch (err) {
    return errorOutcome(err, started);
  }
  try {
    return { ok: true, json: serialise(value), runMs: performance.now() - started };
  } catch (err) {
    // A result JSON can't carry (BigInt, a cycle) is the method's fault, not the caller's params.
    const message = `result is not serialisable: ${(err as Error).message}`;
    return { ok: false, error: { code: ErrorCode.Internal, message }, runMs: performance.now() - started };
  }
}

/** An outcome for a module that failed to load: every call fails with -32001. */
export function loadFailure(err: unknown): Outcome {
  const message = err instanceof Error ? err.message : String(err);
  return { ok: false, error: { code: ErrorCode.Internal, message: `dispatch module failed to load: ${message}` }, runMs: 0 };
}
