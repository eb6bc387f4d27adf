/**
 * The worker pool: a bounded FIFO of calls in front of piscina, feeding it no
 * more tasks than it has threads. Holding the queue here (not in piscina)
 * means a call that has not started can be dropped when its client leaves,
 * the queue bound answers -32003 at once, and wait time is measured exactly.
 *
 * This is the one place that turns piscina's own failures (worker exited,
 * aborted, out of memory) into JSON-RPC codes.
 */
import { Piscina } from 'piscina';
import { performance } from 'node:perf_hooks';
import { ErrorCode } from './errors.js';
import { Latency, type LatencySummary } from './metrics.js';
import { execute, loadDispatch, type Outcome, type Task } from '../workers/runtime.js';

export interface PoolOptions {
  readonly dispatchUrl: string;
  readonly threads: number;
  readonly maxQueue: number;
  readonly deadlineMs: number;
  readonly workerHeapMb: number;
  readonly inline: boolean;
}

type Done = (outcome: Outcome, waitMs: number) => void;

/** A submitted call. `cancel()` drops it if it has not started yet. */
export interface Ticket {
  cancel(): boolean;
}

interface Job extends Ticket {
  readonly task: Task;
  readonly done: Done;
  readonly enqueuedAt: number;
  state: 'queued' | 'running' | 'finished' | 'cancelled';
}

export interface PoolStats {
  readonly threads: number;
  readonly running: number;
  readonly queue_size: number;
  readonly max_queue: number;
  readonly utilization: number;
  readonly completed: number;
  readonly failed: number;
  readonly rejected: number;
  readonly wait_ms: LatencySummary;
  readonly run_ms: LatencySummary;
}

const WORKER_URL = new URL('../workers/worker.js', import.meta.url);

function failure(code: number, message: string, data?: unknown): Outcome {
  return { ok: false, error: data === undefined ? { code, message } : { code, message, data }, runMs: 0 };
}

/** Owns the piscina instance (or, in inline mode, the main-thread module). */
export class Pool {
  readonly #opts: PoolOptions;
  #piscina: Piscina | null = null;
  #inlineModule: Awaited<ReturnType<typeof loadDispatch>> | null = null;
  // FIFO with lazy deletion: cancelled jobs stay until they reach the head.
  #queue: Job[] = [];
  #head = 0;
  #queued = 0;
  #running = 0;
  #completed = 0;
  #failed = 0;
  #rejected = 0;
  #busyMs = 0;
  readonly #startedAt = performance.now();
  readonly #wait = new Latency();
  readonly #run = new Latency();
  #idleWaiters: (() => void)[] = [];

  constructor(opts: PoolOptions) {
    this.#opts = opts;
  }

  /** Starts the threads and proves the dispatch module loads; rejects if it does not. */
  async start(): Promise<void> {
    if (this.#opts.inline) {
      this.#inlineModule = await loadDispatch(this.#opts.dispatchUrl);
      return;
    }
    this.#piscina = new Piscina({
      filename: WORKER_URL.href,
      workerData: { dispatchUrl: this.#opts.dispatchUrl },
      minThreads: this.#opts.threads,
      maxThreads: this.#opts.threads,
      idleTimeout: Number.MAX_SAFE_INTEGER,
      ...(this.#opts.workerHeapMb > 0 ? { resourceLimits: { maxOldGenerationSizeMb: this.#opts.workerHeapMb } } : {}),
    });
    // A worker that dies is replaced by piscina; its task is rejected and
    // answered below. Nothing else must reach the process as an error.
    this.#piscina.on('error', () => {});
    const probe = (await this.#piscina.run({ op: 'ping' } satisfies Task)) as Outcome;
    if (!probe.ok) throw new Error(probe.error.message);
  }

  /** Queues a task; `done` is called exactly once unless the ticket is cancelled first. */
  submit(task: Task, done: Done): Ticket {
    const job: Job = {
      task,
      done,
      enqueuedAt: performance.now(),
      state: 'queued',
      cancel: () => {
        if (job.state !== 'queued') return false;
        job.state = 'cancelled';
        this.#queued--;
        return true;
      },
    };
    if (this.#queued >= this.#opts.maxQueue && this.#running >= this.#opts.threads) {
      this.#rejected++;
      job.state = 'finished';
      done(failure(ErrorCode.Overloaded, 'server overloaded: pool queue is full, retry later', { retry_after_ms: 100 }), 0);
      return job;
    }
    this.#queue.push(job);
    this.#queued++;
    this.#pump();
    return job;
  }

  #next(): Job | undefined {
    while (this.#head < this.#queue.length) {
      const job = this.#queue[this.#head++] as Job;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      if (job.state === 'queued') return job;
    }
    return undefined;
  }

  #pump(): void {
    while (this.#running < this.#opts.threads && this.#queued > 0) {
      const job = this.#next();
      if (job === undefined) break;
      this.#queued--;
      this.#start(job);
    }
  }

  #start(job: Job): void {
    job.state = 'running';
    this.#running++;
    const startedAt = performance.now();
    const waitMs = startedAt - job.enqueuedAt;
    this.#wait.record(waitMs);
    this.#runTask(job.task).then((outcome) => {
      this.#running--;
      const ranMs = performance.now() - startedAt;
      this.#busyMs += ranMs;
      this.#run.record(ranMs);
      this.#completed++;
      if (!outcome.ok) this.#failed++;
      job.state = 'finished';
      this.#pump();
      job.done(outcome, waitMs);
      if (this.#running === 0 && this.#queued === 0) this.#notifyIdle();
    });
  }

  async #runTask(task: Task): Promise<Outcome> {
    if (this.#inlineModule !== null) return execute(this.#inlineModule, task);
    const piscina = this.#piscina;
    if (piscina === null) return failure(ErrorCode.Internal, 'pool is not running');
    const deadline = this.#opts.deadlineMs;
    const signal = deadline > 0 && task.op === 'call' ? AbortSignal.timeout(deadline) : undefined;
    try {
      return (await piscina.run(task, signal ? { signal } : {})) as Outcome;
    } catch (err) {
      if (signal?.aborted) {
        return failure(ErrorCode.DeadlineExceeded, `call exceeded its deadline of ${deadline} ms; its worker was replaced`);
      }
      const e = err as { message?: string; code?: string };
      if (e.code === 'ERR_WORKER_OUT_OF_MEMORY') return failure(ErrorCode.Internal, `worker ran out of memory: ${e.message ?? ''}`);
      return failure(ErrorCode.Internal, `worker failed: ${e.message ?? String(err)}`);
    }
  }

  #notifyIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.#running === 0 && this.#queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  get running(): number {
    return this.#running;
  }

  get queued(): number {
    return this.#queued;
  }

  stats(): PoolStats {
    const elapsed = performance.now() - this.#startedAt;
    const threads = this.#opts.inline ? 1 : this.#opts.threads;
    return {
      threads,
      running: this.#running,
      queue_size: this.#queued,
      max_queue: this.#opts.maxQueue,
      utilization: elapsed > 0 ? Math.round((this.#busyMs / (elapsed * threads)) * 1000) / 1000 : 0,
      completed: this.#completed,
      failed: this.#failed,
      rejected: this.#rejected,
      wait_ms: this.#wait.summary(),
      run_ms: this.#run.summary(),
    };
  }

  /** Stops the threads now; running tasks are abandoned. Safe to call twice. */
  async destroy(): Promise<void> {
    const p = this.#piscina;
    this.#piscina = null;
    if (p !== null) await p.destroy();
  }
}

