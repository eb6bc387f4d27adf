/**
 * The main thread's side of the native guard (`guardNative`, contract.ts):
 * a thread is terminated only where that is safe — in JavaScript, never
 * inside native code, where terminating can abort the whole process. A stop
 * asked for while the thread is in native code waits until it returns.
 */
import { GUARD_FIELDS, Guard, type Progress } from '../contract/contract.js';

/** How often a stop waiting for native code to return looks again (ms). */
const POLL_MS = 2;

export class Guards {
  readonly #words: Int32Array;
  readonly #runners: Int32Array;
  /** Stops waiting for a thread to leave native code, by guard slot. */
  readonly #waiting = new Map<number, (() => void)[]>();
  #timer: NodeJS.Timeout | undefined;

  constructor(progress: Progress) {
    this.#words = new Int32Array(progress.guards);
    this.#runners = new Int32Array(progress.runners);
  }

  /** Region `region` starts a task: no thread runs it yet. */
  assign(region: number): void {
    Atomics.store(this.#runners, region, 0);
  }

  /** Calls `stop` once the thread running `region`'s task may be terminated: at once unless it is inside native code. */
  whenStoppable(region: number, stop: () => void): void {
    const slot = Atomics.load(this.#runners, region) - 1;
    if (slot < 0) return stop();
    this.#whenSlotStoppable(slot, stop);
  }

  #whenSlotStoppable(slot: number, stop: () => void): void {
    const at = slot * GUARD_FIELDS;
    for (;;) {
      const was = Atomics.compareExchange(this.#words, at, Guard.Js, Guard.Stopping);
      if (was !== Guard.Native && was !== Guard.StopWanted) return stop();
      if (was === Guard.StopWanted || Atomics.compareExchange(this.#words, at, Guard.Native, Guard.StopWanted) === Guard.Native) break;
    }
    const list = this.#waiting.get(slot) ?? [];
    list.push(stop);
    this.#waiting.set(slot, list);
    this.#timer ??= setInterval(() => this.#poll(), POLL_MS);
  }

  #poll(): void {
    for (const [slot, stops] of this.#waiting) {
      const state = Atomics.load(this.#words, slot * GUARD_FIELDS);
      if (state === Guard.Native || state === Guard.StopWanted) continue;
      this.#waiting.delete(slot);
      for (const stop of stops) stop();
    }
    if (this.#waiting.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** Threads inside native code right now. */
  get inNative(): number {
    let n = 0;
    for (let at = 0; at < this.#words.length; at += GUARD_FIELDS) {
      const s = Atomics.load(this.#words, at);
      if (s === Guard.Native || s === Guard.StopWanted) n++;
    }
    return n;
  }

  /**
   * Asks every thread to stop and resolves once none is inside native code
   * (so all may be terminated), or after `graceMs` in any case.
   */
  stopAll(graceMs: number): Promise<void> {
    return this.#stopWhere(() => true, graceMs);
  }

  #stopWhere(which: (slot: number) => boolean, graceMs: number): Promise<void> {
    return new Promise((resolve) => {
      let open = 1;
      const timer = setTimeout(resolve, graceMs);
      const one = (): void => {
        if (--open === 0) {
          clearTimeout(timer);
          resolve();
        }
      };
      for (let slot = 0; slot * GUARD_FIELDS < this.#words.length; slot++) {
        if (Atomics.load(this.#words, slot * GUARD_FIELDS) === Guard.Free || !which(slot)) continue;
        open++;
        this.#whenSlotStoppable(slot, one);
      }
      one();
    });
  }

  /** Asks threads `threadIds` to stop; resolves once none of them is inside native code, or after `graceMs`. */
  stopThreads(threadIds: readonly number[], graceMs: number): Promise<void> {
    const ids = new Set(threadIds);
    return this.#stopWhere((slot) => ids.has(Atomics.load(this.#words, slot * GUARD_FIELDS + 1)), graceMs);
  }

  /**
   * Frees the slots of threads that are gone: every slot whose owner is not
   * among `live` (the ids of the threads running now). By sweep, not by the
   * id a thread had: a Worker's threadId reads -1 once it has stopped, often
   * before its exit is reported. A slot whose owner is not written yet (a
   * thread taking it this instant) is left alone.
   */
  keepOnly(live: ReadonlySet<number>): void {
    for (let at = 0; at < this.#words.length; at += GUARD_FIELDS) {
      const owner = Atomics.load(this.#words, at + 1);
      if (owner === 0 || live.has(owner) || Atomics.load(this.#words, at) === Guard.Free) continue;
      Atomics.store(this.#words, at + 1, 0);
      Atomics.store(this.#words, at, Guard.Free);
    }
    if (this.#waiting.size > 0) this.#poll();
  }

  /** Stops polling (the pool is gone). */
  dispose(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const stops of this.#waiting.values()) for (const stop of stops) stop();
    this.#waiting.clear();
  }
}

/**
 * Guard slots for a pool of `threads` threads: room for threads still
 * stopping while their replacements start, and for a reload's new threads
 * beside the old ones.
 */
export function guardSlots(threads: number): number {
  return threads * 3 + 8;
}
