/**
 * The run's stable, versioned summary (summary.json): what ran, how each
 * scenario ended, every named figure, every check and the exit code. Tools
 * read this file; results.json holds the full, unversioned detail.
 */
import type { Checked } from './assertions.js';

/** Bumped when a field changes meaning or goes away (adding one does not). */
export const SUMMARY_VERSION = 1;

export const EXIT = {
  /** Every check held. */
  ok: 0,
  /** A scenario failed to run; the others' results are written. */
  scenarioFailed: 1,
  /** A bad command line, an unknown figure, a target that is not there, a scenario that cannot run against it. */
  usage: 2,
  /** A check failed: an --assert, errors == 0, or a headline target. */
  checkFailed: 3,
} as const;

export interface ScenarioOutcome {
  readonly status: 'ok' | 'failed' | 'refused';
  readonly seconds: number;
  readonly error?: string;
}

export interface SummaryCheck extends Checked {
  /** `assert` (--assert), `errors` (the implicit errors == 0), `target` (a headline's target). */
  readonly kind: 'assert' | 'errors' | 'target';
}

export interface Summary {
  readonly schema: 'dispatchd-bench-summary';
  readonly version: typeof SUMMARY_VERSION;
  readonly startedAt: string;
  readonly seconds: number;
  readonly machine: { readonly cpus: number; readonly node: string; readonly platform: string };
  readonly targets: readonly { readonly name: string; readonly kind: string; readonly startMs: number | null }[];
  readonly scenarios: Readonly<Record<string, ScenarioOutcome>>;
  readonly figures: Readonly<Record<string, number>>;
  /** Error answers by JSON-RPC code, over the hol and throughput calls of the run. */
  readonly errorCodes: Readonly<Record<string, number>>;
  readonly checks: readonly SummaryCheck[];
  readonly exitCode: number;
}

/** The exit code of a finished run. */
export function exitCode(scenarios: Readonly<Record<string, ScenarioOutcome>>, checks: readonly SummaryCheck[]): number {
  const outcomes = Object.values(scenarios);
  if (outcomes.some((o) => o.status === 'failed')) return EXIT.scenarioFailed;
  if (outcomes.some((o) => o.status === 'refused')) return EXIT.usage;
  if (checks.some((c) => !c.ok)) return EXIT.checkFailed;
  return EXIT.ok;
}
