/**
 * A FIFO queue with lazy deletion: an item whose `state` is no longer
 * 'queued' (a cancelled call) is skipped when it reaches the head, so
 * cancelling is O(1). `live` counts the items still queued; whoever cancels
 * an item decrements it.
 */
export class Fifo<T extends { state: string }> {
  #items: T[] = [];
  #head = 0;
  live = 0;

  push(job: T): void {
    // Cancelled items must not pile up behind a slow head: sweep them when
    // they outnumber the live ones (amortised O(1)).
    if (this.#items.length - this.#head > 2 * this.live + 1024) {
      this.#items = this.#items.slice(this.#head).filter((j) => j.state === 'queued');
      this.#head = 0;
    }
    this.#items.push(job);
    this.live++;
  }

  /** Puts items back at the head, in the order given (calls taken back from a worker keep their turn). */
  unshift(jobs: readonly T[]): void {
    if (jobs.length === 0) return;
    if (this.#head >= jobs.length) {
      this.#head -= jobs.length;
      for (let i = 0; i < jobs.length; i++) this.#items[this.#head + i] = jobs[i] as T;
    } else {
      this.#items = [...jobs, ...this.#items.slice(this.#head)];
      this.#head = 0;
    }
    this.live += jobs.length;
  }

  /** Items held, live or cancelled (for tests). */
  get held(): number {
    return this.#items.length - this.#head;
  }

  /** The next live item, left in place. */
  peek(): T | undefined {
    while (this.#head < this.#items.length) {
      const job = this.#items[this.#head] as T;
      if (job.state === 'queued') return job;
      this.#head++;
    }
    return undefined;
  }

  shift(): T | undefined {
    while (this.#head < this.#items.length) {
      const job = this.#items[this.#head++] as T;
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      if (job.state === 'queued') {
        this.live--;
        return job;
      }
    }
    return undefined;
  }
}
