/**
 * Builds the pool the daemon runs from the resolved config: the pool's
 * options, and which runner runs its batches (piscina threads, or the main
 * thread in the bench's `--inline` comparison).
 */
import type { Config } from './config.js';
import { InlineRunner } from './inline-runner.js';
import { PiscinaRunner } from './piscina-runner.js';
import { Pool } from './pool.js';

export { Pool } from './pool.js';

/** Methods the pool remembers, and bytes of their names (SPEC §6: bounded in bytes). */
const MAX_METHODS = 4096;
const MAX_METHOD_TABLE_BYTES = 512 * 1024;
/** Threads started at once (in parallel) and kept while idle. */
const MIN_THREADS = 2;

export function createPool(config: Config, dispatchUrl: string): Pool {
  return new Pool(
    {
      threads: config.inline ? 1 : config.threads,
      fastThreads: config.inline ? 0 : config.fastThreads,
      cpuThreads: config.inline ? 1 : config.cpuThreads,
      maxQueue: config.maxQueue,
      maxBatch: config.maxBatch,
      laneThresholdMs: config.laneThresholdMs,
      deadlineMs: config.inline ? 0 : config.callDeadlineMs,
      maxResultBytes: config.maxResultBytes,
      maxMethods: MAX_METHODS,
      maxMethodTableBytes: MAX_METHOD_TABLE_BYTES,
    },
    (sink, progress) =>
      config.inline
        ? new InlineRunner(dispatchUrl, sink, progress)
        : new PiscinaRunner(
            {
              dispatchUrl,
              threads: config.threads,
              fastThreads: config.fastThreads,
              minThreads: MIN_THREADS,
              slowNice: config.slowNice,
              workerHeapMb: config.workerHeapMb,
              idleMs: config.threadIdleMs,
            },
            sink,
            progress,
          ),
  );
}
