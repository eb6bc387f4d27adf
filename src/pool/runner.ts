/**
 * The seam between the pool's scheduling (queues, lanes, batches, fate
 * rules: `pool.ts`) and what runs a batch (piscina threads, the main thread
 * for the bench's comparison, or a fake in unit tests).
 */
import type { WireError } from '../contract/errors.js';
import type { CallResult, Flush, Outcome, PingReply, Progress, Task, ThreadNews } from '../contract/contract.js';
import type { Lane } from './lanes.js';

export type CallsTask = Extract<Task, { op: 'calls' }>;

/** Where a runner delivers what threads say: a result, that results wait in the arena, or news of a thread. */
export type ResultSink = (r: CallResult | Flush | ThreadNews) => void;

/** Why a task did not complete: already a JSON-RPC error, turned into one by the runner. */
export class RunFailure extends Error {
  readonly error: WireError;
  constructor(error: WireError) {
    super(error.message);
    this.error = error;
  }
  override get name(): string {
    return 'RunFailure';
  }
}

export interface RunnerStats {
  readonly threads: number;
  readonly max_threads: number;
  /** Threads started since the pool began (the first ones included). */
  readonly threads_created: number;
  /** Threads that retired because recent demand no longer needed them. */
  readonly threads_retired_idle: number;
}

export interface Runner {
  /**
   * Resolves once the dispatch module has loaded (in one worker), with its
   * declared lanes; rejects with the module's load error when it failed in
   * every thread that tried at the start.
   */
  readonly ready: Promise<PingReply>;
  /**
   * Runs a batch on a thread of `lane`. Results go to the sink as calls
   * finish, except the last call's, which may come back as the task's value;
   * the promise settles when the task ends, rejecting with a RunFailure if
   * the thread was lost (or the signal aborted it, which stops the thread).
   */
  run(task: CallsTask, lane: Lane, signal: AbortSignal | undefined): Promise<CallResult | null>;
  /** Runs the module's maintain(ctx) on a slow thread; never rejects. */
  maintain(ctx: unknown, maxResultBytes: number): Promise<Outcome>;
  stats(): RunnerStats;
  /** Ids of this runner's threads now (for a safe stop: `Guards.stopThreads`). */
  threadIds(): number[];
  /**
   * Retires one idle slow-call thread, if there is one above the threads
   * kept warm; true if one was asked to go.
   */
  retireIdle(keep: number): boolean;
  /** Starts slow-call threads, in parallel, until there are `threads` (those booting count). */
  warm(threads: number): void;
  /** Stops the threads (running tasks are abandoned). Idempotent. */
  destroy(): Promise<void>;
}

/**
 * A runner with no threads of its own (inline mode, a unit test's fake):
 * nothing to count, retire or stop.
 */
export abstract class ThreadlessRunner implements Runner {
  abstract readonly ready: Promise<PingReply>;
  abstract run(task: CallsTask, lane: Lane, signal: AbortSignal | undefined): Promise<CallResult | null>;
  abstract maintain(ctx: unknown, maxResultBytes: number): Promise<Outcome>;

  stats(): RunnerStats {
    return { threads: 0, max_threads: 0, threads_created: 0, threads_retired_idle: 0 };
  }

  retireIdle(): boolean {
    return false;
  }

  warm(): void {}

  threadIds(): number[] {
    return [];
  }

  async destroy(): Promise<void> {}
}

/** Builds a runner that delivers results to `sink` and shares `progress` with its threads. */
export type RunnerFactory = (sink: ResultSink, progress: Progress) => Runner;
