/**
 * A call waiting or running in the pool, and a batch of calls sent to one
 * thread with its shared progress record (layout in `contract.ts`). Only
 * the main-thread side of the compare-and-swap rules lives here.
 */
import { RESULT_FIELDS, Slot, UNPUBLISHED, slotWord, type Outcome } from '../contract/contract.js';
import type { CallKind, Lane, RunKind } from './lanes.js';

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
  /** queued: in the queue of its kind; held: first burst of a new method, waiting for its probe. */
  state: 'queued' | 'held' | 'running' | 'finished' | 'cancelled';
  kind: CallKind;
  /** This call probes a method never seen before. */
  probe: boolean;
  waitMs: number;
  /** While running: the batch and the call's index in it. */
  batch: Batch | undefined;
  index: number;
}

/** The main thread's view of the pool's progress record (layout in `contract.ts`). */
export interface ProgressViews {
  readonly states: Int32Array;
  readonly starts: Float64Array;
  readonly results: Float64Array;
  readonly lengths: Int32Array;
  readonly arena: Buffer;
}

/** What a batch is made of: `stoppable` when calls have a deadline (aborting then stops the thread). */
export type BatchOptions = Pick<Batch, 'id' | 'jobs' | 'lane' | 'slot' | 'base'> & { readonly stoppable: boolean; readonly views: ProgressViews };

export class Batch {
  readonly id: number;
  readonly jobs: readonly Job[];
  readonly lane: Lane;
  /** The kind of slot it holds: fast, or a slow call's cpu/wait. */
  readonly slot: RunKind;
  /** Its calls' first slot in the progress record, and the generation tagging them. */
  readonly base: number;
  readonly gen: number;
  readonly #views: ProgressViews;
  /** Present when calls have a deadline: aborting it stops the thread. */
  readonly abort: AbortController | undefined;
  readonly startedAt = performance.now();
  /** Calls this batch still owes an answer (running here, not finished or taken back). */
  open: number;
  /** The task has ended (the thread is free or gone). */
  settled = false;

  constructor({ id, jobs, lane, slot, stoppable, views, base }: BatchOptions) {
    this.id = id;
    this.jobs = jobs;
    this.lane = lane;
    this.slot = slot;
    this.open = jobs.length;
    this.abort = stoppable ? new AbortController() : undefined;
    this.#views = views;
    this.base = base;
    this.gen = id & 0x0fffffff;
    const queued = slotWord(this.gen, Slot.Queued);
    for (let i = 0; i < jobs.length; i++) {
      views.starts[base + i] = 0;
      Atomics.store(views.lengths, base + i, UNPUBLISHED);
      Atomics.store(views.states, base + i, queued);
    }
  }

  /** The Slot state of call i, or -1 once its slot belongs to a later batch. */
  state(i: number): number {
    const word = Atomics.load(this.#views.states, this.base + i);
    return word >>> 3 === this.gen ? word & 7 : -1;
  }

  /** When call i started running (ms since the epoch); 0 if the worker has not written it yet. */
  startedAtMs(i: number): number {
    return this.#views.starts[this.base + i] as number;
  }

  /** Main thread's move: one of the CAS rules. True if it won. */
  swap(i: number, from: number, to: number): boolean {
    const expect = slotWord(this.gen, from);
    return Atomics.compareExchange(this.#views.states, this.base + i, expect, slotWord(this.gen, to)) === expect;
  }

  /** Call i's result if it finished and its result lies in the arena (else undefined). */
  arenaResult(i: number): Outcome | undefined {
    if (this.state(i) !== Slot.Done) return undefined;
    const len = Atomics.load(this.#views.lengths, this.base + i);
    if (len < 0) return undefined;
    const r = (this.base + i) * RESULT_FIELDS;
    const off = this.#views.results[r] as number;
    return { ok: true, json: this.#views.arena.toString('utf8', off, off + len), runMs: this.#views.results[r + 1] as number };
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
