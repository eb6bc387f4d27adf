/**
 * The bench's error codes, read off the wire with the project's one decoder
 * (`errorOfResponse`, shared with the client library and the CLI), and
 * counted per code.
 */
import { errorOfResponse } from '../src/contract/errors.js';

/** The `error.code` of a parsed response; null when it is not an error (a malformed error reads as -32001). */
export function errorCode(msg: unknown): number | null {
  return errorOfResponse(msg)?.code ?? null;
}

/** The error code of a raw response line (parsed only when it is an error); 0 for a line that is not JSON. */
export function lineErrorCode(line: string): number | null {
  try {
    return errorCode(JSON.parse(line));
  } catch {
    return 0;
  }
}

/** Adds `from` into `into` (error code → count). */
export function addCodes(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
}
