/**
 * The built-in dispatch module served when no --dispatch is given: a few
 * small methods that prove the daemon is alive end to end.
 */
import { MethodNotFoundError, requireParam } from '../src/errors.js';

export function dispatch(method: string, params: unknown): unknown {
  switch (method) {
    case 'ping':
      return 'pong';
    case 'echo':
      return params;
    case 'sleep': {
      const ms = requireParam<number>(params, 'ms');
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new TypeError("'ms' must be a non-negative number");
      // Blocks this worker thread on purpose, like a slow synchronous call.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.min(ms, 60_000));
      return { slept_ms: ms };
    }
    default:
      throw new MethodNotFoundError(method);
  }
}
