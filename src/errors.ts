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
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A JSON-RPC error object as it appears on the wire. */
export interface WireError {
  code: number;
  message: string;
  data?: unknown;
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

/** Client side: the daemon's socket died or could not be reached (-32002). */
export class DaemonUnreachableError extends RpcError {
  constructor(detail: string) {
    super(ErrorCode.DaemonUnreachable, `daemon_unreachable: ${detail}`);
  }
  override get name(): string {
    return 'DaemonUnreachableError';
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
