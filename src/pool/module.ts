/**
 * The shape of a dispatch module as its author writes it (SPEC §5). Only
 * `dispatch` is required; the worker runtime fills in what is left out.
 */
import type { Lane } from './lanes.js';

export type { Lane };

/** The signature of a dispatch function (SPEC §5): sync or async. */
export type DispatchFn = (method: string, params: unknown) => unknown;

/** What a `--dispatch` module may export. */
export interface DispatchModule {
  /** Runs one call on a worker thread; throw an error with an integer `code` to choose the JSON-RPC error. */
  dispatch: DispatchFn;
  /** One maintenance cycle (`force_rem`, idle sleep); runs on a worker thread. */
  maintain?: (ctx: unknown) => unknown;
  /** Methods whose lane is known in advance; any other is classified by its run time. */
  lanes?: Readonly<Record<string, Lane>>;
}
