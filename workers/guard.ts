/**
 * This thread's side of the native guard (`guardNative`, src/contract.ts):
 * takes a guard slot as the thread starts and installs the worker-global
 * that modules call around native code. The main thread reads the slot to
 * know when terminating this thread is safe. Pure: no sockets, no logging.
 */
import { threadId } from 'node:worker_threads';
import { GUARD, GUARD_FIELDS, Guard, type Progress } from '../src/contract/contract.js';

const never = new Int32Array(new SharedArrayBuffer(4));
/** Blocks until the main thread terminates this thread (Atomics.wait is where termination is always safe). */
function awaitTermination(): never {
  // A word of its own that nothing changes: the slot's own word may be freed or reused meanwhile.
  for (;;) Atomics.wait(never, 0, 0);
}

/**
 * Takes a free guard slot for this thread and installs `guardNative`.
 * Returns the slot (or -1 when every slot is taken: the guard is then a
 * plain call, as on the main thread).
 */
export function installGuard(progress: Progress): number {
  const words = new Int32Array(progress.guards);
  const slots = words.length / GUARD_FIELDS;
  let slot = -1;
  for (let i = 0; i < slots; i++) {
    if (Atomics.compareExchange(words, i * GUARD_FIELDS, Guard.Free, Guard.Js) === Guard.Free) {
      Atomics.store(words, i * GUARD_FIELDS + 1, threadId);
      slot = i;
      break;
    }
  }
  if (slot < 0) return -1;
  const at = slot * GUARD_FIELDS;
  let depth = 0;
  const guard = <T>(fn: () => T): T => {
    if (depth > 0) return fn();
    // Not Js: a stop was asked for (or the slot was freed); never enter native code again.
    if (Atomics.compareExchange(words, at, Guard.Js, Guard.Native) !== Guard.Js) awaitTermination();
    depth++;
    try {
      return fn();
    } finally {
      depth--;
      if (Atomics.compareExchange(words, at, Guard.Native, Guard.Js) !== Guard.Native) {
        // The main thread wants this thread stopped and waited for native code to return: this
        // thread stops itself now, in JavaScript, where that is safe (its task may already have
        // ended, and an idle thread must not take another call).
        Atomics.store(words, at, Guard.Stopping);
        process.exit(0);
      }
    }
  };
  (globalThis as Record<symbol, unknown>)[GUARD] = guard;
  return slot;
}
