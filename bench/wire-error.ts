/**
 * The bench's error codes, read off the wire with the project's one reader
 * (`RpcError.fromWire`, shared with the client library and the CLI), and
 * counted per code.
 */
import { RpcError } from '../src/contract/errors.js';

/** The `error.code` of a parsed response; null when it is not an error (a malformed error reads as -32001). */
export function errorCode(msg: unknown): number | null {
  if (typeof msg !== 'object' || msg === null || !('error' in msg)) return null;
  const err = (msg as { error: unknown }).error;
  if (err === undefined || err === null) return null;
  return RpcError.fromWire(err).code;
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
