/**
 * The calls a scenario sends, chosen on the command line as
 * `'method {json params}'` (params optional): `--slow-call 'sleep {"ms":50}'`.
 * `{seq}` in the params text becomes a sequence number, six digits, fresh
 * for every call of the run, so a server that caches by params still does
 * the work: `'primes_below {"n":3{seq}}'` sends n = 3000001, 3000002, …
 */
import { BenchUsageError } from './failures.js';

export interface CallSpec {
  readonly method: string;
  /** Sent as `params` when defined (an object or an array). */
  readonly params?: unknown;
  /** The params text holding `{seq}`, filled in per call (`nextParams`). */
  readonly template?: string;
}

const SEQ = '{seq}';
let seq = 0;
const fill = (template: string, n: number): string => template.replaceAll(SEQ, String(n % 1_000_000).padStart(6, '0'));

/** The params of the call's next send: its fixed params, or its template with the next sequence number. */
export function nextParams(call: CallSpec): unknown {
  return call.template === undefined ? call.params : JSON.parse(fill(call.template, ++seq));
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
    params = JSON.parse(fill(rest, 0));
  } catch (err) {
    throw new BenchUsageError(`${flag}: params of '${method}' are not JSON (${(err as Error).message})`);
  }
  if (typeof params !== 'object' || params === null) throw new BenchUsageError(`${flag}: params of '${method}' must be an object or an array`);
  return rest.includes(SEQ) ? { method, params, template: rest } : { method, params };
}

/** How a call is shown in reports: `sleep {"ms":50}`. */
export function showCall(c: CallSpec): string {
  return c.params === undefined ? c.method : `${c.method} ${JSON.stringify(c.params)}`;
}
