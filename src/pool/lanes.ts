/**
 * The pool's words for where a call runs (docs/pool.md, "Kinds of calls and
 * capacity"); `method-table.ts` learns which one a method is.
 *
 * - `Lane` ('fast' | 'slow'): a set of threads — the fast reserve or the slow
 *   threads. A module may declare a method's lane
 *   (`export const lanes = {m: 'fast' | 'slow'}`); a batch records the lane
 *   it runs on (fast calls spill onto idle slow threads).
 * - `CallKind`: what the method table has learned a method to be, and so
 *   which queue its calls wait in:
 *     fast — average run time at most the threshold (or declared `fast`):
 *            calls travel to a worker in batches;
 *     cpu  — slow and mostly on CPU (CPU time ≥ half of wall time): at most
 *            `cpuThreads` at once, so CPU-bound work never oversubscribes the cores;
 *     wait — slow and mostly waiting (sleep, I/O, a lock): may use every slow
 *            thread, like `asyncio.to_thread`;
 *     new  — never seen: one call probes it, the rest of its first burst waits
 *            briefly for the verdict instead of running one by one.
 * - `RunKind`: the kind a call runs as, which says whose count (fast, cpu or
 *   wait slots) it holds; a new method's probe runs as `wait`.
 */

import type { Lane } from '../contract/contract.js';

/** A set of threads: the fast reserve or the slow threads (declared in the contract: workers read it too). */
export type { Lane };
/** What a method has been learned to be (see above). */
export type CallKind = 'fast' | 'cpu' | 'wait' | 'new';
/** The kind a call runs as: a new method's probe runs as `wait`. */
export type RunKind = Exclude<CallKind, 'new'>;
