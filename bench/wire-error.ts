/**
 * The bench's one place that reads a JSON-RPC error off the wire: the code
 * of a response's `error`, or null when it has none. Kept small and alone so
 * it can be swapped for the project's shared reader.
 */

/** The integer `error.code` of a parsed response; null when it is not an error; 0 when the error has no integer code. */
export function errorCode(msg: unknown): number | null {
  if (typeof msg !== 'object' || msg === null || !('error' in msg)) return null;
  const err = (msg as { error: unknown }).error;
  if (err === undefined || err === null) return null;
  const code = typeof err === 'object' ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'number' && Number.isInteger(code) ? code : 0;
}

/** The error code of a raw response line (parsed only when it is an error). */
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
