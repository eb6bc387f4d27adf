/**
 * The calls a scenario sends, chosen on the command line as
 * `'method {json params}'` (params optional): `--slow-call 'sleep {"ms":50}'`.
 */
import { BenchUsageError } from './failures.js';

export interface CallSpec {
  readonly method: string;
  /** Sent as `params` when defined (an object or an array). */
  readonly params?: unknown;
}

/** Parses `'method {json}'`; a usage error names the flag. */
export function parseCall(text: string, flag: string): CallSpec {
  const m = /^\s*(\S+)\s*(.*)$/s.exec(text);
  if (!m) throw new BenchUsageError(`${flag}: expected 'METHOD [JSON params]', got '${text}'`);
  const method = m[1] as string;
  const rest = (m[2] as string).trim();
  if (rest === '') return { method };
  let params: unknown;
  try {
    params = JSON.parse(rest);
  } catch (err) {
    throw new BenchUsageError(`${flag}: params of '${method}' are not JSON (${(err as Error).message})`);
  }
  if (typeof params !== 'object' || params === null) throw new BenchUsageError(`${flag}: params of '${method}' must be an object or an array`);
  return { method, params };
}

/** How a call is shown in reports: `sleep {"ms":50}`. */
export function showCall(c: CallSpec): string {
  return c.params === undefined ? c.method : `${c.method} ${JSON.stringify(c.params)}`;
}
