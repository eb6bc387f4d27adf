/**
 * Runs batches on piscina worker threads. The one place that turns
 * piscina's own failures (worker exited, out of memory, aborted) into
 * JSON-RPC errors. Threads start on demand up to the maximum; `minThreads`
 * start at once, in parallel. piscina's own idle retirement is off: the
 * pool retires idle threads one at a time as recent demand falls
 * (`retireIdle`).
 *
 * Two piscina pools: the fast reserve (`fastThreads` threads, kept warm:
 * fast batches always find the same hot threads) and the slow threads,
 * which fast batches may also spill onto. What goes to the slow threads
 * waits in the slow feed (`slow-feed.ts`): a few threads boot at a time and
 * a call never waits out a boot while a loaded thread is free. With `slowNice` > 0 the slow
 * threads lower their priority with piscina's own `niceIncrement` (Linux,
 * via @napi-rs/nice).
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { ErrorCode } from '../contract/errors.js';
import type { CallResult, Flush, Outcome, PingReply, Progress, Task, ThreadData, ThreadNews } from '../contract/contract.js';
import type { Lane } from './lanes.js';
import { WORKER_URL } from '../paths.js';
import { SlowFeed } from './slow-feed.js';
import { RunFailure, type CallsTask, type ResultSink, type Runner, type RunnerStats } from './runner.js';

/**
 * The thread's code as one CommonJS file (esbuild's bundle of workers/worker.ts,
 * built by `npm run build`). One file: a thread boots in ~40 ms and loading a
 * graph of ES modules added ~10 ms more to every start. CommonJS: piscina
 * loads its task file with require(), and on Node ≥ 20.19 require() of an ES
 * module instantiates it synchronously — a thread terminated meanwhile (a stop
 * during start, a deadline kill, an idle thread retired while loading) then
 * aborts the whole process with a V8 fatal error (Module::IsGraphAsync).
 * The dispatch module itself is import()ed, where termination is an ordinary error.
 */

export interface PiscinaRunnerOptions {
  readonly dispatchUrl: string;
  /** Threads slow calls may occupy. */
  readonly threads: number;
  /** Threads kept for fast calls on top. */
  readonly fastThreads: number;
  /** Slow-call threads started at once and kept however quiet (the fast reserve is kept whole). */
  readonly quietThreads: number;
  /** niceIncrement of slow-call threads (0: normal priority, one pool). */
  readonly slowNice: number;
  readonly workerHeapMb: number;
  /** A thread retires after this many calls (0: never). */
  readonly recycleCalls: number;
  /** A thread retires once its heap in use passes this many MiB after a task (0: never). */
  readonly recycleHeapMb: number;
  /** A thread whose module has not loaded this long after it started gives up: it says so and exits on its first call (ms). */
  readonly loadTimeoutMs: number;
}

/** piscina's own idle retirement is off (its timer's longest delay): the pool retires threads itself, one at a time. */
const NEVER_MS = 2 ** 31 - 1;

function isOutcome(v: unknown): v is Outcome {
  return v !== null && typeof v === 'object' && 'ok' in v;
}

/** piscina's failure → a JSON-RPC error. */
function failureOf(err: unknown): RunFailure {
  const e = err as { name?: string; message?: string; code?: string } | null;
  if (e?.name === 'AbortError') return new RunFailure({ code: ErrorCode.DeadlineExceeded, message: 'call stopped: its thread was stopped', data: { failure: 'worker_stopped' } });
  if (e?.code === 'ERR_WORKER_OUT_OF_MEMORY') return new RunFailure({ code: ErrorCode.Internal, message: `worker ran out of memory: ${e.message ?? ''}`, data: { failure: 'out_of_memory' } });
  return new RunFailure({ code: ErrorCode.Internal, message: `worker stopped: ${e?.message ?? String(err)}`, data: { failure: 'worker_stopped' } });
}

export class PiscinaRunner implements Runner {
  readonly ready: Promise<PingReply>;
  readonly #fast: Piscina;
  readonly #slow: Piscina;
  readonly #opts: PiscinaRunnerOptions;
  #destroyed: Promise<void> | undefined;

  readonly #progress: Progress;
  /** What goes to the slow threads, in turn (slow-feed.ts). */
  readonly #slowFeed: SlowFeed;
  /** Threads created / retired. */
  #created = 0;
  #retired = 0;

  constructor(opts: PiscinaRunnerOptions, sink: ResultSink, progress: Progress) {
    this.#opts = opts;
    this.#progress = progress;
    this.#slow = this.#piscina(opts.threads, opts.slowNice, Math.max(1, opts.quietThreads), sink);
    this.#fast = opts.fastThreads > 0 ? this.#piscina(opts.fastThreads, 0, opts.fastThreads, sink) : this.#slow;
    const feed = new SlowFeed(this.#slow, availableParallelism(), { op: 'warm' } satisfies Task);
    this.#slowFeed = feed;
    this.#slow.on('message', (m: CallResult | Flush | ThreadNews) => {
      if ('thread' in m) feed.news(m);
    });
    // Ready once the module has loaded in one thread — whichever of the two pools' first threads
    // gets there first (threads boot at different speeds while the main thread loads); calls sent
    // before the other pool's thread is up wait in piscina's queue for it. A load that failed in one
    // thread is a fact about that thread: only when it failed in both is the start refused.
    const pings = this.#fast === this.#slow ? [this.#ping(this.#slow)] : [this.#ping(this.#fast), this.#ping(this.#slow)];
    this.ready = Promise.any(pings).catch((err: AggregateError) => {
      throw err.errors[0] as Error;
    });
  }

  #piscina(max: number, nice: number, min: number, sink: ResultSink): Piscina {
    const p = new Piscina({
      filename: WORKER_URL.href,
      workerData: { dispatchUrl: this.#opts.dispatchUrl, progress: this.#progress, recycleCalls: this.#opts.recycleCalls, recycleHeapMb: this.#opts.recycleHeapMb, loadTimeoutMs: this.#opts.loadTimeoutMs } satisfies ThreadData,
      minThreads: Math.min(min, max),
      maxThreads: max,
      idleTimeout: NEVER_MS,
      // One task per thread: the pool above decides what runs where.
      concurrentTasksPerWorker: 1,
      ...(nice > 0 ? { niceIncrement: nice } : {}),
      ...(this.#opts.workerHeapMb > 0 ? { resourceLimits: { maxOldGenerationSizeMb: this.#opts.workerHeapMb } } : {}),
    });
    // A worker that dies is replaced by piscina; its task is rejected and
    // handled by the pool. Nothing else must reach the process as an error.
    p.on('error', () => {});
    p.on('message', (m: CallResult | Flush | ThreadNews) => sink(m));
    p.on('workerDestroy', (w: { id: number }) => sink({ thread: 'gone', id: w.id }));
    p.on('workerCreate', () => void this.#created++);
    return p;
  }

  async #ping(p: Piscina): Promise<PingReply> {
    const reply = (await p.run({ op: 'ping' } satisfies Task)) as PingReply | Outcome;
    if (isOutcome(reply)) throw new Error(reply.ok ? 'unexpected ping reply' : reply.error.message);
    return reply;
  }

  async run(task: CallsTask, lane: Lane, signal: AbortSignal | undefined): Promise<CallResult | null> {
    try {
      const p = lane === 'fast' ? this.#fast : this.#slow;
      if (p === this.#slow) return (await this.#slowFeed.run(task, signal)) as CallResult | null;
      return (await (signal === undefined ? p.run(task) : p.run(task, { signal }))) as CallResult | null;
    } catch (err) {
      throw failureOf(err);
    }
  }

  threadIds(): number[] {
    const both = this.#slow === this.#fast ? [this.#fast] : [this.#fast, this.#slow];
    // A stopped Worker's threadId reads -1.
    return both.flatMap((p) => p.threads.map((t) => t.threadId)).filter((id) => id >= 0);
  }

  retireIdle(keep: number): boolean {
    const threads = this.#slow.threads.length;
    // Only an idle thread takes the task at once; with none idle it would wait and retire one that was needed.
    const busy = this.#slowFeed.inFlight;
    if (threads <= keep || threads <= busy || this.#slowFeed.waiting > 0 || this.#slow.queueSize > 0) return false;
    this.#retired++;
    this.#slow.run({ op: 'retire' } satisfies Task).catch(() => {}); // rejected as the thread exits
    return true;
  }

  warm(threads: number): void {
    this.#slowFeed.warm(threads);
  }

  async maintain(ctx: unknown, maxResultBytes: number): Promise<Outcome> {
    try {
      return (await this.#slowFeed.run({ op: 'maintain', ctx, maxResultBytes } satisfies Task, undefined)) as Outcome;
    } catch (err) {
      return { ok: false, error: failureOf(err).error, runMs: 0 };
    }
  }

  stats(): RunnerStats {
    const both = this.#slow === this.#fast ? [this.#fast] : [this.#fast, this.#slow];
    return {
      threads: both.reduce((n, p) => n + p.threads.length, 0),
      max_threads: this.#opts.threads + this.#opts.fastThreads,
      threads_created: this.#created,
      threads_retired_idle: this.#retired,
    };
  }

  destroy(): Promise<void> {
    this.#slowFeed.close();
    this.#destroyed ??= Promise.all([this.#fast.destroy(), this.#slow === this.#fast ? undefined : this.#slow.destroy()]).then(() => {});
    return this.#destroyed;
  }
}
