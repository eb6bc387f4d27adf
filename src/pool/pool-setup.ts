/**
 * Builds the pool the daemon runs from the resolved config: the pool's
 * options, and which runner runs its batches (piscina threads, or the main
 * thread in the bench's `--inline` comparison).
 */
import type { Config } from '../config.js';
import { InlineRunner } from './inline-runner.js';
import { PiscinaRunner } from './piscina-runner.js';
import { Pool } from './pool.js';

export { Pool } from './pool.js';

/** Methods the pool remembers, and bytes of their names (SPEC §6: bounded in bytes). */
const MAX_METHODS = 4096;
const MAX_METHOD_TABLE_BYTES = 512 * 1024;
/**
 * Slow-call threads readied at once when calls come (the quiet ones,
 * `--quiet-threads`, start with the daemon), kept for the demand window
 * after the last call: the burst a call leads finds three.
 */
const WARM_THREADS = 3;
/** Recent demand: the most slow threads busy at once within this many retire periods (--thread-idle-ms) stay warm: 5 min by default. */
const DEMAND_WINDOWS = 10;

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
      quietThreads: config.inline ? 0 : Math.min(config.quietThreads, config.threads),
      warmThreads: config.inline ? 0 : Math.min(WARM_THREADS, config.threads),
      retireEveryMs: config.threadIdleMs,
      demandWindowMs: DEMAND_WINDOWS * config.threadIdleMs,
    },
    (sink, progress) =>
      config.inline
        ? new InlineRunner(dispatchUrl, sink, progress)
        : new PiscinaRunner(
            {
              dispatchUrl,
              threads: config.threads,
              fastThreads: config.fastThreads,
              quietThreads: Math.min(config.quietThreads, config.threads),
              slowNice: config.slowNice,
              workerHeapMb: config.workerHeapMb,
              recycleCalls: config.recycleCalls,
              recycleHeapMb: config.recycleHeapMb,
              loadTimeoutMs: config.dispatchLoadTimeoutMs,
            },
            sink,
            progress,
          ),
  );
}
