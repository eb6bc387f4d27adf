/**
 * The pool's waiting calls: one FIFO per kind (fast, cpu, wait), one for
 * calls that arrive before the dispatch module has loaded, and the first
 * bursts of new methods held while one probe call finds out what they are.
 * Knows nothing about threads or batches: the pool takes from here.
 */
import type { Job } from './batch.js';
import { Fifo } from './fifo.js';
import type { CallKind, RunKind } from './lanes.js';

export class Queues {
  /** Calls submitted before the module loaded: their kind is not known yet. */
  readonly early = new Fifo<Job>();
  readonly fast = new Fifo<Job>();
  readonly cpu = new Fifo<Job>();
  readonly wait = new Fifo<Job>();
  /** New methods being probed: the probe call and the calls waiting for its verdict. */
  readonly #held = new Map<string, { readonly probe: Job; readonly jobs: Job[] }>();
  #heldCount = 0;

  /** Calls waiting, held ones included. */
  get size(): number {
    return this.early.live + this.fast.live + this.cpu.live + this.wait.live + this.#heldCount;
  }

  get held(): number {
    return this.#heldCount;
  }

  /**
   * Queues a call of kind `kind`. The first call of a new method becomes its
   * probe (queued to run alone) and is returned; later ones are held.
   */
  add(job: Job, kind: CallKind): Job | null {
    job.kind = kind;
    if (kind === 'new') {
      const held = this.#held.get(job.method);
      if (held !== undefined) {
        job.state = 'held';
        held.jobs.push(job);
        this.#heldCount++;
        return null;
      }
      this.#held.set(job.method, { probe: job, jobs: [] });
      job.probe = true;
      job.kind = 'wait';
      this.#queue(job).push(job);
      return job;
    }
    job.state = 'queued';
    this.#queue(job).push(job);
    return null;
  }

  /** Ends the hold on `method`'s first burst: its calls join the queue of `kind`. */
  release(method: string, kind: RunKind): void {
    const held = this.#held.get(method);
    if (held === undefined) return;
    this.#held.delete(method);
    for (const job of held.jobs) {
      if (job.state !== 'held') continue;
      this.#heldCount--;
      job.kind = kind;
      job.state = 'queued';
      this.#queue(job).push(job);
    }
  }

  /** Drops a call that has not started; false if it has. */
  cancel(job: Job, loaded: boolean): boolean {
    if (job.state === 'held') this.#heldCount--;
    else if (job.state === 'queued') (loaded ? this.#queue(job) : this.early).live--;
    else return false;
    job.state = 'cancelled';
    return true;
  }

  /** Calls taken back from a thread go back to the head of their queues, in order. */
  putBack(jobs: readonly Job[]): void {
    for (const job of jobs) job.state = 'queued';
    for (const [q, kind] of [
      [this.fast, 'fast'],
      [this.cpu, 'cpu'],
      [this.wait, 'wait'],
    ] as const) {
      q.unshift(jobs.filter((j) => j.kind === kind));
    }
  }

  /** Empties every queue and hold; returns the calls that were waiting. */
  drain(): Job[] {
    const out: Job[] = [];
    for (const q of [this.early, this.fast, this.cpu, this.wait]) for (let job = q.shift(); job !== undefined; job = q.shift()) out.push(job);
    for (const held of this.#held.values()) for (const job of held.jobs) if (job.state === 'held') out.push(job);
    this.#held.clear();
    this.#heldCount = 0;
    return out;
  }

  #queue(job: Job): Fifo<Job> {
    return job.kind === 'fast' ? this.fast : job.kind === 'cpu' ? this.cpu : this.wait;
  }
}
