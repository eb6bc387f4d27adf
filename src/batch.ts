/**
 * A call waiting or running in the pool, and a batch of calls sent to one
 * thread with its shared progress record (layout in `contract.ts`). Only
 * the main-thread side of the compare-and-swap rules lives here.
 */
import { Slot, progressBytes, statesBytes, type Outcome } from './contract.js';
import type { Kind, Lane } from './lanes.js';

export type Done = (outcome: Outcome, waitMs: number) => void;

/** A submitted call. `cancel()` drops it if it has not started yet. */
export interface Ticket {
  cancel(): boolean;
}

export interface Job extends Ticket {
  readonly method: string;
  readonly params: string;
  readonly done: Done;
  readonly enqueuedAt: number;
  /** queued: in a lane queue; held: first burst of a new method, waiting for its probe. */
  state: 'queued' | 'held' | 'running' | 'finished' | 'cancelled';
  kind: Kind;
  /** This call probes a method never seen before. */
  probe: boolean;
  waitMs: number;
  /** While running: the batch and the call's index in it. */
  batch: Batch | undefined;
  index: number;
}

export class Batch {
  readonly id: number;
  readonly jobs: readonly Job[];
  readonly lane: Lane;
  /** The kind of slot it holds: fast, or a slow call's cpu/wait. */
  readonly slot: 'fast' | 'cpu' | 'wait';
  readonly progress: SharedArrayBuffer;
  readonly #states: Int32Array;
  readonly #starts: Float64Array;
  readonly abort = new AbortController();
  readonly startedAt = performance.now();
  /** Calls this batch still owes an answer (running here, not finished or taken back). */
  open: number;
  /** The task has ended (the thread is free or gone). */
  settled = false;

  constructor(id: number, jobs: readonly Job[], lane: Lane, slot: 'fast' | 'cpu' | 'wait') {
    this.id = id;
    this.jobs = jobs;
    this.lane = lane;
    this.slot = slot;
    this.open = jobs.length;
    this.progress = new SharedArrayBuffer(progressBytes(jobs.length));
    this.#states = new Int32Array(this.progress, 0, jobs.length);
    this.#starts = new Float64Array(this.progress, statesBytes(jobs.length), jobs.length);
  }

  state(i: number): number {
    return Atomics.load(this.#states, i);
  }

  /** When call i started running (ms since the epoch). Valid once its state is Running. */
  startedAtMs(i: number): number {
    return this.#starts[i] as number;
  }

  /** Main thread's move: one of the CAS rules. True if it won. */
  swap(i: number, from: number, to: number): boolean {
    return Atomics.compareExchange(this.#states, i, from, to) === from;
  }

  /** Takes back every call not yet started; returns their jobs in order. */
  withdrawFrom(start: number): Job[] {
    const out: Job[] = [];
    for (let i = start; i < this.jobs.length; i++) {
      const job = this.jobs[i] as Job;
      if (job.batch === this && job.state === 'running' && this.swap(i, Slot.Queued, Slot.Withdrawn)) out.push(job);
    }
    return out;
  }
}
