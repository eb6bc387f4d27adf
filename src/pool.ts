/**
 * The worker pool: two bounded FIFO lanes of calls in front of piscina.
 *
 * - Lanes: two piscina pools. Slow calls run only on the `threads` slow
 *   threads, which run at a lower CPU priority (nice); `fastThreads` more
 *   threads serve only fast calls, so a fast call never waits behind slow
 *   ones, and the main thread and fast lane get a core at once even when
 *   every slow thread is busy (see docs/lanes.md). Fast calls may also use
 *   idle slow threads.
 * - Batching: fast calls that are ready together go to a worker as one task
 *   (one thread hop for many calls); the worker sends results back in
 *   groups as they finish. Slow calls always travel alone.
 * - Holding the queues here (not in piscina) means a call that has not
 *   started can be dropped when its client leaves, a full queue answers
 *   -32003 at once, and queue wait is measured exactly.
 *
 * This is the one place that turns piscina's own failures (worker exited,
 * aborted, out of memory) into JSON-RPC codes.
 */
import { Piscina } from 'piscina';
import { performance } from 'node:perf_hooks';
import { ErrorCode } from './errors.js';
import { LaneClassifier, type Lane } from './lanes.js';
import { Latency, type LatencySummary } from './metrics.js';
import { Fifo } from './fifo.js';
import { loadDispatch, runCalls, runOther, type Call, type DispatchModule, type EarlyResults, type Outcome, type Task } from '../workers/runtime.js';

export interface PoolOptions {
  readonly dispatchUrl: string;
  /** Threads slow calls may occupy. */
  readonly threads: number;
  /** Extra threads only fast calls may use. */
  readonly fastThreads: number;
  readonly maxQueue: number;
  readonly maxBatch: number;
  readonly laneThresholdMs: number;
  readonly deadlineMs: number;
  readonly workerHeapMb: number;
  /** CPU niceness of slow-lane threads (Linux); 0 leaves it alone. */
  readonly slowNice: number;
  readonly inline: boolean;
}

type Done = (outcome: Outcome, waitMs: number) => void;

/** A submitted call. `cancel()` drops it if it has not started yet. */
export interface Ticket {
  cancel(): boolean;
}

export interface Job extends Ticket {
  readonly method: string;
  readonly params: unknown;
  readonly done: Done;
  readonly enqueuedAt: number;
  readonly lane: Lane;
  state: 'queued' | 'running' | 'finished' | 'cancelled';
  waitMs: number;
}

interface Batch {
  readonly jobs: Job[];
  readonly lane: Lane;
  /** The pool it runs on: the fast pool, or the slow pool. */
  readonly onFast: boolean;
  answered: number;
  settled: boolean;
}

export interface PoolStats {
  readonly threads: number;
  readonly slow_threads: number;
  readonly fast_threads: number;
  readonly running: number;
  readonly queue_size: number;
  readonly queued_fast: number;
  readonly queued_slow: number;
  readonly max_queue: number;
  readonly utilization: number;
  readonly completed: number;
  readonly failed: number;
  readonly rejected: number;
  readonly batches: number;
  readonly avg_batch: number;
  readonly wait_ms: LatencySummary;
  readonly run_ms: LatencySummary;
  readonly lanes: Record<string, unknown>;
}

const WORKER_URL = new URL('../workers/worker.js', import.meta.url);

function failure(code: number, message: string, data?: unknown): Outcome {
  return { ok: false, error: data === undefined ? { code, message } : { code, message, data }, runMs: 0 };
}

/** Owns the piscina instance (or, in inline mode, the main-thread module). */
export class Pool {
  readonly #opts: PoolOptions;
  #slowPool: Piscina | null = null;
  #fastPool: Piscina | null = null;
  #inline: DispatchModule | null = null;
  #classifier = new LaneClassifier({}, 10);
  readonly #fast = new Fifo<Job>();
  readonly #slow = new Fifo<Job>();
  readonly #batches = new Map<number, Batch>();
  #batchSeq = 0;
  #fastTasks = 0;
  #slowTasks = 0;
  #running = 0;
  #pumpScheduled = false;
  #completed = 0;
  #failed = 0;
  #rejected = 0;
  #batchCount = 0;
  #batchedCalls = 0;
  #busyMs = 0;
  readonly #startedAt = performance.now();
  readonly #wait = new Latency();
  readonly #run = new Latency();

  constructor(opts: PoolOptions) {
    this.#opts = opts;
  }

  get #capacity(): number {
    return this.#opts.inline ? 1 : this.#opts.threads + this.#opts.fastThreads;
  }

  /** Starts the threads and proves the dispatch module loads; rejects if it does not. */
  async start(): Promise<void> {
    let probe: Outcome;
    if (this.#opts.inline) {
      this.#inline = await loadDispatch(this.#opts.dispatchUrl);
      probe = await runOther(this.#inline, { op: 'ping' });
    } else {
      this.#slowPool = this.#newPiscina(this.#opts.threads, this.#opts.slowNice);
      if (this.#opts.fastThreads > 0) this.#fastPool = this.#newPiscina(this.#opts.fastThreads, 0);
      probe = (await this.#slowPool.run({ op: 'ping' } satisfies Task)) as Outcome;
      if (probe.ok && this.#fastPool) probe = (await this.#fastPool.run({ op: 'ping' } satisfies Task)) as Outcome;
    }
    if (!probe.ok) throw new Error(probe.error.message);
    const { lanes } = JSON.parse(probe.json) as { lanes: Record<string, Lane> };
    this.#classifier = new LaneClassifier(lanes, this.#opts.laneThresholdMs);
  }

  #newPiscina(threads: number, nice: number): Piscina {
    const p = new Piscina({
      filename: WORKER_URL.href,
      workerData: { dispatchUrl: this.#opts.dispatchUrl, nice },
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Number.MAX_SAFE_INTEGER,
      ...(this.#opts.workerHeapMb > 0 ? { resourceLimits: { maxOldGenerationSizeMb: this.#opts.workerHeapMb } } : {}),
    });
    // A worker that dies is replaced by piscina; its task is rejected and
    // answered below. Nothing else must reach the process as an error.
    p.on('error', () => {});
    p.on('message', (m: EarlyResults) => {
      const batch = this.#batches.get(m.batch);
      if (batch) this.#deliver(m.batch, batch, m.from, m.results);
    });
    return p;
  }

  /** Queues a call; `done` is called exactly once, never before `submit` returns, unless the ticket is cancelled first. */
  submit(method: string, params: unknown, done: Done): Ticket {
    const job: Job = {
      method,
      params,
      done,
      enqueuedAt: performance.now(),
      lane: this.#classifier.laneOf(method),
      state: 'queued',
      waitMs: 0,
      cancel: () => {
        if (job.state !== 'queued') return false;
        job.state = 'cancelled';
        (job.lane === 'fast' ? this.#fast : this.#slow).live--;
        return true;
      },
    };
    if (this.queued >= this.#opts.maxQueue) {
      this.#rejected++;
      job.state = 'finished';
      // Never re-entrant: callers get `done` after `submit` has returned.
      queueMicrotask(() => done(failure(ErrorCode.Overloaded, 'server overloaded: pool queue is full, retry later', { retry_after_ms: 100 }), 0));
      return job;
    }
    (job.lane === 'fast' ? this.#fast : this.#slow).push(job);
    // Dispatch once per turn of the event loop, so calls that arrive together travel together.
    if (!this.#pumpScheduled) {
      this.#pumpScheduled = true;
      queueMicrotask(() => {
        this.#pumpScheduled = false;
        this.#pump();
      });
    }
    return job;
  }

  #pump(): void {
    const slowCap = this.#opts.inline ? 1 : this.#opts.threads;
    const fastCap = this.#opts.inline ? 0 : this.#opts.fastThreads;
    const max = this.#opts.maxBatch;
    for (;;) {
      const fastFree = fastCap - this.#fastTasks;
      const slowFree = slowCap - this.#slowTasks;
      // Fast calls go to the fast threads; they spill onto idle slow threads
      // only when there is no fast reserve or a full batch is waiting —
      // on few cores, more threads in play cost more than they give.
      if (this.#fast.live > 0 && fastFree > 0) {
        this.#startBatch(this.#take(Math.min(max, Math.ceil(this.#fast.live / fastFree))), 'fast', true);
      } else if (this.#fast.live > 0 && slowFree > 0 && (fastCap === 0 || this.#fast.live >= max)) {
        this.#startBatch(this.#take(Math.min(max, Math.ceil(this.#fast.live / slowFree))), 'fast', false);
      } else if (this.#slow.live > 0 && slowFree > 0) {
        const job = this.#slow.shift();
        if (job === undefined) break;
        this.#startBatch([job], 'slow', false);
      } else {
        break;
      }
    }
  }

  #take(n: number): Job[] {
    const jobs: Job[] = [];
    for (let i = 0; i < n; i++) {
      const job = this.#fast.shift();
      if (job === undefined) break;
      jobs.push(job);
    }
    return jobs;
  }

  #startBatch(jobs: Job[], lane: Lane, onFast: boolean): void {
    const id = ++this.#batchSeq;
    const now = performance.now();
    for (const job of jobs) {
      job.state = 'running';
      job.waitMs = now - job.enqueuedAt;
      this.#wait.record(job.waitMs);
    }
    const batch: Batch = { jobs, lane, onFast, answered: 0, settled: false };
    this.#batches.set(id, batch);
    if (onFast) this.#fastTasks++;
    else this.#slowTasks++;
    this.#running += jobs.length;
    this.#batchCount++;
    this.#batchedCalls += jobs.length;
    const calls: Call[] = jobs.map((j) => ({ method: j.method, params: j.params }));
    this.#runCalls(id, calls, onFast).then(
      (rest) => this.#settle(id, batch, now, rest, null),
      (err: unknown) => this.#settle(id, batch, now, [], err),
    );
  }

  #runCalls(id: number, calls: Call[], onFast: boolean): Promise<Outcome[]> {
    if (this.#inline !== null) {
      const batch = this.#batches.get(id) as Batch;
      return runCalls(this.#inline, calls, (from, results) => this.#deliver(id, batch, from, results));
    }
    const piscina = onFast ? this.#fastPool : this.#slowPool;
    if (piscina === null) return Promise.reject(new Error('pool is not running'));
    const deadline = this.#opts.deadlineMs;
    const signal = deadline > 0 ? AbortSignal.timeout(deadline) : undefined;
    const task: Task = { op: 'calls', batch: id, calls };
    return (signal ? piscina.run(task, { signal }) : piscina.run(task)) as Promise<Outcome[]>;
  }

  #settle(id: number, batch: Batch, startedAt: number, rest: Outcome[], err: unknown): void {
    if (batch.onFast) this.#fastTasks--;
    else this.#slowTasks--;
    this.#busyMs += performance.now() - startedAt;
    batch.settled = true;
    if (err === null) {
      this.#deliver(id, batch, batch.jobs.length - rest.length, rest);
    } else {
      const outcome = this.#failureOf(err);
      for (const job of batch.jobs) if (job.state === 'running') this.#finish(job, outcome);
      this.#batches.delete(id);
    }
    // Early results travel on another channel and may still be on their way.
    if (batch.answered === batch.jobs.length) this.#batches.delete(id);
    this.#pump();
  }

  #failureOf(err: unknown): Outcome {
    const e = err as { name?: string; message?: string; code?: string };
    if (e?.name === 'AbortError') {
      return failure(ErrorCode.DeadlineExceeded, `call exceeded its deadline of ${this.#opts.deadlineMs} ms; its worker was replaced`);
    }
    if (e?.code === 'ERR_WORKER_OUT_OF_MEMORY') return failure(ErrorCode.Internal, `worker ran out of memory: ${e.message ?? ''}`);
    return failure(ErrorCode.Internal, `worker failed: ${e?.message ?? String(err)}`);
  }

  #deliver(id: number, batch: Batch, from: number, results: readonly Outcome[]): void {
    for (let i = 0; i < results.length; i++) {
      const job = batch.jobs[from + i];
      if (job === undefined || job.state !== 'running') continue;
      this.#finish(job, results[i] as Outcome);
      batch.answered++;
    }
    if (batch.settled && batch.answered === batch.jobs.length) this.#batches.delete(id);
  }

  #finish(job: Job, outcome: Outcome): void {
    job.state = 'finished';
    this.#running--;
    this.#completed++;
    if (!outcome.ok) this.#failed++;
    this.#run.record(outcome.runMs);
    this.#classifier.record(job.method, outcome.runMs);
    job.done(outcome, job.waitMs);
  }

  /**
   * Runs the module's maintain(ctx) as one slow-lane task: it counts against
   * the slow threads and never runs on the fast reserve. Returns null (and
   * runs nothing) when that would leave no thread free for foreground calls.
   */
  async maintain(ctx: unknown): Promise<Outcome | null> {
    if (this.#inline !== null) return runOther(this.#inline, { op: 'maintain', ctx });
    const piscina = this.#slowPool;
    if (piscina === null) return failure(ErrorCode.Internal, 'pool is not running');
    const free = this.#opts.threads - this.#slowTasks + Math.max(0, this.#opts.fastThreads - this.#fastTasks);
    if (this.#opts.threads - this.#slowTasks < 1 || free < 2 || this.queued > 0) return null;
    this.#slowTasks++;
    const started = performance.now();
    try {
      return (await piscina.run({ op: 'maintain', ctx } satisfies Task)) as Outcome;
    } catch (err) {
      return this.#failureOf(err);
    } finally {
      this.#slowTasks--;
        this.#busyMs += performance.now() - started;
      this.#pump();
    }
  }

  /** Calls waiting for a thread. */
  get queued(): number {
    return this.#fast.live + this.#slow.live;
  }

  stats(): PoolStats {
    const elapsed = performance.now() - this.#startedAt;
    const threads = this.#capacity;
    return {
      threads,
      slow_threads: this.#opts.inline ? 1 : this.#opts.threads,
      fast_threads: this.#opts.inline ? 0 : this.#opts.fastThreads,
      running: this.#running,
      queue_size: this.queued,
      queued_fast: this.#fast.live,
      queued_slow: this.#slow.live,
      max_queue: this.#opts.maxQueue,
      utilization: elapsed > 0 ? Math.round((this.#busyMs / (elapsed * threads)) * 1000) / 1000 : 0,
      completed: this.#completed,
      failed: this.#failed,
      rejected: this.#rejected,
      batches: this.#batchCount,
      avg_batch: this.#batchCount > 0 ? Math.round((this.#batchedCalls / this.#batchCount) * 100) / 100 : 0,
      wait_ms: this.#wait.summary(),
      run_ms: this.#run.summary(),
      lanes: this.#classifier.snapshot(),
    };
  }

  /** Stops the threads now; running tasks are abandoned. Safe to call twice. */
  async destroy(): Promise<void> {
    const pools = [this.#slowPool, this.#fastPool];
    this.#slowPool = null;
    this.#fastPool = null;
    await Promise.all(pools.map((p) => p?.destroy()));
  }
}
