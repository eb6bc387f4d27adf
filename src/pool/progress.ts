/**
 * The progress record the pool shares with its threads: one region of
 * `maxBatch` call slots per thread, the results arena, the native-code
 * guards, and the main thread's views of it. Allocation only; the layout is
 * the contract's (RESULT_FIELDS, GUARD_FIELDS), what the slots mean is
 * `batch.ts`'s.
 */
import { GUARD_FIELDS, RESULT_FIELDS, type Progress } from '../contract/contract.js';
import type { ProgressViews } from './batch.js';
import { guardSlots } from './guards.js';

/** Bytes of the results arena per thread: finished calls' results wait here until read (larger ones travel as messages). */
export const ARENA_BYTES = 64 * 1024;

/** The shared record for `regions` threads of `maxBatch` slots each. */
export function createProgress(regions: number, maxBatch: number): Progress {
  const slots = regions * maxBatch;
  return {
    states: new SharedArrayBuffer(slots * 4),
    starts: new SharedArrayBuffer(slots * 8),
    results: new SharedArrayBuffer(slots * RESULT_FIELDS * 8),
    lengths: new SharedArrayBuffer(slots * 4),
    arena: new SharedArrayBuffer(regions * ARENA_BYTES),
    guards: new SharedArrayBuffer(guardSlots(regions) * GUARD_FIELDS * 4),
    runners: new SharedArrayBuffer(regions * 4),
  };
}

/** The main thread's typed views of `progress`. */
export function viewsOf(progress: Progress): ProgressViews {
  return {
    states: new Int32Array(progress.states),
    starts: new Float64Array(progress.starts),
    results: new Float64Array(progress.results),
    lengths: new Int32Array(progress.lengths),
    arena: Buffer.from(progress.arena),
  };
}
