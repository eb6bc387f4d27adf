/**
 * One call of each kind before a scenario measures anything.
 */
import { errorOfResponse } from '../src/contract/errors.js';
import { LoadConn } from './load.js';
import { nextParams, showCall, type CallSpec } from './calls.js';
import { BenchUsageError } from './failures.js';

/**
 * One call of each kind before anything is measured: a target that answers
 * the chosen call with an error cannot be measured with it, and says so
 * rather than reporting its errors as throughput.
 */
export async function preflight(socket: string, target: string, calls: readonly (readonly [string, CallSpec])[]): Promise<void> {
  const c = await LoadConn.open(socket);
  try {
    for (const [flag, call] of calls) {
      const { msg } = await c.call(call.method, nextParams(call));
      const error = errorOfResponse(msg);
      if (error !== null) {
        const message = error.message.slice(0, 120);
        throw new BenchUsageError(`${target} answered ${flag} '${showCall(call)}' with error ${error.code} (${message}); choose a call it serves: ${flag} 'METHOD {json params}'`);
      }
    }
  } finally {
    c.close();
  }
}
