/**
 * Feeds the slow piscina so that a cold burst is served by the threads
 * that are up, not held behind threads still booting.
 *
 * piscina 5 left to itself starts one thread per queued task, all at once,
 * and when a thread comes free it hands the next queued task to an idle
 * thread — listing booting threads first (piscinajs/piscina#1056). In a
 * cold burst the calls were bound to threads that took ~200 ms to boot
 * together on two cores while the warm threads sat idle after their first
 * call. Here tasks wait in this FIFO instead; one goes to piscina when a
 * thread whose module has loaded is idle (piscina then gives it to a ready
 * thread at once), or to start a thread while fewer than `bootAtOnce`
 * threads are booting — however they were started: threads the pool
 * readies ahead of a burst count too, so a burst that comes as they boot
 * waits for them instead of starting more beside them on the same cores.
 * docs/pool.md has the timeline and figures.
 *
 * (Preferring loaded threads in piscina's own balancer as well, as upstream's
 * fix does, was measured worse here: piscina then started a thread for every
 * task submitted while its queue held one, 17 threads for a 10-call burst.)
 */
import type { Piscina } from 'piscina';
import type { ThreadNews } from '../contract/contract.js';
import { Fifo } from './fifo.js';

/** Longest wait for a ping's answer before it no longer holds calls (a boot takes tens of ms). */
const PING_WAIT_MS = 2000;

interface Waiting {
  state: 'queued' | 'sent' | 'cancelled';
  readonly send: () => void;
  readonly cancel: (err: Error) => void;
}

/** What piscina itself says of a task aborted before it started. */
function abortError(): Error {
  const err = new Error('The task has been aborted');
  err.name = 'AbortError';
  return err;
}

export class SlowFeed {
  readonly #piscina: Piscina;
  readonly #bootAtOnce: number;
  readonly #waiting = new Fifo<Waiting>();
  /** Threads of this piscina whose dispatch module has loaded (ids; pruned against the live threads). */
  readonly #loaded = new Set<number>();
  /** Threads whose module failed to load: up, but not booting (ids; pruned likewise). */
  readonly #failed = new Set<number>();
  #inFlight = 0;
  /** Of those, tasks sent when no loaded thread was idle: each started a thread, or waits on a boot. */
  #onBoots = 0;
  /** Pings sent to start threads ahead of a burst (`warm`), not yet answered. */
  #pings = 0;
  /** Threads to have ahead of a burst. */
  #warmTo = 0;
  /** The latest thread to finish loading failed: start none ahead of calls until one loads again (threads started for calls retry, paced by the pool). */
  #loadsFailing = false;
  /** The task that starts a thread ahead of a burst (it runs nothing). */
  readonly #warmTask: unknown;
  #closed = false;

  constructor(piscina: Piscina, bootAtOnce: number, warmTask: unknown) {
    this.#piscina = piscina;
    this.#warmTask = warmTask;
    this.#bootAtOnce = Math.max(1, bootAtOnce);
  }

  /** Tasks handed to piscina and not yet settled. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Tasks waiting here for a thread. */
  get waiting(): number {
    return this.#waiting.live;
  }

  /** A thread's news: a loaded module makes it a thread tasks may go to. */
  news(m: ThreadNews): void {
    if (m.thread === 'loaded') this.#loaded.add(m.id);
    else this.#loaded.delete(m.id);
    if (m.thread === 'failed') this.#failed.add(m.id);
    else this.#failed.delete(m.id);
    if (m.thread === 'loaded' || m.thread === 'failed') this.#loadsFailing = m.thread === 'failed';
    this.#pump();
  }

  /** Runs `task` on a slow thread, in turn; rejects like piscina's `run` (an AbortError if `signal` aborts first). */
  run(task: unknown, signal: AbortSignal | undefined): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(new Error('Terminating worker thread'));
      const onAbort = (): void => {
        if (w.state !== 'queued') return;
        w.state = 'cancelled';
        this.#waiting.live--;
        reject(abortError());
      };
      const w: Waiting = {
        state: 'queued',
        send: () => {
          signal?.removeEventListener('abort', onAbort);
          const onBoot = !this.#loadedIdle();
          this.#inFlight++;
          if (onBoot) this.#onBoots++;
          const settled = (signal === undefined ? this.#piscina.run(task) : this.#piscina.run(task, { signal })) as Promise<unknown>;
          settled.then(resolve, reject).finally(() => {
            this.#inFlight--;
            if (onBoot) this.#onBoots--;
            this.#pump();
          });
        },
        cancel: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      if (signal?.aborted) return reject(abortError());
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(w);
      this.#pump();
    });
  }

  /**
   * Starts threads until piscina has `threads` (booting ones count), ahead
   * of the calls that may come — one at a time, in the background: a boot
   * is tens of ms of CPU, and the calls that come meanwhile (a fast burst)
   * share the cores with it. Calls waiting here start their own boots
   * (`bootAtOnce`), and those count: the first of them finds this boot
   * under way.
   */
  warm(threads: number): void {
    this.#warmTo = threads;
    this.#pump();
  }

  /**
   * One more thread, if the warm target is not met, no thread boots and no
   * call waits: piscina starts a thread for a task that finds no idle ready
   * thread, so pings go until one has started one (those that land on an
   * idle thread answer at once).
   */
  #warmStep(): void {
    const p = this.#piscina;
    if (this.#closed || this.#loadsFailing || this.#waiting.live > 0 || this.#pings > 0) return;
    const threads = p.threads.length;
    if (threads >= this.#warmTo || this.#booting() > 0) return;
    for (let sent = 0; p.threads.length === threads && sent <= threads; sent++) {
      this.#pings++;
      let counted = true;
      const uncount = (): void => {
        if (!counted) return;
        counted = false;
        clearTimeout(timer);
        this.#pings--;
        this.#pump();
      };
      // A thread that dies while it boots leaves its task in piscina's queue: stop waiting for it.
      const timer = setTimeout(uncount, PING_WAIT_MS);
      timer.unref();
      (p.run(this.#warmTask) as Promise<unknown>).catch(() => {}).finally(uncount);
    }
  }

  /** Fails every task still waiting (the pool is being destroyed). */
  close(): void {
    this.#closed = true;
    for (let w = this.#waiting.shift(); w !== undefined; w = this.#waiting.shift()) {
      w.state = 'cancelled';
      w.cancel(new Error('Terminating worker thread'));
    }
  }

  #pump(): void {
    while (this.#waiting.live > 0 && this.#room()) {
      const w = this.#waiting.shift() as Waiting;
      w.state = 'sent';
      w.send();
    }
    this.#warmStep();
  }

  /** Whether a loaded thread is idle: fewer tasks on loaded threads than loaded threads. */
  #loadedIdle(): boolean {
    return this.#inFlight - this.#onBoots < this.#loaded.size;
  }

  /**
   * Whether one more task may go to piscina now: a loaded thread is idle,
   * or fewer than `bootAtOnce` threads are booting (piscina starts one for
   * a task that finds no idle ready thread).
   */
  #room(): boolean {
    // A ping still in piscina's queue would go first, and piscina would start one more thread for
    // the task behind it: wait for the pings to be taken (each answer pumps again). Holding calls
    // for every ping not yet answered was measured worse: a ping that waits for a busy thread then
    // held the calls behind it (docs/pool.md).
    if (this.#pings > 0 && this.#piscina.queueSize > 0) return false;
    if (this.#loadedIdle()) return true;
    return this.#booting() < this.#bootAtOnce;
  }

  /** Threads of this piscina still booting: neither loaded nor failed. */
  #booting(): number {
    // Threads that exited leave ids behind (piscina reports their exit with id -1): prune when they
    // outnumber the threads. One left while a replacement boots counts that boot as done.
    const threads = this.#piscina.threads;
    if (this.#loaded.size + this.#failed.size > threads.length) {
      const live = new Set(threads.map((t) => t.threadId));
      for (const id of this.#loaded) if (!live.has(id)) this.#loaded.delete(id);
      for (const id of this.#failed) if (!live.has(id)) this.#failed.delete(id);
    }
    return threads.length - this.#loaded.size - this.#failed.size;
  }
}
