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
 * module that keeps failing does not spin threads. A thread also retires
 * after a task when the recycling options say so.
 */
import { getHeapStatistics } from 'node:v8';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { ErrorCode } from '../src/contract/errors.js';
import type { CallResult, Flush, NotLoaded, Outcome, PingReply, Task, ThreadData, ThreadNews } from '../src/contract/contract.js';
import { installGuard } from './guard.js';
import { loadDispatch, loadErrorMessage, ping, runCalls, runMaintain, setGuardSlot, type LoadedModule } from './runtime.js';

const { dispatchUrl, progress, recycleCalls, recycleHeapMb } = workerData as ThreadData;

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
    case 'calls': {
      const last = await runCalls(mod, task, progress, post);
      callsRun += task.calls.length;
      const why = recycleDue();
      if (why === null) return last;
      // Recycling (--recycle-calls, --recycle-heap-mb), measured after a task, never by stopping a
      // call: the last result goes as a message (messages posted before exit arrive; the others are
      // in the arena), then the thread exits here, in JavaScript, before it can take another task.
      if (last !== null) post(last);
      post({ thread: 'recycled', id: threadId, why });
      process.exit(0);
    }
  }
}

let callsRun = 0;

function recycleDue(): 'calls' | 'heap' | null {
  if (recycleCalls > 0 && callsRun >= recycleCalls) return 'calls';
  if (recycleHeapMb > 0 && getHeapStatistics().used_heap_size > recycleHeapMb * 1024 * 1024) return 'heap';
  return null;
}
