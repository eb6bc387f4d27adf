/**
 * The bench's dispatch module: methods of known cost.
 *   echo            returns its params
 *   fresh           returns its params; no lane declared (a method the pool must learn)
 *   sleep {ms}      blocks its thread for ms (not CPU)
 *   spin {ms}       burns CPU for ms of wall-clock time
 *   cpu {iterations} fixed work, so work/s is comparable across thread counts
 *   poison {exit|loop}  kills its worker, or never ends (the poison scenario's attacker)
 */
import { MethodNotFoundError, requireParam } from '../src/contract/errors.js';

export const lanes = { echo: 'fast', sleep: 'slow', spin: 'slow', cpu: 'slow', poison: 'fast' } as const;

export function dispatch(method: string, params: unknown): unknown {
  switch (method) {
    case 'echo':
    case 'fresh':
      return params;
    case 'sleep':
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(requireParam(params, 'ms')));
      return null;
    case 'spin': {
      const end = performance.now() + Number(requireParam(params, 'ms'));
      while (performance.now() < end);
      return null;
    }
    case 'cpu': {
      const n = Number(requireParam(params, 'iterations'));
      let h = 0x811c9dc5;
      for (let i = 0; i < n; i++) h = Math.imul(h ^ i, 0x01000193);
      return h >>> 0;
    }
    case 'poison':
      if ((params as { exit?: boolean }).exit === true) process.exit(1);
      for (;;);
    default:
      throw new MethodNotFoundError(method);
  }
}

/** A maintenance cycle of known cost: 50 ms of CPU. */
export function maintain(): unknown {
  const end = performance.now() + 50;
  while (performance.now() < end);
  return { spun_ms: 50 };
}
