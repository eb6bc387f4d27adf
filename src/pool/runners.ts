/**
 * The runners of one pool: the current one, which new tasks go to, and
 * those a reload replaced, which finish the tasks they hold and are then
 * stopped. Counts each runner's tasks so a replaced one stops the moment
 * its last task settles. A runner's threads are stopped only once none is
 * inside guarded native code (`Guards`).
 */
import type { Guards } from './guards.js';
import type { Runner, RunnerStats } from './runner.js';

/** A stop waits this long at most for a runner's threads inside native code (guardNative) to return. */
export const NATIVE_GRACE_MS = 10_000;

export class Runners {
  #current: Runner;
  readonly #guards: Guards;
  readonly #tasks = new Map<Runner, number>();
  readonly #replaced = new Set<Runner>();
  /** Runners being stopped that never became current (a reload whose module failed). */
  readonly #discarded = new Set<Runner>();
  #stopping: Promise<void> | undefined;

  constructor(first: Runner, guards: Guards) {
    this.#current = first;
    this.#guards = guards;
  }

  /** Where new tasks go. */
  get current(): Runner {
    return this.#current;
  }

  /** Runners a reload replaced that still finish tasks. */
  get replaced(): number {
    return this.#replaced.size;
  }

  /** Runs a task on the current runner, counted until it settles. */
  track<T>(task: (runner: Runner) => Promise<T>): Promise<T> {
    const runner = this.#current;
    this.#tasks.set(runner, (this.#tasks.get(runner) ?? 0) + 1);
    return task(runner).finally(() => {
      const left = (this.#tasks.get(runner) ?? 1) - 1;
      if (left > 0) return void this.#tasks.set(runner, left);
      this.#tasks.delete(runner);
      if (this.#replaced.has(runner)) void this.#stop(runner);
    });
  }

  /** New tasks go to `next`; the runner it replaces stops once its last task has settled. */
  swap(next: Runner): void {
    const old = this.#current;
    this.#current = next;
    this.#replaced.add(old);
    if (!this.#tasks.has(old)) void this.#stop(old);
  }

  /** Stops a runner that never became current (a reload whose module failed to load). */
  async discard(runner: Runner): Promise<void> {
    this.#discarded.add(runner);
    try {
      await this.#safely(runner);
    } finally {
      this.#discarded.delete(runner);
    }
  }

  async #stop(runner: Runner): Promise<void> {
    await this.#safely(runner);
    this.#replaced.delete(runner);
  }

  async #safely(runner: Runner): Promise<void> {
    await this.#guards.stopThreads(runner.threadIds(), NATIVE_GRACE_MS);
    await runner.destroy();
  }

  /** Ids of every runner's threads now (replaced ones still finishing included). */
  threadIds(): number[] {
    return [this.#current, ...this.#replaced, ...this.#discarded].flatMap((r) => r.threadIds());
  }

  stats(): RunnerStats {
    const all = [this.#current, ...this.#replaced].map((r) => r.stats());
    const current = all[0] as RunnerStats;
    return { ...current, threads: all.reduce((n, s) => n + s.threads, 0) };
  }

  /** Stops every runner (the pool's guards were already asked to stop every thread). Idempotent. */
  destroy(): Promise<void> {
    this.#stopping ??= Promise.all([this.#current, ...this.#replaced].map((r) => r.destroy())).then(() => {});
    return this.#stopping;
  }
}
