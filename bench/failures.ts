/**
 * The two ways a bench run ends early on purpose, each said in one line:
 * the command line asks for something impossible (exit 2), or the server
 * under test is not there (also exit 2: the target is an option).
 */

/** A bad option, an unknown figure, a scenario that cannot run against the target. */
export class BenchUsageError extends Error {
  override readonly name = 'BenchUsageError';
}

/** The server under test is not there or went away. */
export class TargetError extends Error {
  override readonly name = 'TargetError';
}
