/**
 * The piscina worker entry: takes a native guard slot, starts importing the
 * dispatch module as soon as the thread starts (threads start in parallel),
 * then runs each task through the runtime. Results of calls go to the main
 * thread over parentPort as each call finishes. Pure: no sockets, no logging.
 *
 * A module that fails to load is a fact about this thread, not a verdict:
 * the thread says so (ThreadNews), answers the ping with the error and each
 * calls task with NotLoaded (no call started, so they can run elsewhere),
 * and retires after a backoff that grows with the failures in a row, so a
 * module that keeps failing does not spin threads.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { ErrorCode } from '../src/errors.js';
import type { CallResult, Flush, NotLoaded, Outcome, PingReply, Progress, Task, ThreadNews } from '../src/contract.js';
import { installGuard } from './guard.js';
import { loadDispatch, loadErrorMessage, ping, runCalls, runMaintain, setGuardSlot, type LoadedModule } from './runtime.js';

const { dispatchUrl, progress } = workerData as { dispatchUrl: string; progress: Progress };

/** Retire after a failed load: 25 ms, doubling with each failure in a row, at most 2 s. */
function backoffMs(failuresInARow: number): number {
  return Math.min(2000, 25 * 2 ** Math.min(7, Math.max(0, failuresInARow - 1)));
}

setGuardSlot(installGuard(progress));
const loads = new Int32Array(progress.loads);

function post(r: CallResult | Flush | ThreadNews): void {
  parentPort?.postMessage(r);
}

let loadError: string | undefined;
const loaded: Promise<LoadedModule | null> = loadDispatch(dispatchUrl).then(
  (mod) => {
    Atomics.store(loads, 0, 0);
    Atomics.add(loads, 1, 1);
    post({ thread: 'loaded', id: threadId });
    return mod;
  },
  (err: unknown) => {
    loadError = loadErrorMessage(err);
    const inARow = Atomics.add(loads, 0, 1) + 1;
    post({ thread: 'failed', id: threadId, error: loadError });
    setTimeout(() => process.exit(0), backoffMs(inARow));
    return null;
  },
);

export default async function run(task: Task): Promise<Outcome | PingReply | CallResult | NotLoaded | null> {
  // Idle, in JavaScript: exiting here is safe. The pool's task is rejected as the thread exits.
  if (task.op === 'retire') process.exit(0);
  const mod = await loaded;
  if (mod === null) {
    const message = `dispatch module failed to load: ${loadError ?? 'unknown error'}`;
    if (task.op === 'calls') return { notLoaded: message };
    return { ok: false, error: { code: ErrorCode.Internal, message: task.op === 'ping' ? (loadError ?? message) : message }, runMs: 0 };
  }
  switch (task.op) {
    case 'ping':
      return ping(mod);
    case 'maintain':
      return runMaintain(mod, task.ctx, task.maxResultBytes);
    case 'calls':
      return runCalls(mod, task, progress, post);
  }
}
