/** The pool's own failures, as outcomes (docs/protocol.md, "Error data"). Data only. */
import type { Outcome } from '../contract/contract.js';

/** error.data of the pool's own failures (docs/protocol.md, "Error data"). */
export const STOPPED = { failure: 'stopped' } as const;
export const LOAD_FAILED = { failure: 'load_failed' } as const;

export function failure(code: number, message: string, data?: unknown): Outcome {
  return { ok: false, error: data === undefined ? { code, message } : { code, message, data }, runMs: 0 };
}
