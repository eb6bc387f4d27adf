/**
 * What the pool is built with, and what a reload reports: data only, so the
 * pool's callers and its collaborators share them without importing the pool.
 */

/** What a reload that succeeded reports. */
export interface ReloadReport {
  /** Reloads since the daemon started, this one included. */
  readonly reloads: number;
  /** How long the new threads took to load the module (ms). */
  readonly load_ms: number;
  /** Methods the new module declares a lane for. */
  readonly lanes: number;
}

export interface PoolOptions {
  /** Threads slow calls may occupy (blocking calls up to this many at once). */
  readonly threads: number;
  /** Extra threads only fast calls may use. */
  readonly fastThreads: number;
  /** Slow CPU-bound calls at once (normally the number of cores). */
  readonly cpuThreads: number;
  readonly maxQueue: number;
  readonly maxBatch: number;
  readonly laneThresholdMs: number;
  /** Per-call deadline from the moment the call starts (ms); 0: none. */
  readonly deadlineMs: number;
  readonly maxResultBytes: number;
  /** Methods remembered, and bytes of their names. */
  readonly maxMethods: number;
  readonly maxMethodTableBytes: number;
  /** Slow-call threads kept however quiet it is (started with the daemon). */
  readonly quietThreads: number;
  /** Slow-call threads readied when calls come, kept for the demand window after the last (demand.ts). */
  readonly warmThreads: number;
  /** An idle thread beyond recent demand retires, one per this period (ms). */
  readonly retireEveryMs: number;
  /** How far back "recent demand" looks (ms): the most slow threads busy at once in it are kept. */
  readonly demandWindowMs: number;
}
