/**
 * The one table of JSON-RPC error codes and the small error hierarchy that
 * carries them. Errors are data: they cross the worker boundary as plain
 * `{code, message}` objects (see `toWire`), never as thrown class instances.
 */

/** Every code dispatchd puts in `error.code` (SPEC §2). */
export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  Internal: -32001,
  DaemonUnreachable: -32002,
  Overloaded: -32003,
  DeadlineExceeded: -32004,
  Timeout: -32005,
} as const;

/** A JSON-RPC error object as it appears on the wire. */
export interface WireError {
  code: number;
  message: string;
  data?: unknown;
}

/**
 * The bounds a refusal can name in `error.data.bound` (docs/protocol.md,
 * "Error data"): each is an option, and `limit` is its value.
 */
export type BoundName =
  | 'max_line_bytes'
  | 'max_depth'
  | 'max_method_bytes'
  | 'max_batch_length'
  | 'max_reply_bytes'
  | 'max_result_bytes'
  | 'max_queue'
  | 'max_connections'
  | 'call_deadline_ms';

/** `error.data` of a refusal for a bound: `{bound, limit}` (plus `retry_after_ms` for -32003). */
export interface BoundData {
  readonly bound: BoundName;
  readonly limit: number;
}

/** The member of a request that made it invalid (`error.data.invalid` of a -32600 that is not a bound). */
export type InvalidPart = 'request' | 'jsonrpc' | 'id' | 'method' | 'params' | 'batch';

/** Why the client library or CLI gave up (-32002, -32005): `error.data.client`. */
export type ClientKind = 'connect_failed' | 'connect_timeout' | 'connection_lost' | 'closed' | 'timeout';

/** `error.data` of a bound refusal. */
export function boundData(bound: BoundName, limit: number): BoundData {
  return { bound, limit };
}

/** The bound an error's data names, if it names one. */
export function boundOf(data: unknown): BoundData | null {
  if (data === null || typeof data !== 'object') return null;
  const d = data as { bound?: unknown; limit?: unknown };
  return typeof d.bound === 'string' && typeof d.limit === 'number' ? { bound: d.bound as BoundName, limit: d.limit } : null;
}

/** Base class: an error with a JSON-RPC code. */
export class RpcError extends Error {
  readonly code: number;
  readonly data: unknown;
  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.code = code;
    this.data = data;
  }
  override get name(): string {
    return 'RpcError';
  }
  toJSON(): WireError {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }

  /**
   * The one way to read an error off the wire: the `error` member of a
   * JSON-RPC response (anything: a peer may send garbage) as an RpcError
   * with its code, message and data. A malformed error object still gives
   * an RpcError (-32001), so a caller always has something to reject with.
   */
  static fromWire(error: unknown): RpcError {
    if (error === null || typeof error !== 'object' || Array.isArray(error)) {
      return new RpcError(ErrorCode.Internal, 'malformed error in a response', { malformed: true });
    }
    const e = error as { code?: unknown; message?: unknown; data?: unknown };
    const code = typeof e.code === 'number' && Number.isInteger(e.code) ? e.code : ErrorCode.Internal;
    return new RpcError(code, typeof e.message === 'string' ? e.message : 'error', e.data);
  }
}

/** The error of a JSON-RPC response object (`{"jsonrpc":"2.0","error":…}`), or null if it is not one. */
export function errorOfResponse(response: unknown): RpcError | null {
  if (response === null || typeof response !== 'object' || !('jsonrpc' in response) || !('error' in response)) return null;
  return RpcError.fromWire((response as { error: unknown }).error);
}

/** Thrown by a dispatch module for a method it does not serve (-32601). */
export class MethodNotFoundError extends RpcError {
  readonly method: string;
  constructor(method: string) {
    super(ErrorCode.MethodNotFound, `unknown method '${method}'`);
    this.method = method;
  }
  override get name(): string {
    return 'MethodNotFoundError';
  }
}

/** Thrown by a dispatch module when params are wrong (-32602). */
export class InvalidParamsError extends RpcError {
  constructor(message: string, data?: unknown) {
    super(ErrorCode.InvalidParams, message, data);
  }
  override get name(): string {
    return 'InvalidParamsError';
  }
}

/** The pool queue is full: the caller should retry later (-32003). */
export class OverloadedError extends RpcError {
  constructor(message = 'server overloaded: pool queue is full, retry later', data?: unknown) {
    super(ErrorCode.Overloaded, message, data);
  }
  override get name(): string {
    return 'OverloadedError';
  }
}

/** A call ran past its deadline; its worker was replaced (-32004). */
export class DeadlineExceededError extends RpcError {
  constructor(ms: number) {
    super(ErrorCode.DeadlineExceeded, `call exceeded its deadline of ${ms} ms`);
  }
  override get name(): string {
    return 'DeadlineExceededError';
  }
}

/**
 * Client side: the daemon's socket died or could not be reached (-32002).
 * `data.client` says which (`connect_failed` with `errno`, `connect_timeout`,
 * `connection_lost`, `closed`), so a program never reads the message.
 */
export class DaemonUnreachableError extends RpcError {
  constructor(detail: string, kind: Exclude<ClientKind, 'timeout'> = 'connection_lost', errno?: string) {
    super(ErrorCode.DaemonUnreachable, `daemon_unreachable: ${detail}`, errno === undefined ? { client: kind } : { client: kind, errno });
  }
  override get name(): string {
    return 'DaemonUnreachableError';
  }
}

/**
 * Client side: the daemon was reached but did not answer within the
 * caller's own time limit (-32005, `data: {client: "timeout", timeout_ms}`).
 * Not a sign that no daemon runs: the call may still be running there.
 */
export class CallTimeoutError extends RpcError {
  constructor(ms: number) {
    super(ErrorCode.Timeout, `timeout: no answer within ${ms} ms`, { client: 'timeout', timeout_ms: ms });
  }
  override get name(): string {
    return 'CallTimeoutError';
  }
}

/**
 * Returns `params[key]`, or throws the -32602 error the original daemon gives
 * for a missing required param: `missing required param: '<key>'`.
 */
export function requireParam<T = unknown>(params: unknown, key: string): T {
  if (params === null || typeof params !== 'object' || !(key in params)) {
    throw new InvalidParamsError(`missing required param: '${key}'`);
  }
  return (params as Record<string, unknown>)[key] as T;
}

/** Truncates a message so one bad call can't produce a megabyte error line. */
function clip(message: string, max = 2000): string {
  return message.length > max ? `${message.slice(0, max)}…` : message;
}

/**
 * Maps anything a dispatch function threw to a wire error (SPEC §2, §5):
 * an integer `code` is kept, a `TypeError` is -32602, anything else -32001.
 */
export function toWire(err: unknown): WireError {
  if (err !== null && typeof err === 'object') {
    const e = err as { code?: unknown; message?: unknown; data?: unknown };
    const message = clip(typeof e.message === 'string' ? e.message : String(err));
    if (typeof e.code === 'number' && Number.isInteger(e.code)) {
      const out: WireError = { code: e.code, message };
      if (e.data !== undefined) out.data = e.data;
      return out;
    }
    if (err instanceof TypeError) return { code: ErrorCode.InvalidParams, message };
    return { code: ErrorCode.Internal, message };
  }
  return { code: ErrorCode.Internal, message: clip(String(err)) };
}
