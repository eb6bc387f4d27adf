/**
 * What a worker does with a task: run the calls of a batch in order, each in
 * its own fate, and turn each outcome into plain data that survives the
 * thread boundary. Used by the piscina entry (`worker.ts`) and, loaded by
 * URL, by the bench's inline mode. Never touches sockets, the state file or
 * the logger, and learns nothing across calls: the main thread decides.
 *
 * Fate per call (SPEC §6), through the batch's shared progress record
 * (`src/contract.ts`): a call starts only if it is still Queued (the main
 * thread may have taken it back); its result is posted only if it is still
 * Running when it finishes (the main thread may have stopped it), and it is
 * marked Done before it is posted, so a Done call's result is always on its
 * way even if this worker dies next.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { boundData, ErrorCode, toWire, type WireError } from '../src/contract/errors.js';
import { BY_MESSAGE, CLAIM, RESULT_FIELDS, Slot, slotWord, type Call, type Flush, type Lane, type Progress, type LoadedModule, type CallResult, type Outcome, type PingReply, type Task } from '../src/contract/contract.js';
import { boundedJson, ResultTooLarge } from './bounded-json.js';

let mySlot = -1;
/** This thread's native guard slot (set by the worker entry as the thread starts); -1: none. */
export function setGuardSlot(slot: number): void {
  mySlot = slot;
}
function guardSlot(): number {
  return mySlot;
}

export type { LoadedModule } from '../src/contract/contract.js';

/** Validates a module's `lanes` export; anything malformed is an error naming the method. */
function parseLanes(value: unknown): Record<string, Lane> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new TypeError('lanes export must be an object of method → "fast" | "slow"');
  const out: Record<string, Lane> = {};
  for (const [method, lane] of Object.entries(value)) {
    if (lane !== 'fast' && lane !== 'slow') throw new TypeError(`lanes.${method} must be "fast" or "slow", got ${JSON.stringify(lane)}`);
    out[method] = lane;
  }
  return out;
}

/** The file frames of a stack (not `node:` ones), as paths. */
function framesOf(stack: string): { file: string; line: string; column: string }[] {
  return [...stack.matchAll(/(?:\(|\bat )((?:file:\/\/)?\/[^\s():]+):(\d+):(\d+)\)?$/gm)].map((m) => ({
    file: (m[1] as string).startsWith('file:') ? fileURLToPath(m[1] as string) : (m[1] as string),
    line: m[2] as string,
    column: m[3] as string,
  }));
}

/**
 * Where in the user's own code a load error arose: the first stack frame in
 * a file that is not Node's or dispatchd's. A SyntaxError has no such frame
 * (V8 keeps its place out of the stack), so the entry file is checked with
 * `node --check`, whose first line names file and line — only on this
 * failure path, once per thread.
 */
function whereInUserCode(err: unknown, url: string): string | null {
  const stack = err instanceof Error && typeof err.stack === 'string' ? err.stack : '';
  const ours = framesOf(new Error().stack ?? '')[0]?.file;
  // dispatchd's own build directory (this file's parent's parent: dist/), however it is bundled.
  const dist = ours === undefined ? null : ours.slice(0, ours.lastIndexOf('/', ours.lastIndexOf('/') - 1) + 1);
  for (const f of framesOf(stack)) {
    if ((dist === null || !f.file.startsWith(dist)) && !f.file.includes('/node_modules/')) return `${f.file}:${f.line}:${f.column}`;
  }
  if (!(err instanceof SyntaxError) || !url.startsWith('file:')) return null;
  // node:child_process only on this failure path: importing it loads net, dgram and their kin into every thread.
  const check = process.getBuiltinModule('node:child_process').spawnSync(process.execPath, ['--check', fileURLToPath(url)], { encoding: 'utf8', timeout: 10_000 });
  const first = /^(?:file:\/\/)?(\/\S+:\d+)$/m.exec(check.stderr ?? '');
  return first === null ? null : (first[1] as string);
}

/** Imports a dispatch module and checks it exports `dispatch` (named or default). */
export async function loadDispatch(url: string): Promise<LoadedModule> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    // The message the daemon logs and `status` shows names the user's file and line, not only ours.
    const where = whereInUserCode(err, url);
    if (where === null) throw err;
    const what = err instanceof Error ? (err.name === 'Error' ? err.message : `${err.name}: ${err.message}`) : String(err);
    const message = `${what} (at ${where})`;
    throw Object.assign(new Error(message, { cause: err }), { location: where });
  }
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
    dispatch: dispatch as LoadedModule['dispatch'],
    lanes: parseLanes(mod.lanes),
    ...(maintain ? { maintain: maintain as NonNullable<LoadedModule['maintain']> } : {}),
  };
}

/** A module's load error as one line for the pool, status and the log (with the user's own file and line when known). */
export function loadErrorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * This thread's CPU demand so far in ms: time on a CPU plus time runnable but
 * waiting for one (Linux schedstat, first two fields, ns), or undefined
 * elsewhere. Counting the run-queue wait keeps a CPU-bound call on a busy
 * machine from looking like a call that waits.
 */
function threadCpuMs(): number | undefined {
  try {
    const [onCpu, runnable] = readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ', 2);
    const ms = (Number(onCpu) + Number(runnable)) / 1e6;
    return Number.isFinite(ms) ? ms : undefined;
  } catch {
    return undefined;
  }
}

function failed(err: unknown, started: number, maxBytes: number): Outcome {
  let error: WireError = toWire(err);
  if (error.data !== undefined) {
    // data crosses as parsed JSON text: bounded, and never a value the structured clone refuses.
    try {
      error = { code: error.code, message: error.message, data: JSON.parse(boundedJson(error.data, Math.min(maxBytes, 64 * 1024))) as unknown };
    } catch {
      error = { code: error.code, message: error.message };
    }
  }
  return { ok: false, error, runMs: performance.now() - started };
}

function finish(value: unknown, started: number, maxBytes: number): Outcome {
  try {
    return { ok: true, json: boundedJson(value, maxBytes), runMs: performance.now() - started };
  } catch (err) {
    // A result too big or that JSON can't carry is the method's fault, not the caller's params.
    const error: WireError =
      err instanceof ResultTooLarge
        ? { code: ErrorCode.Internal, message: `result too large: over ${maxBytes} bytes (--max-result-bytes)`, data: boundData('max_result_bytes', maxBytes) }
        : { code: ErrorCode.Internal, message: `result is not serialisable: ${err instanceof Error ? err.message : String(err)}`, data: { failure: 'unserialisable_result' } };
    return { ok: false, error, runMs: performance.now() - started };
  }
}

/** Runs one function and serialises what it returns. Never throws; sync stays sync. */
function run(fn: () => unknown, maxBytes: number): Outcome | Promise<Outcome> {
  const started = performance.now();
  let value: unknown;
  try {
    value = fn();
  } catch (err) {
    return failed(err, started, maxBytes);
  }
  // Only a promise costs a tick; a sync dispatch stays sync.
  if (value instanceof Promise) return value.then((v) => finish(v, started, maxBytes), (err: unknown) => failed(err, started, maxBytes));
  return finish(value, started, maxBytes);
}

function withCpu(outcome: Outcome, cpuBefore: number | undefined): Outcome {
  if (cpuBefore === undefined) return outcome;
  const after = threadCpuMs();
  return after === undefined ? outcome : { ...outcome, cpuMs: after - cpuBefore };
}

/** Runs one call: params are parsed here, so bad params fail this call alone. */
function runCall(mod: LoadedModule, call: Call, maxBytes: number): Outcome | Promise<Outcome> {
  const cpuBefore = call.measure ? threadCpuMs() : undefined;
  const r = run(() => mod.dispatch(call.method, JSON.parse(call.params) as unknown), maxBytes);
  if (cpuBefore === undefined) return r;
  return r instanceof Promise ? r.then((o) => withCpu(o, cpuBefore)) : withCpu(r, cpuBefore);
}

/** Results wait in the arena at most this long before the main thread is told (ms). */
const FLUSH_AFTER_MS = 0.2;
const encoder = new TextEncoder();
/** This thread's clock origin: constant, read once. */
const ORIGIN = performance.timeOrigin;

interface Views {
  readonly states: Int32Array;
  readonly starts: Float64Array;
  readonly results: Float64Array;
  readonly lengths: Int32Array;
  readonly arena: Uint8Array;
}
// The record is shared once per thread: its views are made once.
const viewsOf = new WeakMap<Progress, Views>();
function views(p: Progress): Views {
  let v = viewsOf.get(p);
  if (v === undefined) {
    v = { states: new Int32Array(p.states), starts: new Float64Array(p.starts), results: new Float64Array(p.results), lengths: new Int32Array(p.lengths), arena: new Uint8Array(p.arena) };
    viewsOf.set(p, v);
  }
  return v;
}

/**
 * Runs the calls of a batch in order (see the header for the progress-record
 * rules). A successful result goes into the shared arena (when it fits)
 * before its call is marked Done, so the main thread can read it even if
 * this thread dies next; a `Flush` tells it, at most every 0.2 ms. Other
 * results are posted after Done. A result that cannot be posted fails its
 * own call. The last call's result is the return value.
 */
export async function runCalls(
  mod: LoadedModule,
  task: Extract<Task, { op: 'calls' }>,
  progress: Progress,
  post: (r: CallResult | Flush) => void,
): Promise<CallResult | null> {
  const n = task.calls.length;
  const { states, starts, results, lengths, arena } = views(progress);
  // Which thread runs this region, before any call starts: a stop for a deadline looks here.
  Atomics.store(new Int32Array(progress.runners), task.region, guardSlot() + 1);
  const queued = slotWord(task.gen, Slot.Queued);
  const running = slotWord(task.gen, Slot.Running);
  const done = slotWord(task.gen, Slot.Done);
  let at = task.arena[0];
  let lastFlush = performance.now();
  for (let i = 0; i < n; i++) {
    const k = task.base + i;
    if (Atomics.compareExchange(states, k, queued, running) !== queued) continue;
    starts[k] = ORIGIN + performance.now();
    // A module may claim completion early (before a COMMIT): Running → Done then, not after.
    let claimed = false;
    const claim = (): boolean => claimed || (claimed = Atomics.compareExchange(states, k, running, done) === running);
    (globalThis as Record<symbol, unknown>)[CLAIM] = claim;
    let outcome: Outcome;
    try {
      const r = runCall(mod, task.calls[i] as Call, task.maxResultBytes);
      outcome = r instanceof Promise ? await r : r;
    } finally {
      (globalThis as Record<symbol, unknown>)[CLAIM] = undefined;
    }
    // Done first: from here the call cannot be stopped, and a thread that lost the slot never writes the arena.
    if (!claim()) continue;
    const last = i === n - 1;
    let inArena = false;
    if (outcome.ok && !last && outcome.cpuMs === undefined) {
      const { read, written } = encoder.encodeInto(outcome.json, arena.subarray(at, task.arena[1]));
      if (read === outcome.json.length) {
        results[k * RESULT_FIELDS] = at;
        results[k * RESULT_FIELDS + 1] = outcome.runMs;
        Atomics.store(lengths, k, written);
        at += written;
        inArena = true;
      }
    }
    if (!inArena) Atomics.store(lengths, k, BY_MESSAGE);
    if (last) return { batch: task.batch, index: i, outcome };
    if (inArena) {
      const now = performance.now();
      if (now - lastFlush >= FLUSH_AFTER_MS) {
        post({ batch: task.batch, flush: true });
        lastFlush = now;
      }
      continue;
    }
    try {
      post({ batch: task.batch, index: i, outcome });
    } catch (err) {
      post({ batch: task.batch, index: i, outcome: failed(err, performance.now() - outcome.runMs, task.maxResultBytes) });
    }
  }
  // The task's end tells the main thread to read the rest of the arena.
  return null;
}

/** Runs a maintenance cycle. */
export async function runMaintain(mod: LoadedModule, ctx: unknown, maxBytes: number): Promise<Outcome> {
  return run(() => (mod.maintain ? mod.maintain(ctx) : { skipped: 'no maintain()' }), maxBytes);
}

/** What a ping reports. */
export function ping(mod: LoadedModule): PingReply {
  return { lanes: mod.lanes };
}
